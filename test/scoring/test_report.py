"""score.json / score.txt writing and the results table."""
import json

import pytest

from geolid.scoring.metrics import score_lids
from geolid.scoring.report import (format_score_text, read_label_file, results_table,
                                   write_espnet_results, write_score)


def test_results_table_exact_markdown():
    rows = {"baseline": {"vl107": 0.942, "babel": 0.867},
            "shared_trainable": {"vl107": 0.949, "babel": 0.877},
            "partial": {"vl107": 0.5}}
    md = results_table(rows, column_names={"vl107": "VL107", "babel": "Babel"})
    assert md == (
        "| config | VL107 | Babel | macro |\n"
        "|---|---|---|---|\n"
        "| baseline | 94.2 | 86.7 | 90.5 |\n"
        "| shared_trainable | 94.9 | 87.7 | 91.3 |\n"
        "| partial | 50.0 | - | 50.0* |\n"
    )


def test_score_text_contents():
    r = score_lids({"a": "eng", "b": "fra"}, {"a": "eng", "b": "eng"})
    txt = format_score_text(r, "demo")
    assert txt.splitlines()[0] == "# demo"
    assert "accuracy:       50.00%" in txt
    assert "macro accuracy: 50.00%  (2 languages)" in txt
    assert "eng              1      2   50.00  100.00   66.67" in txt
    assert "  fra -> eng: 1" in txt


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_lines_name_file_and_line(tmp_path):
    bad = _write(tmp_path / "hyp", "u1 eng\nu2\n")
    with pytest.raises(ValueError, match=r"hyp:2: expected 'utt label'"):
        read_label_file(bad)
    dup = _write(tmp_path / "dup", "u1 eng\nu1 fra\n")
    with pytest.raises(ValueError, match=r"dup:2: duplicate utterance 'u1' \(first on line 1\)"):
        read_label_file(dup)


def test_write_score_is_loadable(tmp_path):
    r = score_lids({"a": "eng"}, {"a": "eng"})
    write_score(r, tmp_path / "x")
    assert json.loads((tmp_path / "x" / "score.json").read_text())["accuracy"] == 1.0
    assert not [p for p in (tmp_path / "x").iterdir() if p.name.endswith(".tmp")]


TOY_REF = {"eng_1": "eng", "eng_2": "eng", "fra_1": "fra"}
TOY_HYP = {"eng_1": "eng", "eng_2": "eng", "fra_1": "deu"}  # deu: a training language


def test_results_as_published_on_a_toy_example(tmp_path):
    """Where the definitions differ: fra_1 is labelled deu, a language the test set lacks.
    Upstream's score.py counts that as a false positive (of deu, a training language):
    overall precision 2 / 3 = 66.67%; micro over the test languages would say 100%."""
    write_score(score_lids(TOY_REF, TOY_HYP), tmp_path / "s")
    results = write_espnet_results(tmp_path / "s", tmp_path / "results")
    assert results.read_text() == (
        "Overall Accuracy: 66.67%\n"
        "Overall Precision: 66.67%\n"
        "Overall Recall: 66.67%\n"
        "Overall F1: 66.67%\n"
        "\n"
        "Macro Accuracy across Languages: 50.00%\n"
        "Macro Precision across Languages: 50.00%\n"
        "Macro Recall across Languages: 50.00%\n"
        "Macro F1 across Languages: 50.00%\n"
        "\n"
        "Per-Language Metrics:\n"
        "eng:\n  Accuracy: 100.00%\n  Precision: 100.00%\n  Recall: 100.00%\n  F1: 100.00%\n"
        "fra:\n  Accuracy: 0.00%\n  Precision: 0.00%\n  Recall: 0.00%\n  F1: 0.00%\n"
        "\n"
        "Error Frequency (Target->Prediction):\n"
        "fra->deu: 1\n"
        "\n"
        "Detailed Incorrect Predictions:\n"
        "Key: fra_1, Target: fra, Prediction: deu\n")
    # Ours, as an option: micro over the test set's languages.
    write_score(score_lids(TOY_REF, TOY_HYP, overall="test_languages"), tmp_path / "t")
    ours = write_espnet_results(tmp_path / "t", tmp_path / "results_ours", incorrect=False)
    text = ours.read_text()
    assert "Overall Precision: 100.00%\n" in text and "Overall Recall: 66.67%\n" in text
    assert "Detailed Incorrect Predictions" not in text


def test_results_lists_every_error_pair_unless_limited(tmp_path):
    ref = {f"{l}_{i}": l for l in ("eng", "fra") for i in range(30)}
    hyp = {u: ("deu" if int(u[4:]) < 25 else u[:3]) for u in ref}
    hyp.update({f"eng_{i}": f"x{i:02d}" for i in range(25)})  # 25 distinct eng confusions
    write_score(score_lids(ref, hyp), tmp_path / "s")  # score.json keeps its top 20 ...
    text = write_espnet_results(tmp_path / "s", tmp_path / "r").read_text()
    pairs = text.split("Error Frequency (Target->Prediction):\n")[1].split("\n\n")[0].split()
    assert len(pairs) == 2 * 26 and pairs[:2] == ["fra->deu:", "25"]  # ... results lists all
    assert text.count("Key: ") == 50
    short = write_espnet_results(tmp_path / "s", tmp_path / "r2", top_errors=3).read_text()
    block = short.split("Error Frequency (Target->Prediction):\n")[1].split("\n\n")[0]
    assert block.splitlines() == ["fra->deu: 25", "eng->x00: 1", "eng->x01: 1"]
    assert short.count("Key: ") == 50
