"""``python -m geolid.bin.data_prep`` / ``geolid prepare``: argparse wiring, exit codes, new jobs."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from geolid.bin import data_prep as cli
from geolid.cli import prepare as prepare_cli
from geolid.data.datadir import DataDir, write_data_dir


@pytest.fixture
def vl_root(tmp_path) -> Path:
    root = tmp_path / "vl"
    for rel in ["en/a.wav", "fr/b.wav", "dev/en/c.wav"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(root / rel), [0.1, -0.1] * 400, 16000, subtype="PCM_16")
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
    assert "wav.scp:1: audio of 'eng_a': /nope.wav: file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["prepare", "nosuchcorpus", "a", "b"])


def test_mountable_into_another_parser():
    parser = argparse.ArgumentParser(prog="geolid")
    sub = parser.add_subparsers(dest="command")
    prepare_cli.add_prepare_subcommands(sub)
    args = parser.parse_args(["prepare", "babel", "R", "O", "--min-duration", "5",
                              "--sph2pipe", "/s", "--ids", "101", "402"])
    assert (args.root, args.out, args.min_duration, args.sph2pipe, args.ids) == (
        "R", "O", 5.0, "/s", ["101", "402"])
    assert args.func is prepare_cli._babel
    args = parser.parse_args(["prepare", "fleurs", "R", "O", "--download", "--languages", "en_us"])
    assert args.download and args.languages == ["en_us"] and args.func is prepare_cli._fleurs


def test_module_runs_standalone_without_heavy_imports(tmp_path):
    code = ("import sys, geolid.bin.data_prep; "
            "print(sorted(m for m in ('torch', 'lang2vec', 'soundfile', 'espnet2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    res = subprocess.run([sys.executable, "-m", "geolid.bin.data_prep", "prepare", "--help"],
                         capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert res.returncode == 0 and "voxlingua107" in res.stdout


def test_split_data_and_is_subset(tmp_path, capsys):
    """The two data jobs that came from recipe_tools: per-job data dirs and the language check."""
    labels = {f"{'eng' if i < 3 else 'fra'}_u{i}": "eng" if i < 3 else "fra" for i in range(5)}
    data = write_data_dir(tmp_path / "test_x", DataDir({u: f"/{u}.wav" for u in labels}, labels))
    assert cli.main(["split-data", str(data), "2", str(tmp_path / "split")]) == 0
    parts = capsys.readouterr().out.split()
    assert parts == [str(tmp_path / "split" / k / "test_x") for k in ("1", "2")]
    assert (tmp_path / "split/2/test_x/utt2lang").read_text() == "fra_u3 fra\nfra_u4 fra\n"
    lang2utt = tmp_path / "lang2utt"
    lang2utt.write_text("fra u9\neng u8\n")
    assert cli.main(["is-subset", str(data), str(lang2utt)]) == 0
    lang2utt.write_text("eng u8\n")
    assert cli.main(["is-subset", str(data), str(lang2utt)]) == 1
    assert "languages not in training: fra" in capsys.readouterr().err
