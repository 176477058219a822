"""Unknown-language signals and score (geolid.inference.open_set), on synthetic arrays."""
import numpy as np
import pytest

from geolid.inference import open_set as os_


def _classifier(n_class=4, k=3, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n_class * k, dim))
    return w / np.linalg.norm(w, axis=1, keepdims=True) * 3.0  # row norm must not matter


def _logits(emb, w, k, scale=30.0, temperature=1.0):
    return os_.class_cosines(emb, w, k) * scale / temperature


def test_auroc_separable_identical_and_reversed():
    pos, neg = np.array([2.0, 3.0, 4.0]), np.array([-1.0, 0.0, 1.0])
    assert os_.auroc(pos, neg) == 1.0
    assert os_.auroc(neg, pos) == 0.0
    x = np.array([0.1, 0.5, 0.9, 0.5])
    assert os_.auroc(x, x) == 0.5
    assert os_.auroc(np.ones(5), np.ones(7)) == 0.5            # all tied


def test_auroc_matches_pairwise_count_with_ties_and_drops_nan():
    rng = np.random.default_rng(1)
    pos, neg = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 30).astype(float)
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert os_.auroc(pos, neg) == pytest.approx(pairs, abs=1e-12)
    assert os_.auroc(np.r_[pos, np.nan], neg) == pytest.approx(pairs, abs=1e-12)
    with pytest.raises(ValueError):
        os_.auroc([], [1.0])


def test_class_cosines_take_the_nearest_sub_centre():
    w = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], float)          # 2 classes, K = 2
    cos = os_.class_cosines(np.array([[0.0, 2.0]]), w, 2)
    np.testing.assert_allclose(cos, [[1.0, 0.0]])
    with pytest.raises(ValueError):
        os_.class_cosines(np.ones((1, 2)), w[:3], 2)


def test_signals_order_a_confident_in_class_clip_above_a_far_one():
    k, w = 3, _classifier()
    near = w[4] / np.linalg.norm(w[4]) * 20 + 0.01       # on a sub-centre of class 1
    rng = np.random.default_rng(3)
    far = rng.normal(size=16)
    # orthogonal to every centre: project out the span of the weight rows
    q, _ = np.linalg.qr(w.T)
    far = far - q @ (q.T @ far)
    far = far / np.linalg.norm(far) * 20
    emb = np.stack([near, far])
    t = 2.0
    sig = os_.signals(_logits(emb, w, k, temperature=t), emb, w, k, 30.0, temperature=t)
    for name in ("max_prob", "max_prob_T1", "energy", "energy_T1", "max_cosine", "cosine_margin"):
        assert sig[name][0] > sig[name][1], name
    assert sig["max_cosine"][0] == pytest.approx(1.0, abs=1e-3)
    assert abs(sig["max_cosine"][1]) < 1e-9
    np.testing.assert_allclose(sig["embedding_norm"], [np.linalg.norm(near), 20.0])
    score = os_.unknown_score(_logits(emb, w, k), emb, w, k, 30.0)
    assert score[0] > score[1]


def test_signals_temperature_variants():
    k, w = 3, _classifier()
    emb = np.random.default_rng(0).normal(size=(5, 16))
    raw = _logits(emb, w, k)
    t = 2.5
    sig = os_.signals(raw / t, emb, w, k, 30.0, temperature=t)
    ref = os_.signals(raw, emb, w, k, 30.0)
    np.testing.assert_allclose(sig["energy_T1"], ref["energy"])
    np.testing.assert_allclose(sig["max_prob_T1"], ref["max_prob"])
    lse = np.log(np.exp(raw / t).sum(1))
    np.testing.assert_allclose(sig["energy"], t * lse)
    assert np.all(sig["max_prob"] < ref["max_prob"])            # softer at T > 1
    np.testing.assert_allclose(sig["max_cosine"], raw.max(1) / 30.0)


def test_geo_agreement_from_class_table_and_codes():
    k, w = 1, np.eye(3)
    emb = np.eye(3)[[0, 2]]
    logits = emb @ w.T * 30
    class_geo = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5]])
    geo = np.array([[0.0, 0.0], [1.0, 1.0]])                  # row 0 agrees with its class
    sig = os_.signals(logits, emb, w, k, 30.0, geo_vectors=geo, class_geo=class_geo)
    np.testing.assert_allclose(sig["geo_agreement"], [0.0, -0.5])
    from geolid.languages import uriel_vector

    g = np.stack([uriel_vector("eng"), uriel_vector("jpn")])
    sig = os_.signals(logits, emb, w, k, 30.0, geo_vectors=g, predicted_codes=["eng", "eng"])
    assert sig["geo_agreement"][0] == pytest.approx(0.0, abs=1e-7)
    assert sig["geo_agreement"][1] < -0.05
    with pytest.raises(ValueError):
        os_.signals(logits, emb, w, k, 30.0, geo_vectors=geo)
    assert "geo_agreement" not in os_.signals(logits, emb, w, k, 30.0)


def test_signals_reject_mismatched_shapes():
    w = _classifier()
    with pytest.raises(ValueError):
        os_.signals(np.zeros((2, 4)), np.zeros((3, 16)), w, 3, 30.0)
    with pytest.raises(ValueError):
        os_.signals(np.zeros((2, 5)), np.zeros((2, 16)), w, 3, 30.0)


def test_threshold_at_acceptance_and_far():
    known = np.arange(100, dtype=float)           # 0..99
    thr = os_.threshold_at_acceptance(known, 0.95)
    assert np.mean(known >= thr) >= 0.95
    assert thr == 5.0
    assert os_.threshold_at_acceptance(known, 1.0) == 0.0
    assert os_.false_accept_rate(np.array([1.0, 4.0, 6.0, 10.0]), thr) == 0.5


def test_fit_unknown_score_z_units_and_rejection():
    rng = np.random.default_rng(0)
    known = {"max_cosine": rng.normal(0.8, 0.05, 400), "embedding_norm": rng.normal(20, 2, 400)}
    fitted = os_.fit_unknown_score(known, accept=0.95)
    assert fitted["mean"]["max_cosine"] == pytest.approx(0.8, abs=0.01)
    assert fitted["std"]["embedding_norm"] == pytest.approx(2.0, abs=0.2)
    z = os_.ZScoreCombination(os_.UNKNOWN_SIGNALS, fitted["mean"], fitted["std"])(known)
    assert np.mean(z >= fitted["threshold"]) >= 0.95
    # the sum of two independent standard normals: 5% quantile about -1.645 * sqrt(2)
    assert fitted["threshold"] == pytest.approx(-1.645 * np.sqrt(2), abs=0.3)
    # only correct clips set the threshold
    correct = np.ones(400, bool)
    correct[np.argsort(z)[:40]] = False                        # the 40 lowest were wrong
    assert os_.fit_unknown_score(known, correct)["threshold"] > fitted["threshold"]


def test_unknown_score_with_stats_is_the_z_sum():
    k, w = 3, _classifier()
    emb = np.random.default_rng(2).normal(size=(6, 16))
    stats = {"mean": {"max_cosine": 0.5, "embedding_norm": 4.0}, "std": {"max_cosine": 0.1, "embedding_norm": 2.0}}
    s = os_.unknown_score(_logits(emb, w, k), emb, w, k, 30.0, stats=stats)
    cos = os_.class_cosines(emb, w, k).max(1)
    np.testing.assert_allclose(s, (cos - 0.5) / 0.1 + (np.linalg.norm(emb, axis=1) - 4.0) / 2.0)
    assert os_.is_unknown(np.array([-5.0, 0.0])).tolist() == [True, False]
    assert os_.DEFAULT_UNKNOWN_THRESHOLD < 0
