"""Audio without speech, for testing speech detection: noise, music-like tones, silence.

Every generator returns float32 mono at ``sr`` and is deterministic for a seed.
"""
from __future__ import annotations

from typing import Callable, Dict

import numpy as np


def white_noise(seconds: float, sr: int = 16000, seed: int = 0, level: float = 0.1) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def pink_noise(seconds: float, sr: int = 16000, seed: int = 0, level: float = 0.1) -> np.ndarray:
    """1/f noise: white noise shaped by 1/sqrt(f) in the frequency domain."""
    n = int(seconds * sr)
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spec / np.sqrt(f), n)
    return (level * x / (np.std(x) + 1e-12)).astype(np.float32)


def silence(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    return np.zeros(int(seconds * sr), dtype=np.float32)


def chords(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Major triads with harmonics, a new chord every 0.5 s with a short attack:
    a crude piano-like accompaniment."""
    rng = np.random.default_rng(seed)
    n, step = int(seconds * sr), sr // 2
    out = np.zeros(n, dtype=np.float64)
    t = np.arange(step) / sr
    env = np.minimum(1.0, t / 0.01) * np.exp(-3.0 * t)
    for start in range(0, n, step):
        root = 130.8 * 2 ** (rng.integers(0, 12) / 12)
        note = sum(np.sin(2 * np.pi * root * r * h * t) / h
                   for r in (1.0, 1.26, 1.5) for h in (1, 2, 3))
        seg = (env * note)[: n - start]
        out[start:start + seg.size] += seg
    return (0.3 * out / (np.abs(out).max() + 1e-12)).astype(np.float32)


def sweep(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A sine gliding up and down between 200 Hz and 2 kHz (a siren / synth lead)."""
    t = np.arange(int(seconds * sr)) / sr
    freq = 1100 + 900 * np.sin(2 * np.pi * 0.5 * t + seed)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    return (0.3 * np.sin(phase)).astype(np.float32)


def steady_tone(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A 440 Hz tone with harmonics (a held organ note)."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * 440 * h * t) / h for h in (1, 2, 3, 4))
    return (0.2 * x).astype(np.float32)


NON_SPEECH: Dict[str, Callable[..., np.ndarray]] = {
    "white_noise": white_noise, "pink_noise": pink_noise, "silence": silence,
    "chords": chords, "sweep": sweep, "tone": steady_tone,
}
