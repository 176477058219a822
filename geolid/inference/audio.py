"""Reading people's audio: any format soundfile reads, as 16 kHz mono float32.

Every problem with an input becomes an :class:`AudioError` that names the input
and says what to do, so a batch can record it and go on. Files are read by
span (:func:`read_span`) so that long recordings are never loaded whole.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

TARGET_SR = 16000
MIN_SECONDS = 0.1
_CONVERT_HINT = ("convert it, e.g. `ffmpeg -i INPUT -ac 1 -ar 16000 OUTPUT.wav`")


class AudioError(ValueError):
    """An input that cannot be used; ``source`` names it, the message says why."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class AudioInfo:
    """What the header says, before any sample is read."""

    path: str
    frames: int          # at the native rate
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def frames_16k(self) -> int:
        return int(math.ceil(self.frames * TARGET_SR / self.sample_rate))


def audio_extensions() -> Tuple[str, ...]:
    """File extensions of the formats the installed libsndfile reads (lower case)."""
    import soundfile as sf

    exts = {f".{name.lower()}" for name in sf.available_formats()}
    exts |= {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".sph"}
    exts -= {".raw"}  # headerless: the rate and encoding would be guesses
    return tuple(sorted(exts))


def audio_info(path: Union[str, os.PathLike]) -> AudioInfo:
    """Header of ``path``; empty or too-short files are errors already here."""
    import soundfile as sf

    src = str(path)
    if not Path(src).exists():
        raise AudioError(src, "file not found")
    if Path(src).is_dir():
        raise AudioError(src, "is a folder, not an audio file")
    if Path(src).stat().st_size == 0:
        raise AudioError(src, "empty file (0 bytes)")
    try:
        info = sf.info(src)
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError
        raise AudioError(src, f"unreadable audio ({_first_line(e)}); {_CONVERT_HINT}") from None
    info = AudioInfo(src, int(info.frames), int(info.samplerate), int(info.channels))
    check_duration(src, info.frames, info.sample_rate)
    return info


def check_duration(source: str, frames: int, sample_rate: int) -> None:
    if frames <= 0:
        raise AudioError(source, "empty audio (no samples)")
    if frames / sample_rate < MIN_SECONDS:
        raise AudioError(source, f"too short: {frames / sample_rate:.3f} s < {MIN_SECONDS} s "
                                 "(language ID needs speech)")


def read_span(info: AudioInfo, start: int = 0, stop: Optional[int] = None):
    """Samples ``[start, stop)`` (16 kHz indices) of a file as a 1-D float32 tensor.

    Only that span (plus a few native samples) is read from disk.
    """
    import soundfile as sf

    stop = info.frames_16k if stop is None else min(stop, info.frames_16k)
    ratio = info.sample_rate / TARGET_SR
    n0 = int(math.floor(start * ratio))
    n1 = min(info.frames, int(math.ceil(stop * ratio)))
    try:
        with sf.SoundFile(info.path) as f:
            if n0:
                f.seek(n0)
            data = f.read(n1 - n0, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioError(info.path, f"unreadable audio ({_first_line(e)}); {_CONVERT_HINT}") from None
    wav = to_mono_16k(data, info.sample_rate, info.path, channels_last=True)
    return wav[: stop - start]


def load_audio(path: Union[str, os.PathLike]):
    """The whole file as a 1-D float32 tensor at 16 kHz (for short files)."""
    return read_span(audio_info(path))


def to_mono_16k(wav, sample_rate: int, source: str = "<array>", channels_last: Optional[bool] = None):
    """Validate, downmix and resample a waveform (numpy or torch, 1-D or 2-D).

    A 2-D input is (channels, samples) for torch and (samples, channels) for
    numpy (soundfile's order) unless ``channels_last`` says otherwise; when the
    order is ambiguous the shorter axis is taken as channels. The result stays on
    the input's device (torch) so GPU inputs need no round trip.
    """
    import torch

    if sample_rate is None:
        raise AudioError(source, "a waveform needs its sample rate (pass sample_rate=...)")
    if int(sample_rate) <= 0:
        raise AudioError(source, f"invalid sample rate {sample_rate}")
    is_torch = isinstance(wav, torch.Tensor)
    x = wav if is_torch else torch.from_numpy(np.ascontiguousarray(np.asarray(wav)))
    if x.dtype in (torch.int16, torch.int32):  # PCM integers -> [-1, 1]
        x = x.float() / float(torch.iinfo(x.dtype).max + 1)
    if not torch.is_floating_point(x):
        raise AudioError(source, f"waveform dtype {x.dtype} is not audio (use float or int16)")
    x = x.float()
    if x.dim() == 2:
        if channels_last is None:
            channels_last = not is_torch
            # a channel axis longer than the time axis is a transposed input
            if x.size(1 if channels_last else 0) > x.size(0 if channels_last else 1):
                channels_last = not channels_last
        x = x.mean(dim=1 if channels_last else 0)
    elif x.dim() != 1:
        raise AudioError(source, f"waveform must be 1-D or 2-D (channels x samples), got shape {tuple(x.shape)}")
    check_duration(source, x.numel(), int(sample_rate))
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise AudioError(source, f"contains {bad} NaN/inf sample(s); the file is corrupt or was "
                                 "written from invalid floats")
    if int(sample_rate) != TARGET_SR:
        import torchaudio.functional as AF

        x = AF.resample(x, int(sample_rate), TARGET_SR)
    return x.contiguous()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
