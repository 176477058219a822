"""Audio in geolid: one way to read, downmix, resample and write.

* :mod:`geolid.audio.io`: read by span, downmix, errors that name the fix, atomic
  16-bit writing;
* :mod:`geolid.audio.resample`: the one resampler (soxr; why: bench/resample.py).

Training data (the format stage), users' audio (inference), synthesis and the
corpus downloads all use these functions.
"""
from geolid.audio.io import (FORMATS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, MIN_SECONDS, TARGET_SR,
                             AudioError, AudioInfo, audio_extensions, audio_info, check_duration,
                             check_file, check_sample_rate, decode, load_audio, probe, read_blocks,
                             read_frames, read_span, to_mono, to_mono_16k, to_pcm16, write_pcm16)
from geolid.audio.resample import resample, resampled_length

__all__ = ["FORMATS", "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE", "MIN_SECONDS", "TARGET_SR",
           "AudioError", "AudioInfo", "audio_extensions", "audio_info", "check_duration",
           "check_file", "check_sample_rate", "decode", "load_audio", "probe", "read_blocks",
           "read_frames", "read_span", "resample", "resampled_length", "to_mono", "to_mono_16k",
           "to_pcm16", "write_pcm16"]
