"""Enrolment centres and per-class logit offsets (geolid.inference.enrolment_method)."""
import numpy as np
import pytest

from geolid.inference import enrolment_method as em

K, SCALE, DIM = 3, 30.0, 16


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _known_weight(n_class=4):
    """Known classes on the first axes: class c's sub-centres near e_c."""
    rng = np.random.default_rng(0)
    rows = []
    for c in range(n_class):
        for _ in range(K):
            v = np.zeros(DIM)
            v[c] = 1.0
            rows.append(_unit(v + 0.05 * rng.normal(size=DIM)) * 2.5)    # the row norm must not matter
    return np.asarray(rows)


def _clips(direction, n, spread, seed):
    rng = np.random.default_rng(seed)
    return _unit(direction[None] + spread * rng.normal(size=(n, DIM))) * 7.0


def test_class_logits_scale_max_and_offsets():
    w = _known_weight()
    x = np.eye(DIM)[:2]
    z = em.class_logits(x, w, K, SCALE)
    cos = (_unit(x) @ _unit(w).T).reshape(2, -1, K).max(2)
    np.testing.assert_allclose(z, SCALE * cos)
    off = np.array([0.0, 1.0, -2.0, 0.5])
    np.testing.assert_allclose(em.class_logits(x, w, K, SCALE, off), SCALE * cos + off)
    with pytest.raises(ValueError):
        em.class_logits(x, w, K, SCALE, off[:3])
    with pytest.raises(ValueError):
        em.class_logits(x, w[:-1], K, SCALE)


def test_rows_are_the_normalised_mean_k_times_and_known_offsets_are_zero():
    w = _known_weight()
    new = [_clips(np.eye(DIM)[8], 6, 0.2, 1), _clips(np.eye(DIM)[9], 5, 0.2, 2)]
    res = em.enrol(new, w, K, SCALE)
    assert res.rows.shape == (2 * K, DIM)
    np.testing.assert_allclose(np.linalg.norm(res.rows, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(res.rows[:K], np.repeat(_unit(_unit(new[0]).mean(0))[None], K, 0), atol=1e-6)
    assert res.offsets.shape == (4 + 2,)
    assert np.all(res.offsets[:4] == 0)
    assert [d["clips"] for d in res.details] == [6, 5]


def test_a_separable_language_gets_a_margin_and_keeps_its_clips():
    w = _known_weight()
    direction = _unit(np.eye(DIM)[8] + 0.3 * np.eye(DIM)[0])
    enrol_clips, test_clips = _clips(direction, 12, 0.15, 3), _clips(direction, 50, 0.15, 4)
    res = em.enrol([enrol_clips], w, K, SCALE, recall=0.9)
    b = res.offsets[-1]
    assert b < 0                          # far from the known classes: a margin, not a boost
    assert res.details[0]["loo_recall"] >= 0.9
    w2 = np.concatenate([_unit(w), res.rows])
    pred = em.class_logits(test_clips, w2, K, SCALE, res.offsets).argmax(1)
    assert np.mean(pred == 4) >= 0.85
    # along the line from known class 0 to the new language, the margin moves the
    # boundary towards the new language: points near it stay with class 0
    alphas = np.linspace(0, 3, 301)
    line = _unit(np.eye(DIM)[0][None] + alphas[:, None] * res.rows[0][None])
    plain = alphas[np.argmax(em.class_logits(line, w2, K, SCALE).argmax(1) == 4)]
    margin = alphas[np.argmax(em.class_logits(line, w2, K, SCALE, res.offsets).argmax(1) == 4)]
    assert margin > plain + 0.05


def test_without_reference_the_offset_never_exceeds_max_offset():
    w = _known_weight()
    # a language sitting on top of known class 1: leave-one-out would ask for a boost
    clips = _clips(_unit(np.eye(DIM)[1] + 0.4 * np.eye(DIM)[10]), 10, 0.4, 5)
    res = em.enrol([clips], w, K, SCALE)
    assert res.details[0]["needed"] > 0
    assert res.offsets[-1] == 0.0
    assert em.enrol([clips], w, K, SCALE, max_offset=2.0).offsets[-1] == pytest.approx(
        min(2.0, res.details[0]["needed"]))


def test_reference_clips_bound_the_offset_by_the_safety_margin():
    w = _known_weight()
    direction = _unit(np.eye(DIM)[1] + 0.9 * np.eye(DIM)[10])
    clips = _clips(direction, 10, 0.3, 6)
    ref = np.concatenate([_clips(np.eye(DIM)[c], 8, 0.25, 10 + c) for c in range(4)])
    ref_y = np.repeat(np.arange(4), 8)
    for safety in (0.0, 1.0, 3.0):
        res = em.enrol([clips], w, K, SCALE, known_embeddings=ref, known_labels=ref_y, safety=safety,
                       max_offset=100.0)
        w2 = np.concatenate([_unit(w), res.rows])
        kz = em.class_logits(ref, w2, K, SCALE, res.offsets)
        ok = em.class_logits(ref, w, K, SCALE).argmax(1) == ref_y
        # no correctly identified reference clip is taken, with `safety` logits to spare
        assert np.all(kz[ok].argmax(1) == ref_y[ok])
        margin = kz[ok, :4].max(1) - kz[ok, 4]
        assert margin.min() >= safety - 1e-6
        assert res.offsets[-1] <= res.details[0]["needed"] + 1e-12
    # a loss budget lets the offset rise
    loose = em.enrol([clips], w, K, SCALE, known_embeddings=ref, known_labels=ref_y, safety=0.0,
                     max_known_loss=0.2, max_offset=100.0)
    tight = em.enrol([clips], w, K, SCALE, known_embeddings=ref, known_labels=ref_y, safety=0.0,
                     max_offset=100.0)
    assert loose.details[0]["safe"] >= tight.details[0]["safe"]


def test_existing_offsets_are_kept_and_used():
    w = _known_weight()
    clips = _clips(_unit(np.eye(DIM)[1] + 0.5 * np.eye(DIM)[10]), 10, 0.3, 11)
    plain = em.enrol([clips], w, K, SCALE)
    prior = np.array([0.0, -5.0, 0.0, 0.0])           # class 1 was pushed down earlier
    res = em.enrol([clips], w, K, SCALE, offsets=prior)
    np.testing.assert_allclose(res.offsets[:4], prior)
    assert res.details[0]["needed"] < plain.details[0]["needed"]    # a weaker competitor
    with pytest.raises(ValueError):
        em.enrol([clips], w, K, SCALE, offsets=np.zeros(3))


def test_one_clip_has_no_leave_one_out():
    w = _known_weight()
    res = em.enrol([_clips(np.eye(DIM)[12], 1, 0.1, 7)], w, K, SCALE)
    assert res.details[0]["needed"] == 0.0 and res.details[0]["loo_recall"] is None
    assert res.offsets[-1] == 0.0


def test_two_new_languages_do_not_swallow_each_other():
    w = _known_weight()
    a, b = _unit(np.eye(DIM)[8] + 0.2 * np.eye(DIM)[9]), _unit(np.eye(DIM)[9] + 0.2 * np.eye(DIM)[8])
    res = em.enrol([_clips(a, 12, 0.15, 8), _clips(b, 12, 0.15, 9)], w, K, SCALE)
    w2 = np.concatenate([_unit(w), res.rows])
    for j, d in enumerate((a, b)):
        pred = em.class_logits(_clips(d, 40, 0.15, 20 + j), w2, K, SCALE, res.offsets).argmax(1)
        assert np.mean(pred == 4 + j) >= 0.85


def test_bad_inputs():
    w = _known_weight()
    good = [_clips(np.eye(DIM)[8], 4, 0.1, 0)]
    with pytest.raises(ValueError):
        em.enrol([], w, K, SCALE)
    with pytest.raises(ValueError):
        em.enrol([np.zeros((0, DIM))], w, K, SCALE)
    with pytest.raises(ValueError):
        em.enrol([np.ones((3, DIM + 1))], w, K, SCALE)
    with pytest.raises(ValueError):
        em.enrol(good, w[:-1], K, SCALE)
    with pytest.raises(ValueError):
        em.enrol(good, w, K, SCALE, recall=0.0)
    with pytest.raises(ValueError):
        em.enrol(good, w, K, SCALE, known_embeddings=np.ones((2, DIM)))
