"""The ``prepare`` subcommands (argparse) and the recipe-level helpers."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from geolid.data import cli, prepare
from geolid.data.datadir import DataDir, DataDirError, write_data_dir


@pytest.fixture
def vl_root(tmp_path, audio) -> Path:
    root = tmp_path / "vl"
    for rel in ["en/a.wav", "fr/b.wav", "dev/en/c.wav"]:
        audio.wav(root / rel)
    return root


def test_prepare_voxlingua107_and_validate(vl_root, tmp_path, capsys):
    out = tmp_path / "data"
    assert cli.main(["prepare", "voxlingua107", str(vl_root), str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "train_voxlingua107_lang"), str(out / "dev_voxlingua107_lang")]
    assert (out / "train_voxlingua107_lang" / "utt2lang").read_text() == "eng_a eng\nfra_b fra\n"
    assert cli.main(["prepare", "validate", str(out / "train_voxlingua107_lang"),
                     "--check-audio"]) == 0
    assert "OK (2 utterances, 2 languages)" in capsys.readouterr().out


def test_combine_and_cross(vl_root, tmp_path, capsys):
    out = tmp_path / "data"
    cli.main(["prepare", "voxlingua107", str(vl_root), str(out)])
    other = write_data_dir(out / "train_x_lang", DataDir({"deu_q": "/q.wav"}, {"deu_q": "deu"}))
    assert cli.main(["prepare", "combine", str(out / "all"), str(out / "train_voxlingua107_lang"),
                     str(other), "--names", "vl", "x"]) == 0
    assert (out / "all" / "dataset2utt").read_text() == "vl eng_a fra_b\nx deu_q\n"
    assert cli.main(["prepare", "cross", str(out / "all"), str(out / "dev_voxlingua107_lang"),
                     str(out / "cross")]) == 0
    assert (out / "cross" / "utt2lang").read_text() == "eng_a eng\n"


def test_errors_exit_1_with_message(tmp_path, capsys):
    assert cli.main(["prepare", "voxpopuli", str(tmp_path / "missing"), str(tmp_path / "o")]) == 1
    assert "error: VoxPopuli: folder" in capsys.readouterr().err
    bad = write_data_dir(tmp_path / "bad", DataDir({"eng_a": "/nope.wav"}, {"eng_a": "eng"}))
    assert cli.main(["prepare", "validate", str(bad), "--check-audio"]) == 1
    assert "wav.scp:1: audio file '/nope.wav'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["prepare", "nosuchcorpus", "a", "b"])


def test_mountable_into_another_parser():
    parser = argparse.ArgumentParser(prog="geolid")
    sub = parser.add_subparsers(dest="command")
    cli.add_prepare_subcommands(sub)
    args = parser.parse_args(["prepare", "babel", "R", "O", "--min-duration", "5",
                              "--sph2pipe", "/s", "--ids", "101", "402"])
    assert (args.root, args.out, args.min_duration, args.sph2pipe, args.ids) == (
        "R", "O", 5.0, "/s", ["101", "402"])
    assert args.func is cli._babel
    args = parser.parse_args(["prepare", "fleurs", "R", "O", "--download", "--languages", "en_us"])
    assert args.download and args.languages == ["en_us"] and args.func is cli._fleurs


def test_module_runs_standalone_without_heavy_imports(tmp_path):
    code = ("import sys, geolid.data.cli; "
            "print(sorted(m for m in ('torch', 'lang2vec', 'soundfile', 'espnet2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    res = subprocess.run([sys.executable, "-m", "geolid.data.cli", "prepare", "--help"],
                         capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert res.returncode == 0 and "voxlingua107" in res.stdout


def test_prepare_all_make_combined_and_cross(vl_root, tmp_path):
    out = tmp_path / "data"
    done = prepare.prepare_all({"voxlingua107": vl_root, "babel": None}, out)
    assert list(done) == ["voxlingua107"]
    write_data_dir(out / "train_fleurs_lang", DataDir({"deu_f": "/f.wav"}, {"deu_f": "deu"}))
    write_data_dir(out / "test_fleurs_lang",
                   DataDir({"deu_t": "/t.wav", "eng_t": "/e.wav"}, {"deu_t": "deu", "eng_t": "eng"}))
    combined = prepare.make_combined(out, train_sets=["train_fleurs_lang", "train_voxlingua107_lang"])
    assert combined == out / "train_all_no_filter_lang"
    assert (combined / "dataset2utt").read_text() == (
        "train_fleurs_lang deu_f\ntrain_voxlingua107_lang eng_a fra_b\n")
    with pytest.raises(DataDirError, match="train_babel_over_10s_lang'] not found"):
        prepare.make_combined(out)
    written = prepare.make_cross_sets(out, "train_voxlingua107_lang")
    # In-domain (same corpus field) sets are evaluated as they are, as ESPnet's lid1 template.
    assert [p.name for p in written] == ["test_fleurs_lang_cross_train_voxlingua107_lang"]
    assert (written[0] / "utt2lang").read_text() == "eng_t eng\n"
    assert prepare.eval_set_name("dev_voxlingua107_lang", "train_voxlingua107_lang") == "dev_voxlingua107_lang"
    assert prepare.eval_set_name("test_fleurs_lang", "train_all_no_filter_lang") == \
        "test_fleurs_lang_cross_train_all_no_filter_lang"
    assert prepare.eval_set_name("test_fleurs_lang", "train_x", cross_domain=False) == "test_fleurs_lang"
    with pytest.raises(DataDirError, match="unknown corpora"):
        prepare.prepare_all({"timit": "x"}, out)


def test_recipe_data_sh(vl_root, tmp_path):
    """local/data.sh dispatches to the per-corpus wrappers, then validates; derived sets
    (cross, combined) are lid.sh's, so data.sh has no options for them."""
    import os

    repo = Path(__file__).parents[2]
    env = dict(os.environ, PYTHON=sys.executable,
               PYTHONPATH=f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    data = tmp_path / "data"
    res = subprocess.run(["bash", str(repo / "egs2/geolid/lid1/local/data.sh"), "--data", str(data),
                          "--voxlingua107", str(vl_root)],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in data.iterdir()) == ["dev_voxlingua107_lang", "train_voxlingua107_lang"]
    assert res.stdout.count(": OK (") == 2
    res = subprocess.run(["bash", str(repo / "egs2/geolid/lid1/local/data.sh"), "--cross_train", "x"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2 and "unknown option --cross_train" in res.stderr
