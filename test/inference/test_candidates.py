"""Candidate-language lists and "none of these" (geolid.inference.candidates)."""
import numpy as np
import pytest

from geolid.inference import candidates as cand

ORDER = ["cmn", "eng", "fra", "hin", "mri", "nci", "por", "que", "rus", "spa", "swa", "vie"]


def test_restrict_renormalises_over_allowed_and_reports_the_mass():
    p = np.array([0.5, 0.2, 0.2, 0.1])
    r, mass = cand.restrict(p, [1, 3])
    np.testing.assert_allclose(r, [0.0, 2 / 3, 0.0, 1 / 3])
    assert mass == pytest.approx(0.3)
    assert r.shape == p.shape


def test_restrict_batch_and_order_of_indices_does_not_matter():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6), size=5)
    r1, m1 = cand.restrict(p, [4, 0, 2])
    r2, m2 = cand.restrict(p, [0, 2, 4])
    np.testing.assert_allclose(r1, r2)
    np.testing.assert_allclose(r1.sum(1), 1.0)
    np.testing.assert_allclose(m1, p[:, [0, 2, 4]].sum(1))
    assert np.all(r1[:, [1, 3, 5]] == 0)
    # all classes allowed: unchanged
    r, m = cand.restrict(p, range(6))
    np.testing.assert_allclose(r, p)
    np.testing.assert_allclose(m, 1.0)


def test_restrict_underflow_becomes_uniform_and_bad_indices_are_refused():
    r, m = cand.restrict(np.array([1.0, 0.0, 0.0]), [1, 2])
    np.testing.assert_allclose(r, [0.0, 0.5, 0.5])
    assert m == 0.0
    for bad in ([], [3], [-1], [1, 1]):
        with pytest.raises(cand.CandidateError):
            cand.restrict(np.array([0.5, 0.3, 0.2]), bad)


def test_decide_none_of_these_below_the_threshold_keeps_the_distribution():
    p = np.array([[0.05, 0.05, 0.9],      # mass on allowed {0, 1} = 0.1 -> none
                  [0.6, 0.3, 0.1]])       # 0.9 -> class 0
    best, restricted, mass = cand.decide(p, [0, 1], min_allowed_mass=0.5)
    assert best.tolist() == [-1, 0]
    np.testing.assert_allclose(restricted[0], [0.5, 0.5, 0.0])   # still reported
    np.testing.assert_allclose(mass, [0.1, 0.9])
    best, _, _ = cand.decide(p, [0, 1], min_allowed_mass=0.0)   # 0 disables "none"
    assert best.tolist() == [0, 0]
    b, r, m = cand.decide(p[1], [1, 2], min_allowed_mass=0.39)
    assert b == 1 and m == pytest.approx(0.4)
    assert cand.decide(p[1], [1, 2], min_allowed_mass=0.41)[0] == -1
    assert cand.decide(p[1], [0, 1])[0] == 0                  # default threshold: 0.9 kept
    assert cand.decide(p[1], [1, 2])[0] == (1 if 0.4 >= cand.DEFAULT_MIN_ALLOWED_MASS else -1)


def test_default_threshold_and_label():
    assert 0.0 < cand.DEFAULT_MIN_ALLOWED_MASS < 1.0
    assert cand.NONE_OF_THESE == "none"
    from geolid.languages import is_iso3

    assert not is_iso3(cand.NONE_OF_THESE)


def test_parse_languages_in_given_order():
    assert cand.parse_languages("eng,fra,spa", ORDER) == [1, 2, 9]
    assert cand.parse_languages("spa eng", ORDER) == [9, 1]
    assert cand.parse_languages(["ENG", " fra "], ORDER) == [1, 2]


def test_parse_languages_errors_name_the_problem_and_suggest():
    with pytest.raises(cand.CandidateError, match=r"'en' is not an ISO 639-3.*'eng'"):
        cand.parse_languages("en,fra", ORDER)
    with pytest.raises(cand.CandidateError, match=r"'deu' \(German\) is not one of this model's 12"):
        cand.parse_languages("deu", ORDER)
    with pytest.raises(cand.CandidateError, match="listed twice"):
        cand.parse_languages("eng,fra,eng", ORDER)
    with pytest.raises(cand.CandidateError, match="empty"):
        cand.parse_languages(" , ", ORDER)
    with pytest.raises(cand.CandidateError) as e:       # every problem at once
        cand.parse_languages("xx1,deu,engg", ORDER)
    msg = str(e.value)
    assert "'xx1'" in msg and "'deu'" in msg and "'engg'" in msg and "'eng'" in msg
