"""Tiny audio writers shared by the data-preparation tests (files go under tmp_path)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def tone(seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.1 * np.sin(2 * np.pi * 220 * t)).astype("float32")


class AudioWriter:
    """Writes small valid audio files in the formats the corpora use."""

    @staticmethod
    def wav(path: Path, seconds: float = 0.05, sr: int = 16000) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), tone(seconds, sr), sr, format="WAV", subtype="PCM_16")
        return path

    @staticmethod
    def ogg(path: Path, seconds: float = 0.05, sr: int = 16000) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), tone(seconds, sr), sr, format="OGG", subtype="VORBIS")
        return path

    @staticmethod
    def sph(path: Path, seconds: float = 0.05, sr: int = 8000) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), tone(seconds, sr), sr, format="NIST", subtype="PCM_16")
        return path

    @staticmethod
    def shorten_sph(path: Path) -> Path:
        """A SPHERE header announcing shorten compression (libsndfile cannot decode it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        header = ("NIST_1A\n   1024\nsample_rate -i 8000\nchannel_count -i 1\n"
                  "sample_coding -s26 pcm,embedded-shorten-v2.00\nend_head\n")
        path.write_bytes(header.encode().ljust(1024, b" ") + b"\x00" * 64)
        return path


@pytest.fixture
def audio() -> AudioWriter:
    return AudioWriter()

