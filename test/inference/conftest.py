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
    from geolid_demo.tiny import make_experiment

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


class EnergyScorer:
    """A stub model: 'vie' for silent windows and for windows of loud noise only, 'eng' for
    any window with speech in it; a model that silence and noise would pull if they voted."""

    def __init__(self):
        import torch

        self.torch = torch

    def eval(self):
        return self

    def score(self, speech, lengths):
        torch = self.torch
        mask = torch.arange(speech.size(1))[None] < lengths[:, None]
        rms = ((speech ** 2 * mask).sum(1) / lengths).sqrt()
        speechy = ((rms > 0.02) & (rms < 0.45)).float() * 2 - 1
        scores = torch.stack([-speechy, speechy], 1) * 5
        b = speech.size(0)
        return {"scores": scores, "embedding": torch.ones(b, 3), "lang2vec": torch.full((b, 299), 0.5)}


@pytest.fixture(scope="session")
def talk():
    """24 s of espeak-ng English at speech level (RMS 0.1)."""
    from geolid_demo.espeak import synthesize

    x = synthesize("The farmer carried water up the hill after lunch, and then he slept a while.", "en-gb")
    x = 0.1 * x / np.sqrt(np.mean(x ** 2))
    return np.concatenate([x] * int(np.ceil(24 * 16000 / len(x))))[: 24 * 16000].astype("float32")


@pytest.fixture
def energy_lid(tmp_path, monkeypatch):
    """GeoLID around :class:`EnergyScorer`, with the speech detector on (Silero)."""
    from geolid.inference.api import GeoLID
    from geolid.inference.scorer import TorchScorer
    from geolid.model.folder import ModelFolder

    monkeypatch.delenv("GEOLID_SPEECH_DETECTOR", raising=False)
    folder = ModelFolder("stub", tmp_path, tmp_path, tmp_path / "m.pth", {}, ("vie", "eng"), None)
    return GeoLID(TorchScorer(EnergyScorer(), folder.languages, "cpu", "float32", None), folder)


@pytest.fixture
def block_reads(monkeypatch):
    """The frame counts of every ``soundfile.SoundFile.read`` call made during the test:
    how the tests see that a long file is streamed by block and each sample read once."""
    import soundfile as sf

    reads = []
    real_read = sf.SoundFile.read

    def spy(self, frames=-1, *a, **kw):
        reads.append(frames)
        return real_read(self, frames, *a, **kw)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    return reads
