"""Shared fixtures: one tiny random geolid model in the published layout, per session."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

LANGS = ["eng", "fra", "deu", "cmn"]
EXP_REL = "exp_voxlingua107_only/lid_tiny_raw"


@pytest.fixture(scope="session")
def model_root(tmp_path_factory) -> Path:
    """Root of a published-layout model folder (config paths relative to it)."""
    from geolid.demo.tiny import make_experiment

    root = tmp_path_factory.mktemp("hf_repo")
    make_experiment(root / EXP_REL, LANGS)
    return root


@pytest.fixture(autouse=True)
def speech_check_off(monkeypatch):
    """Noise and tones stand in for speech in the plumbing tests (the tiny model is
    random anyway), so the speech detector, which would call them ``zxx``, is off;
    test_vad / test_timeline switch it on (they override this fixture)."""
    monkeypatch.setenv("GEOLID_SPEECH_DETECTOR", "none")


@pytest.fixture(scope="session")
def lid(model_root):
    from geolid.inference.api import GeoLID

    return GeoLID.from_pretrained(str(model_root), device="cpu")


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
