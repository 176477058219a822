"""Signal helpers for the audio tests; noise/tone/write are the inference tests' ones."""
from __future__ import annotations

import numpy as np
from inference.conftest import noise, tone, write  # noqa: F401  (one set of helpers)


def peak_hz(x: np.ndarray, sr: int) -> float:
    """Frequency of the strongest spectral line (Hann-windowed, parabolic interpolation)."""
    x = np.asarray(x, dtype=np.float64)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / len(x)
