"""score.json / score.txt writing and the results table."""
import json

import pytest

from geolid.scoring.metrics import score_lids
from geolid.scoring.report import format_score_text, read_label_file, results_table, write_score


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
