"""Non-finite outputs never become answers; dtype auto only picks a checked dtype (issue 7 item 5)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from geolid.inference import api, numerics
from geolid.inference.api import GeoLID

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
    assert api._resolve_dtype("auto", torch.device("cuda")) == "float32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert api._resolve_dtype("auto", torch.device("cuda")) == "bfloat16"
    assert api._resolve_dtype("auto", torch.device("cpu")) == "float32"


def test_low_precision_check_agrees_on_a_healthy_model(lid):
    ok, why = numerics.low_precision_agrees(lid.model, torch.device("cpu"), "bfloat16")
    assert ok, why


def test_auto_falls_back_to_float32_when_the_check_fails(lid, monkeypatch, caplog):
    _nan_scores(monkeypatch, lid.model, only_under_autocast=True)
    ok, why = numerics.low_precision_agrees(lid.model, torch.device("cpu"), "bfloat16")
    assert not ok and "not finite" in why
    assert numerics.checked_auto_dtype(lid.model, torch.device("cpu"), "bfloat16") == "float32"
    assert "float32" in caplog.text
