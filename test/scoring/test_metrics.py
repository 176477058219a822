"""score_lids on hand-made examples with numbers worked out by hand."""
import pytest

from geolid.scoring.metrics import MISSING, score_lids


def _example():
    ref = {"a1": "eng", "a2": "eng", "a3": "eng", "a4": "eng",
           "b1": "fra", "b2": "fra", "c1": "deu", "c2": "deu"}
    hyp = {"a1": "eng", "a2": "eng", "a3": "eng", "a4": "fra",
           "b1": "fra", "b2": "eng", "c1": "deu", "c2": "unknown", "zz": "eng"}
    return ref, hyp


def test_accuracy_macro_and_f1():
    r = score_lids(*_example())
    assert r["n_utts"] == 8 and r["n_correct"] == 5
    assert r["accuracy"] == pytest.approx(5 / 8)
    # recalls: eng 3/4, fra 1/2, deu 1/2
    assert r["macro_accuracy"] == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    eng, fra, deu = (r["per_language"][l] for l in ("eng", "fra", "deu"))
    assert eng["precision"] == pytest.approx(3 / 4) and eng["recall"] == pytest.approx(3 / 4)
    assert fra["precision"] == pytest.approx(1 / 2) and fra["f1"] == pytest.approx(1 / 2)
    assert deu["precision"] == pytest.approx(1.0) and deu["recall"] == pytest.approx(0.5)
    assert deu["f1"] == pytest.approx(2 / 3)
    assert r["macro"]["precision"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert r["macro"]["f1"] == pytest.approx((0.75 + 0.5 + 2 / 3) / 3)
    # Published overall values: every wrong hypothesis ('unknown' included) is a false
    # positive of its label, so precision = recall = F1 = accuracy.
    assert r["overall"] == "published"
    assert r["micro"] == pytest.approx({"precision": 5 / 8, "recall": 5 / 8, "f1": 5 / 8})
    assert eng["support"] == 4 and eng["n_predicted"] == 4
    # Ours: micro over the test languages leaves out the one 'unknown' prediction: 5 / 7.
    t = score_lids(*_example(), overall="test_languages")
    assert t["micro"]["precision"] == pytest.approx(5 / 7)
    assert t["micro"]["recall"] == pytest.approx(5 / 8)
    assert t["micro"]["f1"] == pytest.approx(2 * (5 / 7) * (5 / 8) / (5 / 7 + 5 / 8))
    assert {k: t[k] for k in ("accuracy", "macro", "per_language")} == \
        {k: r[k] for k in ("accuracy", "macro", "per_language")}
    with pytest.raises(ValueError, match="overall='micro'"):
        score_lids(*_example(), overall="micro")


def test_unknown_labels_missing_and_extra():
    ref, hyp = _example()
    del hyp["a1"]
    r = score_lids(ref, hyp)
    assert r["n_missing"] == 1 and r["n_extra"] == 1
    assert r["extra_hyp_labels"] == [MISSING, "unknown"]
    assert r["ref_labels"] == ["deu", "eng", "fra"]
    cm = r["confusion_matrix"]
    assert cm["labels"] == ["deu", "eng", "fra", MISSING, "unknown"]
    assert cm["counts"] == [[1, 0, 0, 0, 1],
                            [0, 2, 1, 1, 0],
                            [0, 1, 1, 0, 0],
                            [0, 0, 0, 0, 0],
                            [0, 0, 0, 0, 0]]
    assert r["accuracy"] == pytest.approx(4 / 8)
    # published overall precision: correct / hypotheses given (7 of the 8 utterances)
    assert r["micro"]["precision"] == pytest.approx(4 / 7)
    unk = r["per_language"]["unknown"]
    assert unk["recall"] is None and unk["precision"] == 0.0 and unk["n_predicted"] == 1
    # macro means stay over the test set's own languages
    assert r["macro_accuracy"] == pytest.approx((0.5 + 0.5 + 0.5) / 3)


def test_confusions_sorted_by_count_then_label():
    ref = {f"u{i}": "eng" for i in range(5)} | {f"v{i}": "fra" for i in range(3)}
    hyp = {"u0": "fra", "u1": "fra", "u2": "deu", "u3": "eng", "u4": "eng",
           "v0": "eng", "v1": "fra", "v2": "fra"}
    r = score_lids(ref, hyp, top_confusions=2)
    assert r["confusions"] == [["eng", "fra", 2], ["eng", "deu", 1]]
    # errors: every pair; incorrect: the utterances in hypothesis order
    assert r["errors"] == [["eng", "fra", 2], ["eng", "deu", 1], ["fra", "eng", 1]]
    assert r["incorrect"] == [["u0", "eng", "fra"], ["u1", "eng", "fra"], ["u2", "eng", "deu"],
                              ["v0", "fra", "eng"]]
    assert score_lids(ref, hyp, top_confusions=None)["confusions"] == r["errors"]


def test_perfect_and_empty():
    r = score_lids({"a": "eng", "b": "fra"}, {"a": "eng", "b": "fra"})
    assert r["accuracy"] == 1.0 and r["macro"]["f1"] == 1.0 and r["confusions"] == []
    with pytest.raises(ValueError, match="empty"):
        score_lids({}, {"a": "eng"})
