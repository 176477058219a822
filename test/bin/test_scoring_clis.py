"""``python -m geolid.bin.score_lids`` and ``python -m geolid.bin.results_table``."""
import json

import pytest

from geolid.bin import results_table as table_cli
from geolid.bin import score_lids as score_cli
from geolid.scoring.report import gather_scores


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
            argv = ["--ref", str(ref), "--hyp", str(hyp), "--out", str(out), "--missing", "count"]
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


def test_errors_exit_2_naming_the_file(tmp_path, capsys):
    bad = _write(tmp_path / "hyp", "u1 eng\nu2\n")
    ref = _write(tmp_path / "ref", "u1 eng\nu2 fra\n")
    rc = score_cli.main(["--ref", str(ref), "--hyp", str(bad), "--out", str(tmp_path / "o")])
    assert rc == 2 and "hyp:2" in capsys.readouterr().err
    assert table_cli.main(["--exp-dirs", str(tmp_path / "nope")]) == 2


def test_missing_or_extra_hypothesis_is_an_error_naming_file_and_utterance(tmp_path, capsys):
    """As upstream (its keys must match), with the file and the utterance named."""
    ref = _write(tmp_path / "utt2lang", "eng_1 eng\neng_2 eng\nfra_1 fra\n")
    hyp = _write(tmp_path / "lids", "eng_1 eng\nfra_1 fra\n")
    rc = score_cli.main(["--ref", str(ref), "--hyp", str(hyp), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{hyp} has no hypothesis for 1 utterance(s) of {ref}, the first 'eng_2'" in err
    assert "--missing count" in err and not (tmp_path / "o").exists()
    _write(hyp, "eng_1 eng\neng_2 eng\nfra_1 fra\nzzz_9 eng\n")
    assert score_cli.main(["--ref", str(ref), "--hyp", str(hyp), "--out", str(tmp_path / "o")]) == 2
    assert f"{hyp} has 1 utterance(s) that {ref} lacks, the first 'zzz_9'" in capsys.readouterr().err


def test_cli_results_toy_example_published_and_ours(tmp_path, capsys):
    ref = _write(tmp_path / "utt2lang", "eng_1 eng\neng_2 eng\nfra_1 fra\n")
    hyp = _write(tmp_path / "lids", "eng_1 eng\neng_2 eng\nfra_1 deu\n")
    base = ["--ref", str(ref), "--hyp", str(hyp)]
    assert score_cli.main(base + ["--out", str(tmp_path / "a"), "--results", str(tmp_path / "ra")]) == 0
    text = (tmp_path / "ra").read_text()
    assert "Overall Precision: 66.67%\n" in text and "Key: fra_1, Target: fra, Prediction: deu" in text
    assert score_cli.main(base + ["--out", str(tmp_path / "b"), "--results", str(tmp_path / "rb"),
                                  "--overall", "test-languages", "--results-incorrect", "false"]) == 0
    text = (tmp_path / "rb").read_text()
    assert "Overall Precision: 100.00%\n" in text and "Detailed Incorrect" not in text
    assert json.loads((tmp_path / "b" / "score.json").read_text())["overall"] == "test_languages"
