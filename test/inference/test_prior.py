"""Location prior: identity at zero strength, bounded odds change, unlocated mass kept."""
from __future__ import annotations

import numpy as np
import pytest

from geolid.inference.prior import (Near, LocationPrior, language_weights, parse_near, reweight)

LOCS = {"eng": (53.0, -1.0), "fra": (48.0, 2.0), "swh": (-6.0, 35.0), "xyz": None}


def test_zero_strength_is_identity():
    p = np.array([[0.5, 0.2, 0.2, 0.1], [0.1, 0.1, 0.7, 0.1]])
    prior = LocationPrior(Near(-1.3, 36.8, 500, strength=0.0), list(LOCS), LOCS)
    np.testing.assert_allclose(reweight(p, prior.weights), p)


def test_weights_bounded_and_unlocated_mass_kept():
    near = Near(-1.3, 36.8, 800, strength=0.9)
    w = language_weights(near, list(LOCS.values()))
    assert np.isnan(w[3]) and np.all((w[:3] >= 0.1) & (w[:3] <= 1.0))
    assert w[2] > 0.75 and w[0] == pytest.approx(0.1, abs=1e-3)   # Nairobi vs England
    p = np.array([0.4, 0.3, 0.1, 0.2])
    q = reweight(p, w)
    assert q.sum() == pytest.approx(1.0) and q[3] == pytest.approx(0.2)
    assert q[2] > p[2] and q[0] < p[0]
    # odds between two located languages change by at most 1 / (1 - strength)
    assert (q[2] / q[0]) / (p[2] / p[0]) <= 10.0 + 1e-9


def test_confident_answer_never_flips_at_default_strength():
    prior = LocationPrior(Near(-6.0, 35.0, 300), list(LOCS), LOCS)   # next to swh
    file_p = np.array([0.92, 0.0, 0.08, 0.0])                      # 11.5x odds for eng
    after = prior.reweight(file_p)
    note = prior.note(file_p, after)
    assert np.argmax(after) == 0 and note["changed"] is False
    unsure = np.array([0.55, 0.0, 0.45, 0.0])
    after = prior.reweight(unsure)
    note = prior.note(unsure, after)
    assert np.argmax(after) == 2 and note["changed"] is True
    assert note["language_without_prior"] == "eng" and note["probability_without_prior"] == 0.55


def test_parse_near():
    assert parse_near("-1.3,36.8") == Near(-1.3, 36.8)
    assert parse_near("-1.3, 36.8, 250", strength=0.5) == Near(-1.3, 36.8, 250, 0.5)
    assert parse_near((10, 20, 30)).radius_km == 30
    for bad in ("Nairobi", "1,2,3,4", "95,0", "0,0,-5"):
        with pytest.raises(ValueError, match="near"):
            parse_near(bad)
    with pytest.raises(ValueError, match="strength"):
        parse_near("0,0", strength=1.5)


def test_api_near_records_the_prior(lid, tmp_path):
    from .conftest import noise

    x = (noise(1.0, seed=2), 16000)
    plain = lid.predict(x, top_k=4)
    assert plain.prior is None
    same = lid.predict(x, top_k=4, near=Near(0, 0, strength=0.0))
    assert same.prior["changed"] is False and same.top_k[0].code == plain.top_k[0].code
    for a, b in zip(same.top_k, plain.top_k):
        assert a.probability == pytest.approx(b.probability, abs=1e-6)
    # Beijing, tiny radius, full strength: cmn wins whatever the random model says
    near = lid.predict(x, top_k=4, near="39.9,116.4,300", )
    assert near.prior["lat"] == 39.9 and near.prior["radius_km"] == 300
    assert near.prior["language_without_prior"] == plain.top_k[0].code
    assert near.to_dict()["prior"]["changed"] == (near.language != plain.language)
    # the prior is not the identity: the record is the model's distribution reweighted by it
    before = np.array([{s.code: s.probability for s in plain.top_k}[c] for c in lid.languages])
    after = np.array([{s.code: s.probability for s in near.top_k}[c] for c in lid.languages])
    expected = lid.location_prior("39.9,116.4,300").reweight(before)
    np.testing.assert_allclose(after, expected, atol=2e-5)
    cmn = lid.languages.index("cmn")
    assert after[cmn] / before[cmn] > 5      # ~10x: the prior's full odds change, not the identity


def test_cli_near(model_root, tmp_path, capsys):
    import json

    from geolid.cli.main import main

    from .conftest import noise, write

    wav = write(tmp_path / "a.wav", noise(1.0, seed=4))
    assert main(["predict", "--model", str(model_root), "--format", "json", "-q", "--device", "cpu",
                 "--near", "48.8,2.3,400", "--near-strength", "0.5", str(wav)]) == 0
    rec = json.loads(capsys.readouterr().out)["predictions"][0]
    assert rec["prior"]["strength"] == 0.5 and rec["prior"]["radius_km"] == 400
    assert main(["predict", "--model", str(model_root), "--format", "json", "-q", "--device", "cpu",
                 str(wav)]) == 0
    plain = json.loads(capsys.readouterr().out)["predictions"][0]
    p_fra = {s["code"]: s["probability"] for s in rec["top_k"]}["fra"]
    assert p_fra > {s["code"]: s["probability"] for s in plain["top_k"]}["fra"]   # Paris: French gains
    for bad in (["--near", "Paris"], ["--near-strength", "0.3"]):
        assert main(["predict", "--model", str(model_root), "-q", *bad, str(wav)]) == 2
        assert "near" in capsys.readouterr().err
