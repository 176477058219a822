"""A plain list of numbers is one waveform, not thousands of inputs (issue 7 item 7)."""
from __future__ import annotations

import logging

import pytest

from .conftest import noise


def test_list_of_floats_with_a_sample_rate_is_one_waveform(lid, caplog):
    x = noise(1.0, seed=4)
    with caplog.at_level(logging.WARNING):
        got = lid.predict(x.tolist(), sample_rate=16000)
        emb = lid.embed(x.tolist(), sample_rate=16000)
    ref = lid.predict(x, sample_rate=16000)
    assert not isinstance(got, list) and got.ok and got.duration == 1.0
    assert [s.code for s in got.top_k] == [s.code for s in ref.top_k]
    assert emb.shape == lid.embed(x, sample_rate=16000).shape
    assert caplog.records == []


def test_list_of_floats_without_a_sample_rate_is_a_clear_error(lid):
    with pytest.raises(ValueError, match="sample_rate"):
        lid.predict(noise(1.0).tolist())
    with pytest.raises(ValueError, match="sample_rate"):
        lid.embed([0.0] * 16000)


def test_list_of_inputs_still_works(lid, tmp_path):
    preds = lid.predict([noise(1.0), noise(1.1)], sample_rate=16000)
    assert len(preds) == 2 and all(p.ok for p in preds)
