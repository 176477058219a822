"""Temperature scaling: the fit recovers a known temperature; GeoLID applies the stored one
(through the model's scoring head; the side file's validation: test/model/test_head_state.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from geolid.inference.calibration import (expected_calibration_error, fit_temperature, reliability,
                                          softmax, summarise)
from geolid.model.head_state import CALIBRATION_FILE, HeadState, write_head_state

from .conftest import noise


def _sample(n=4000, c=6, t_true=2.5, seed=0):
    """Labels drawn from softmax(z / t_true): z / t_true is the calibrated logit."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 4, (n, c))
    p = softmax(z, t_true)
    labels = np.array([rng.choice(c, p=row) for row in p])
    return z, labels


def test_fit_recovers_known_temperature():
    for t_true in (0.5, 2.5, 6.0):
        z, y = _sample(t_true=t_true, seed=int(t_true * 10))
        assert fit_temperature(z, y) == pytest.approx(t_true, rel=0.1)


def test_calibrated_sample_has_small_ece_and_overconfident_one_large():
    z, y = _sample(t_true=3.0)
    assert expected_calibration_error(softmax(z, 3.0), y) < 0.03
    assert expected_calibration_error(softmax(z, 1.0), y) > 0.15
    before, after = summarise(z, y, fit_temperature(z, y))
    assert after["ece"] < before["ece"] and after["nll"] < before["nll"]
    assert after["accuracy"] == before["accuracy"]  # scaling never changes the argmax


def test_reliability_bins_by_hand():
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.35, 0.65]])
    labels = np.array([0, 1, 0, 1])
    r = reliability(probs, labels, n_bins=10)
    assert r["count"].sum() == 4 and r["count"][9] == 2 and r["count"][5] == 1 and r["count"][6] == 1
    assert r["accuracy"][9] == 0.5 and r["confidence"][9] == pytest.approx(0.95)
    # |0.5-0.95|*2 + |1-0.55| + |1-0.65|, over 4
    assert expected_calibration_error(probs, labels, 10) == pytest.approx((0.9 + 0.45 + 0.35) / 4)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="labels"):
        fit_temperature(np.zeros((3, 2)), np.array([0, 1, 2]))


def test_geolid_applies_stored_temperature(model_root, tmp_path):
    import shutil

    from geolid.inference.api import GeoLID

    from .conftest import EXP_REL

    root = tmp_path / "repo"
    shutil.copytree(model_root, root)
    x = (noise(1.0, seed=5) * 3, 16000)
    plain = GeoLID.from_pretrained(str(root), device="cpu")
    assert plain.folder.head.temperature == 1.0 and float(plain.model.head.temperature) == 1.0
    p1 = {s.code: s.probability for s in plain.predict(x, top_k=4).top_k}
    write_head_state(root / EXP_REL, HeadState().with_temperature(3.0, fitted_on="test"), plain.languages)
    assert json.loads((root / EXP_REL / CALIBRATION_FILE).read_text())["temperature"] == 3.0
    cal = GeoLID.from_pretrained(str(root), device="cpu")
    assert float(cal.model.head.temperature) == 3.0
    assert cal.identity().head and cal.identity().head != plain.identity().head
    p3 = {s.code: s.probability for s in cal.predict(x, top_k=4).top_k}
    # softmax(z/3) = normalised softmax(z)^(1/3)
    expect = {c: p ** (1 / 3) for c, p in p1.items()}
    total = sum(expect.values())
    for c in p1:
        assert p3[c] == pytest.approx(expect[c] / total, abs=2e-4)
    assert max(p3, key=p3.get) == max(p1, key=p1.get)


def test_windowed_utterances_calibrate_each_window_before_the_mean():
    from geolid.inference.calibration import Windowed

    z, y = _sample(n=600, t_true=2.0, seed=3)
    # every utterance as 2 windows: the same logits twice (weights 1 and 3) gives the plain fit
    w = Windowed(np.repeat(z, 2, axis=0), np.repeat(np.arange(len(z)), 2), np.tile([1.0, 3.0], len(z)))
    np.testing.assert_allclose(w.probabilities(2.0), softmax(z, 2.0), rtol=1e-9)
    assert fit_temperature(w, y) == pytest.approx(fit_temperature(z, y), rel=1e-4)
    mixed = Windowed(np.array([[4.0, 0.0], [0.0, 2.0]]), np.array([0, 0]), np.array([1.0, 3.0]))
    np.testing.assert_allclose(mixed.probabilities(2.0)[0],
                               (softmax(np.array([4.0, 0.0]), 2.0) + 3 * softmax(np.array([0.0, 2.0]), 2.0)) / 4)
    sub = w.subset(np.arange(len(z)) % 2 == 0)
    assert len(sub) == len(z) // 2
