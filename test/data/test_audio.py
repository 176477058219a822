"""Resampling (both back ends), 16-bit conversion, atomic writes and temp clean-up."""
from __future__ import annotations

import builtins
import os

import numpy as np
import pytest
import soundfile as sf

from geolid.data import audio


@pytest.fixture(params=["soxr", "torchaudio"])
def backend(request, monkeypatch):
    if request.param == "torchaudio":
        real_import = builtins.__import__

        def no_soxr(name, *args, **kwargs):
            if name == "soxr":
                raise ImportError("soxr hidden by the test")
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_soxr)
    return request.param


@pytest.mark.parametrize("orig_sr,n", [(8000, 801), (44100, 16317), (16000 * 0.9, 7919),
                                       (16000 * 1.1, 7919), (16000, 100)])
def test_resample_length_and_content(backend, orig_sr, n):
    t = np.arange(n) / orig_sr
    y = audio.resample(np.sin(2 * np.pi * 100 * t).astype("float32"), orig_sr, 16000)
    assert len(y) == audio.resampled_length(n, orig_sr, 16000) == round(n * 16000 / orig_sr)
    expected = np.sin(2 * np.pi * 100 * np.arange(len(y)) / 16000)
    np.testing.assert_allclose(y[100:-100], expected[100:-100], atol=5e-3)


def test_mono_and_pcm16():
    assert audio.to_mono(np.array([[1.0, 0.0], [0.5, 0.5]])).tolist() == [0.5, 0.5]
    assert audio.to_pcm16(np.array([1.2, -1.5, 0.5, -0.5])).tolist() == [32767, -32768, 16384,
                                                                          -16384]


def test_write_and_stale_temps(tmp_path):
    path = audio.write_pcm16(tmp_path / "x.flac", np.full(10, 0.25), 8000, "flac")
    info = sf.info(str(path))
    assert (info.format, info.subtype, info.samplerate, info.frames) == ("FLAC", "PCM_16", 8000, 10)
    assert [p.name for p in tmp_path.iterdir()] == ["x.flac"]
    (tmp_path / f".y.wav.{os.getpid()}.tmp").write_bytes(b"")  # a live writer's temp: kept
    (tmp_path / ".z.wav.999999999.tmp").write_bytes(b"")
    assert audio.remove_stale_temps(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".y.wav.{os.getpid()}.tmp", "x.flac"]
    with pytest.raises(ValueError, match="not supported"):
        audio.write_pcm16(tmp_path / "x.mp3", np.zeros(3), 8000, "mp3")
