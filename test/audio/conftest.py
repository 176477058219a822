"""Small signal and file helpers for the audio tests (files go under tmp_path)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def noise(seconds: float, sr: int = 16000, seed: int = 0, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (int(seconds * sr),) if channels == 1 else (int(seconds * sr), channels)
    return (0.1 * rng.standard_normal(shape)).astype("float32")


def tone(seconds: float, freq: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype("float32")


def write(path: Path, x: np.ndarray, sr: int = 16000, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, **kw)
    return path


def peak_hz(x: np.ndarray, sr: int) -> float:
    """Frequency of the strongest spectral line (Hann-windowed, parabolic interpolation)."""
    x = np.asarray(x, dtype=np.float64)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / len(x)
