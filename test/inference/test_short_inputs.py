"""Inputs shorter than the measured minimum get no confident label (issue 7 item 6)."""
from __future__ import annotations

import json

import pytest

from geolid.cli.main import main
from geolid.audio import AudioError
from geolid.inference.short_inputs import MIN_DURATION

from .conftest import noise, write


def test_below_the_minimum_is_an_error_record(lid):
    short = noise(MIN_DURATION * 0.5, seed=5)
    ok = noise(MIN_DURATION + 0.1, seed=6)
    preds = lid.predict([short, ok], sample_rate=16000)
    assert preds[0].language is None and "too short for a reliable answer" in preds[0].error
    assert f"{MIN_DURATION:g} s" in preds[0].error and "min" in preds[0].error
    assert preds[1].ok
    with pytest.raises(AudioError, match="too short for a reliable answer"):
        lid.predict(short, sample_rate=16000)
    with pytest.raises(AudioError, match="too short for a reliable answer"):
        lid.embed(short, sample_rate=16000)


def test_the_minimum_can_be_lowered(lid):
    p = lid.predict(noise(MIN_DURATION * 0.5), sample_rate=16000,
                    min_duration=0.0)
    assert p.ok and p.duration == pytest.approx(MIN_DURATION * 0.5, abs=1e-3)


def test_cli_min_duration(capsys, model_root, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOLID_CACHE", str(tmp_path / "cache"))
    clip = write(tmp_path / "short.wav", noise(MIN_DURATION * 0.5))
    rc = main(["predict", str(clip), "--model", str(model_root), "--format", "jsonl", "-q"])
    out, err = capsys.readouterr()
    assert rc == 1 and "too short for a reliable answer" in json.loads(out)["error"]
    rc = main(["predict", str(clip), "--model", str(model_root), "--format", "jsonl", "-q",
               "--min-duration", "0"])
    out, err = capsys.readouterr()
    assert rc == 0 and json.loads(out)["error"] is None
