"""Reading and writing audio files: the one path for training data and users' audio.

Reading is by span (only the frames asked for leave the disk), channels are
averaged, and the rate is changed by :func:`geolid.audio.resample.resample`; the
format stage (:mod:`geolid.data.format`), inference (:mod:`geolid.inference.api`),
synthesis and the corpus downloads all go through these functions, so a file
becomes the same 16 kHz samples whether it is trained on or classified.

Every problem with a file becomes an :class:`AudioError` that names the file and
says what is wrong and what to do, so a batch can record it and go on. Writing
is atomic (:func:`geolid.utils.fileio.atomic_write`).
"""
from __future__ import annotations

import errno
import io
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

import numpy as np

from geolid.audio.resample import resample, resampled_length
from geolid.utils.fileio import atomic_write

PathLike = Union[str, os.PathLike]

TARGET_SR = 16000
MIN_SECONDS = 0.1
# Sample rates real recordings have: telephony's 8 kHz down to old 2 kHz loggers, up to
# 768 kHz (the highest PCM rate interfaces offer). A header outside this is corrupt or
# crafted: a 200 KB WAV claiming 1 Hz would be read as 27.8 h of audio.
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 768000
# soundfile (format, subtype) per output format; both lossless 16-bit PCM.
FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}
_CONVERT_HINT = "convert it, e.g. `ffmpeg -i INPUT -ac 1 -ar 16000 OUTPUT.wav`"


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
    format: str = ""     # soundfile's container name ("WAV", "FLAC", ...)

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def frames_16k(self) -> int:
        return resampled_length(self.frames, self.sample_rate, TARGET_SR)


# --------------------------------------------------------------------------- files


def audio_extensions() -> Tuple[str, ...]:
    """File extensions of the formats the installed libsndfile reads (lower case)."""
    import soundfile as sf

    exts = {f".{name.lower()}" for name in sf.available_formats()}
    exts |= {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".sph"}
    exts -= {".raw"}  # headerless: the rate and encoding would be guesses
    return tuple(sorted(exts))


_SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                  (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def check_file(path: PathLike) -> None:
    """Raise :class:`AudioError` unless ``path`` is a non-empty regular file we may read.

    Each reason is told apart (a missing file, a broken link, a link loop, no
    permission, a folder, a pipe or device, an empty file), because they are fixed
    in different ways; libsndfile would call most of them "System error".
    """
    src = str(path)
    try:
        st = os.stat(src)
    except FileNotFoundError:
        if os.path.islink(src):
            raise AudioError(src, f"broken symbolic link (its target '{os.readlink(src)}' does "
                                  "not exist); fix or remove the link") from None
        raise AudioError(src, "file not found") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise AudioError(src, "symbolic link loop (the link leads back to itself); point "
                                  "it at the audio file") from None
        if e.errno == errno.EACCES:
            raise AudioError(src, "permission denied on a folder of its path; make the folders "
                                  "searchable (chmod a+x) for this user") from None
        raise AudioError(src, f"cannot access the file ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(src, "is a folder, not an audio file")
    for is_kind, kind in _SPECIAL_FILES:
        if is_kind(st.st_mode):
            raise AudioError(src, f"is {kind}, not a regular file; audio is read by seeking in "
                                  "it, so save the stream to a file first")
    try:
        with open(src, "rb"):
            pass
    except PermissionError:
        raise AudioError(src, "permission denied: this user may not read the file; make it "
                              "readable (chmod a+r) or run as its owner") from None
    except OSError as e:
        raise AudioError(src, f"cannot open the file ({e.strerror})") from None
    if st.st_size == 0:
        raise AudioError(src, "empty file (0 bytes)")


def probe(path: PathLike) -> AudioInfo:
    """Header of an audio file (no duration check); problems raise :class:`AudioError`."""
    import soundfile as sf

    check_file(path)
    src = str(path)
    try:
        info = sf.info(src)
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError
        raise _unreadable(src, e) from None
    check_sample_rate(src, info.samplerate, "header sample rate")
    return AudioInfo(src, int(info.frames), int(info.samplerate), int(info.channels), info.format)


def audio_info(path: PathLike) -> AudioInfo:
    """Header of a user's file; empty or too-short files are errors already here."""
    info = probe(path)
    check_duration(info.path, info.frames, info.sample_rate)
    return info


def check_sample_rate(source: str, sample_rate, what: str = "sample rate") -> None:
    """Raise :class:`AudioError` unless ``sample_rate`` is one a real recording can have
    (:data:`MIN_SAMPLE_RATE` to :data:`MAX_SAMPLE_RATE` Hz)."""
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise AudioError(source, f"invalid sample rate {sample_rate!r}") from None
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(source, f"{what} {rate:.10g} Hz, which no real recording has "
                                 f"(allowed: {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz): the header "
                                 f"is corrupt or the rate is wrong; {_CONVERT_HINT}")


def check_duration(source: str, frames: int, sample_rate: float,
                   min_seconds: float = MIN_SECONDS) -> None:
    if frames <= 0:
        raise AudioError(source, "empty audio (no samples)")
    if frames / sample_rate < min_seconds:
        raise AudioError(source, f"too short: {frames / sample_rate:.3f} s < {min_seconds} s "
                                 "(language ID needs speech)")


def read_frames(path: PathLike, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
    """Native-rate frames ``[start, stop)`` as float32 ``(frames, channels)``.

    Only that span is read from disk.
    """
    import soundfile as sf

    try:
        data, _ = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as e:
        raise _unreadable(str(path), e) from None
    return data


def read_blocks(path: PathLike, blocksize: int) -> Iterator[np.ndarray]:
    """The whole file as consecutive float32 ``(frames, channels)`` blocks (streaming)."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            yield from f.blocks(blocksize=blocksize, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as e:
        raise _unreadable(str(path), e) from None


def decode(data: bytes, source: str) -> Tuple[np.ndarray, int]:
    """An audio file held in memory -> float32 ``(frames, channels)`` and its rate; an
    unreadable one raises :class:`AudioError` with the message a file would get."""
    import soundfile as sf

    if not data:
        raise AudioError(source, "empty file (0 bytes)")
    buf = io.BytesIO(data)
    try:
        x, sr = sf.read(buf, dtype="float32", always_2d=True)
    except Exception as e:
        # libsndfile names the buffer by its repr; say the source, as for a file
        raise AudioError(source, f"unreadable audio ({_first_line(e).replace(repr(buf), repr(source))}); "
                                 f"{_CONVERT_HINT}") from None
    check_sample_rate(source, sr, "header sample rate")
    return x, int(sr)


def read_span(info: AudioInfo, start: int = 0, stop: Optional[int] = None):
    """Samples ``[start, stop)`` (16 kHz indices) of a file as a 1-D float32 tensor.

    Only that span (plus a sample at each end) is read from disk.
    """
    stop = info.frames_16k if stop is None else min(stop, info.frames_16k)
    ratio = info.sample_rate / TARGET_SR
    n0 = int(math.floor(start * ratio))
    n1 = min(info.frames, int(math.ceil(stop * ratio)))
    frames = read_frames(info.path, n0, n1)
    if len(frames) == 0 and n1 > n0:
        raise AudioError(info.path, f"ends at {n0 / info.sample_rate:.2f} s, before the "
                                    f"{info.duration:.2f} s its header announces (a truncated file); "
                                    f"{_CONVERT_HINT}")
    # a span (the last block of a file, say) may be shorter than an input may be
    wav = to_mono_16k(frames, info.sample_rate, info.path, channels_last=True, min_seconds=0.0)
    return wav[: stop - start]


def load_audio(path: PathLike):
    """The whole file as a 1-D float32 tensor at 16 kHz (for short files)."""
    return read_span(audio_info(path))


# --------------------------------------------------------------------------- waveforms


def to_mono(x: np.ndarray) -> np.ndarray:
    """``(frames,)`` or ``(frames, channels)`` float audio -> ``(frames,)`` (channel mean)."""
    x = np.asarray(x, dtype=np.float32)
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def to_mono_16k(wav, sample_rate: float, source: str = "<array>",
                channels_last: Optional[bool] = None, min_seconds: float = MIN_SECONDS):
    """Validate, downmix and resample a waveform (numpy or torch, 1-D or 2-D) to 16 kHz.

    A 2-D input is (channels, samples) for torch and (samples, channels) for
    numpy (soundfile's order) unless ``channels_last`` says otherwise; when the
    order is ambiguous the shorter axis is taken as channels. Downmix and
    resampling are those of the format stage (:func:`to_mono`, :func:`resample`);
    a torch result goes back to the input's device.
    """
    import torch

    if sample_rate is None:
        raise AudioError(source, "a waveform needs its sample rate (pass sample_rate=...)")
    check_sample_rate(source, sample_rate)
    device = wav.device if isinstance(wav, torch.Tensor) else None
    if device is not None:
        wav = wav.detach().cpu()
        x = (wav.float() if torch.is_floating_point(wav) else wav).numpy()  # bf16 has no numpy
    else:
        x = np.asarray(wav)
    if x.dtype in (np.int16, np.int32):  # PCM integers -> [-1, 1]
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    if not np.issubdtype(x.dtype, np.floating):
        raise AudioError(source, f"waveform dtype {x.dtype} is not audio (use float or int16)")
    if x.ndim == 2:
        if channels_last is None:
            channels_last = device is None
            # a channel axis longer than the time axis is a transposed input
            if x.shape[1 if channels_last else 0] > x.shape[0 if channels_last else 1]:
                channels_last = not channels_last
        x = to_mono(x if channels_last else x.T)
    elif x.ndim != 1:
        raise AudioError(source, "waveform must be 1-D or 2-D (channels x samples), got shape "
                                 f"{tuple(x.shape)}")
    x = np.asarray(x, dtype=np.float32)
    check_duration(source, x.size, float(sample_rate), min_seconds)
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise AudioError(source, f"contains {bad} NaN/inf sample(s); the file is corrupt or was "
                                 "written from invalid floats")
    y = torch.from_numpy(resample(x, sample_rate, TARGET_SR).copy())
    return y if device is None or device.type == "cpu" else y.to(device)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] -> int16, clipped (resampling may overshoot full scale)."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(
        np.int16)


def write_pcm16(path: PathLike, x: np.ndarray, sample_rate: int, audio_format: str = "wav") -> Path:
    """Write float audio ``(frames,)`` or ``(frames, channels)`` as 16-bit ``wav``/``flac``.

    Atomic (:func:`geolid.utils.fileio.atomic_write`): a file that exists is
    complete. Not fsynced: every reader of these files checks the header and
    redoes a file a crash left empty, and a sync per utterance would dominate
    the format stage's time.
    """
    import soundfile as sf

    if audio_format not in FORMATS:
        raise ValueError(f"audio format {audio_format!r} not supported; use one of {sorted(FORMATS)}")
    fmt, subtype = FORMATS[audio_format]
    with atomic_write(path, "wb", fsync=False) as f:
        sf.write(f, to_pcm16(x), int(sample_rate), format=fmt, subtype=subtype)
    return Path(path)


def _unreadable(source: str, e: BaseException) -> AudioError:
    return AudioError(source, f"unreadable audio ({_first_line(e)}); {_CONVERT_HINT}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
