"""Fixtures of the Ray and Lhotse tests: the inference tests' tiny model and audio, a local
Ray instance of 2 CPUs (one per session), and a few clips of every kind of door."""
from __future__ import annotations

import numpy as np
import pytest

from inference.conftest import EXP_REL, LANGS, lid, model_root, noise, tone, write  # noqa: F401
from inference.conftest import speech_check_off  # noqa: F401


@pytest.fixture(autouse=True)
def _weights_hash_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOLID_CACHE", str(tmp_path / "geolid_cache"))


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory):
    """A local Ray instance with 2 CPUs, shared by the session's Ray tests."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("pyarrow")
    import logging

    cache = tmp_path_factory.mktemp("ray_geolid_cache")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": {"GEOLID_CACHE": str(cache)}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """``{name: path}``: noise and tones of 1-3 s at 16 kHz, a stereo 44.1 kHz file, a
    FLAC, an espeak-ng sentence, a broken file and a missing one."""
    d = tmp_path_factory.mktemp("clips")
    out = {
        "noise1": write(d / "noise1.wav", noise(1.0, seed=1)),
        "noise2": write(d / "noise2.wav", noise(2.3, seed=2)),
        "tone": write(d / "tone.wav", tone(1.5, 440.0)),
        "stereo44k": write(d / "stereo44k.wav", noise(1.7, sr=44100, seed=3, channels=2), sr=44100),
        "flac": write(d / "clip.flac", noise(1.2, seed=4)),
    }
    try:
        from geolid_demo.espeak import synthesize

        out["speech"] = write(d / "speech.wav", synthesize("The weather is nice today, is it not?",
                                                            "en-us"))
    except Exception:   # espeak-ng unavailable: the others still cover every door
        pass
    bad = d / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(100))
    out["broken"] = bad
    out["missing"] = d / "missing.wav"
    return {k: str(v) for k, v in out.items()}


def close(a, b, tol=1e-5) -> bool:
    return a is None and b is None or (a is not None and b is not None
                                       and np.allclose(a, b, atol=tol, rtol=0))
