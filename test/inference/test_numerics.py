"""Non-finite outputs never become answers; dtype auto only picks a checked dtype (issue 7 item 5)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from geolid.inference import numerics
from geolid.inference.scorer import resolve_dtype

from .conftest import noise


def _nan_scores(monkeypatch, model, only_under_autocast=False):
    """Make ``model.score`` (the one scoring path) return NaN scores."""
    real = model.score

    def fake(speech, lengths):
        out = real(speech, lengths)
        if not only_under_autocast or torch.is_autocast_enabled("cpu"):
            out["scores"] = out["scores"] * float("nan")
        return out

    monkeypatch.setattr(model, "score", fake)


def test_nan_outputs_become_error_records(lid, monkeypatch):
    _nan_scores(monkeypatch, lid.model)
    preds = lid.predict([noise(1.0, seed=1), noise(1.2, seed=2)], sample_rate=16000)
    for p in preds:
        assert p.language is None and p.probability is None and p.top_k == []
        assert "not finite" in p.error and "float32" in p.error


def test_auto_never_picks_float16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_dtype("auto", "cuda") == "float32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    assert resolve_dtype("auto", "cpu") == "float32"


def test_low_precision_check_agrees_on_a_healthy_model(lid):
    ok, why = numerics.low_precision_agrees(lid.model, torch.device("cpu"), "bfloat16")
    assert ok, why


def test_auto_falls_back_to_float32_when_the_check_fails(lid, monkeypatch, caplog):
    _nan_scores(monkeypatch, lid.model, only_under_autocast=True)
    ok, why = numerics.low_precision_agrees(lid.model, torch.device("cpu"), "bfloat16")
    assert not ok and "not finite" in why
    assert numerics.checked_auto_dtype(lid.model, torch.device("cpu"), "bfloat16") == "float32"
    assert "float32" in caplog.text


def test_a_nan_row_of_classify_batch_gets_no_label(lid):
    """A NaN waveform row (or NaN outputs) is not a language: None, index -1, ok False;
    the other rows of the batch are unaffected."""
    good = noise(1.0, seed=4)
    bad = good.copy()
    bad[100] = float("nan")
    out = lid.classify_batch([good, bad])
    assert out.ok.tolist() == [True, False]
    assert out.languages[0] in lid.languages and out.languages[1] is None and out.indices[1] == -1
    np.testing.assert_allclose(out.scores[0], lid.classify_batch([good]).scores[0], atol=1e-5)


def test_timeline_of_a_nan_model_is_an_error_not_a_segment(lid, monkeypatch):
    _nan_scores(monkeypatch, lid.model)
    with pytest.raises(Exception, match="not finite"):
        lid.timeline((noise(3.0, seed=1), 16000))
    (p,) = lid.predict([(noise(3.0, seed=1), 16000)], timeline=True)
    assert p.error and "not finite" in p.error and p.segments is None
