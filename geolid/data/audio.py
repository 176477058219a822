"""Waveform helpers for the format stage: mono downmix, resampling, 16-bit writing.

Resampling uses ``soxr`` (a dependency of librosa, so normally present) and falls
back to ``torchaudio.functional.resample``. Either way the output length is made
exactly ``round(len(x) * new_sr / orig_sr)`` samples (the resamplers differ by a
sample at most), so sample counts are predictable and identical across machines.

``orig_sr`` may be fractional: the speed perturbation plays a recording as if it
had been sampled at ``sr * factor`` (see :mod:`geolid.data.speed_perturb`).
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Union

import numpy as np

PathLike = Union[str, os.PathLike]

# soundfile (format, subtype) per output format; both lossless 16-bit PCM.
FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}


def to_mono(x: np.ndarray) -> np.ndarray:
    """``(frames,)`` or ``(frames, channels)`` float audio -> ``(frames,)`` (channel mean)."""
    x = np.asarray(x, dtype=np.float32)
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def resampled_length(n: int, orig_sr: float, new_sr: float) -> int:
    """Number of samples :func:`resample` returns for ``n`` input samples."""
    return int(round(n * float(new_sr) / float(orig_sr)))


def resample(x: np.ndarray, orig_sr: float, new_sr: int) -> np.ndarray:
    """Resample mono float audio from ``orig_sr`` to ``new_sr`` (exact output length)."""
    x = np.asarray(x, dtype=np.float32)
    n_out = resampled_length(len(x), orig_sr, new_sr)
    if float(orig_sr) == float(new_sr):
        return x
    try:
        import soxr
        y = soxr.resample(x, float(orig_sr), float(new_sr))
    except ImportError:
        y = _torch_resample(x, orig_sr, new_sr)
    return _fit_length(np.asarray(y, dtype=np.float32), n_out)


def _torch_resample(x: np.ndarray, orig_sr: float, new_sr: int) -> np.ndarray:
    import torch
    import torchaudio.functional as AF

    # torchaudio wants integer rates; a reduced fraction keeps its filter bank small.
    ratio = Fraction(float(orig_sr) / float(new_sr)).limit_denominator(10000)
    with torch.no_grad():
        y = AF.resample(torch.from_numpy(x), ratio.numerator, ratio.denominator)
    return y.numpy()


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] -> int16, clipped (resampling may overshoot full scale)."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(
        np.int16)


def write_pcm16(path: PathLike, x: np.ndarray, sample_rate: int, audio_format: str = "wav") -> Path:
    """Write mono float audio as 16-bit ``wav``/``flac`` atomically (temp file + rename).

    The temp file ``.<name>.<pid>.tmp`` sits next to ``path``;
    :func:`remove_stale_temps` clears those left by killed processes.
    """
    import soundfile as sf

    if audio_format not in FORMATS:
        raise ValueError(f"audio format {audio_format!r} not supported; use one of {sorted(FORMATS)}")
    path = Path(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    fmt, subtype = FORMATS[audio_format]
    try:
        sf.write(str(tmp), to_pcm16(x), int(sample_rate), format=fmt, subtype=subtype)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return path


def remove_stale_temps(folder: PathLike) -> int:
    """Delete ``.*.<pid>.tmp`` files of :func:`write_pcm16` whose process is gone."""
    removed = 0
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    for tmp in folder.glob(".*.tmp"):
        pid = tmp.name[:-len(".tmp")].rpartition(".")[2]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
