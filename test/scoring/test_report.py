"""score.json / score.txt writing, the results table and the two CLIs."""
import json

import pytest

from geolid.scoring import score as score_cli
from geolid.scoring import table as table_cli
from geolid.scoring.metrics import score_lids
from geolid.scoring.report import (format_score_text, gather_scores, read_label_file,
                                   results_table, write_score)


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


def test_score_cli_and_table_cli(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    ref = _write(data / "utt2lang", "eng_1 eng\neng_2 eng\nfra_1 fra\nfra_2 fra\n")
    for system, hyp_text in [("exp_a", "eng_1 eng\neng_2 eng\nfra_1 fra\nfra_2 eng\n"),
                             ("exp_b", "eng_1 eng\neng_2 fra\nfra_1 fra\n")]:
        for tset in ("set1", "set2"):
            hyp = _write(tmp_path / f"{system}_{tset}_lids", hyp_text)
            out = tmp_path / system / "score" / tset
            png = tmp_path / f"{system}_{tset}.png" if tset == "set1" else None
            argv = ["--ref", str(ref), "--hyp", str(hyp), "--out", str(out)]
            if png:
                argv += ["--confusion-png", str(png)]
            assert score_cli.main(argv) == 0
            assert (out / "score.txt").exists()
            if png:
                assert png.stat().st_size > 5000
    res = json.loads((tmp_path / "exp_b" / "score" / "set1" / "score.json").read_text())
    assert res["accuracy"] == pytest.approx(0.5) and res["n_missing"] == 1
    rows = gather_scores([tmp_path / "exp_a", tmp_path / "exp_b"])
    assert rows == {"exp_a": {"set1": 0.75, "set2": 0.75}, "exp_b": {"set1": 0.5, "set2": 0.5}}
    md_path = tmp_path / "RESULTS.md"
    assert table_cli.main(["--exp-dirs", str(tmp_path / "exp_a"), str(tmp_path / "exp_b"),
                           "--sets", "set2", "set1", "--names", "set1=One",
                           "--out", str(md_path)]) == 0
    assert md_path.read_text() == ("| config | set2 | One | macro |\n|---|---|---|---|\n"
                                   "| exp_a | 75.0 | 75.0 | 75.0 |\n| exp_b | 50.0 | 50.0 | 50.0 |\n")


def test_malformed_lines_name_file_and_line(tmp_path, capsys):
    bad = _write(tmp_path / "hyp", "u1 eng\nu2\n")
    with pytest.raises(ValueError, match=r"hyp:2: expected 'utt label'"):
        read_label_file(bad)
    dup = _write(tmp_path / "dup", "u1 eng\nu1 fra\n")
    with pytest.raises(ValueError, match=r"dup:2: duplicate utterance 'u1' \(first on line 1\)"):
        read_label_file(dup)
    ref = _write(tmp_path / "ref", "u1 eng\nu2 fra\n")
    rc = score_cli.main(["--ref", str(ref), "--hyp", str(bad), "--out", str(tmp_path / "o")])
    assert rc == 2 and "hyp:2" in capsys.readouterr().err
    assert table_cli.main(["--exp-dirs", str(tmp_path / "nope")]) == 2


def test_write_score_is_loadable(tmp_path):
    r = score_lids({"a": "eng"}, {"a": "eng"})
    write_score(r, tmp_path / "x")
    assert json.loads((tmp_path / "x" / "score.json").read_text())["accuracy"] == 1.0
    assert not [p for p in (tmp_path / "x").iterdir() if p.name.endswith(".tmp")]
