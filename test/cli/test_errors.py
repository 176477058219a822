"""Model and option errors are one-line messages with exit status 2 (issue 7 item 10)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from geolid.cli.main import main

from .conftest import EXP_REL, noise, write

PREFIX = "geolid predict: error: "


@pytest.fixture
def broken(model_root, tmp_path):
    """A fresh copy of the tiny model to damage, and an input for it."""
    root = tmp_path / "model"
    shutil.copytree(model_root, root)
    wav = write(tmp_path / "a.wav", noise(1.0))
    return root, root / EXP_REL, wav


def _one_line_error(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, err
    assert out == "" and "Traceback" not in err
    assert lines and lines[-1].startswith(PREFIX), err       # the message is the last line ...
    assert sum(line.startswith(PREFIX) for line in lines) == 1  # ... and one line
    return lines[-1][len(PREFIX):]


def _edit_config(exp: Path, change) -> None:
    conf = yaml.safe_load((exp / "config.yaml").read_text())
    change(conf)
    (exp / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))


def test_truncated_checkpoint(capsys, broken):
    root, exp, wav = broken
    pth = exp / "valid.accuracy.best.pth"
    pth.write_bytes(pth.read_bytes()[: pth.stat().st_size // 2])
    msg = _one_line_error(capsys, "predict", wav, "--model", root)
    assert "valid.accuracy.best.pth" in msg and "not a readable PyTorch weights file (truncated" in msg


def test_checkpoint_with_wrong_keys(capsys, broken):
    import torch

    root, exp, wav = broken
    pth = exp / "valid.accuracy.best.pth"
    state = torch.load(pth, weights_only=True)
    state["renamed.weight"] = state.pop(next(iter(state)))
    torch.save(state, pth)
    msg = _one_line_error(capsys, "predict", wav, "--model", root)
    assert "does not match the model" in msg and "-v" in msg


def test_invalid_yaml(capsys, broken):
    root, exp, wav = broken
    (exp / "config.yaml").write_text("encoder: ecapa_tdnn\nencoder_conf: {model_scale: [2\n")
    msg = _one_line_error(capsys, "predict", wav, "--model", root)
    assert "config.yaml" in msg and "YAML" in msg


def test_nested_key_typo(capsys, broken):
    root, exp, wav = broken
    _edit_config(exp, lambda c: c["encoder_conf"].update(model_scal=c["encoder_conf"].pop("model_scale")))
    msg = _one_line_error(capsys, "predict", wav, "--model", root)
    assert "model_scal" in msg and "encoder_conf" in msg


def test_top_level_key_typo_is_rejected(capsys, broken):
    root, exp, wav = broken
    _edit_config(exp, lambda c: c.update(lang_nmu=4))
    msg = _one_line_error(capsys, "predict", wav, "--model", root)
    assert "lang_nmu" in msg and "lang_num" in msg   # names the key and suggests the right one


def test_nan_weights_are_a_model_error(capsys, broken):
    import torch

    root, exp, wav = broken
    pth = exp / "valid.accuracy.best.pth"
    state = torch.load(pth, weights_only=True)
    name = [k for k, v in state.items() if v.is_floating_point()][-1]
    state[name][0] = float("nan")
    torch.save(state, pth)
    msg = _one_line_error(capsys, "predict", wav, "--model", root)
    assert "NaN" in msg and name in msg


def test_option_errors_exit_2(capsys, broken, tmp_path):
    root, _, wav = broken
    assert "int8" in _one_line_error(capsys, "predict", wav, "--model", root, "--quantize", "int8",
                                     "--device", "cuda")
    assert "--window" in _one_line_error(capsys, "predict", wav, "--model", root, "--window", "0")


@pytest.mark.parametrize("argv,needle", [
    (["--device", "cuda"], "no CUDA GPU"),
    (["--device", "tpu"], "use cpu, cuda"),
    (["--window", "inf"], "--window"),
    (["--min-duration", "nan"], "--min-duration"),
    (["--overlap", "40"], "--overlap"),
    (["--timeline", "--timeline-hop", "nan"], "--timeline-hop must be a positive"),
    (["--languages", "de,xyz"], "did you mean 'deu'"),
    (["--reject-unknown"], "no fitted unknown-language score"),
])
def test_more_option_errors_are_one_line(capsys, broken, argv, needle, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    root, _, wav = broken
    assert needle in _one_line_error(capsys, "predict", wav, "--model", root, *argv)


def test_bogus_speech_detector_variable_is_one_line(capsys, broken, monkeypatch):
    from geolid.cli.main import main as fresh_main

    monkeypatch.setenv("GEOLID_SPEECH_DETECTOR", "webrtc")
    root, _, wav = broken
    rc = fresh_main(["predict", str(wav), "--model", str(root)])
    err = capsys.readouterr().err
    assert rc == 2 and "GEOLID_SPEECH_DETECTOR" in err and "webrtc" in err and "Traceback" not in err


def test_verbose_is_accepted_anywhere(capsys, broken):
    root, exp, wav = broken
    (exp / "config.yaml").write_text("encoder: [1\n")
    for argv in (["-v", "predict", wav, "--model", root], ["predict", wav, "--model", root, "-v"]):
        assert main([str(a) for a in argv]) == 2
        assert "YAML" in capsys.readouterr().err


def test_map_into_a_missing_folder_is_refused_before_any_work(capsys, broken, tmp_path):
    root, _, wav = broken
    msg = _one_line_error(capsys, "predict", wav, "--model", root, "--map", tmp_path / "no" / "m.png")
    assert "does not exist" in msg and not (tmp_path / "no").exists()


def test_unreadable_scp_is_one_line(capsys, broken, tmp_path, monkeypatch):
    import geolid.utils.fileio as fileio

    root, _, wav = broken
    scp = tmp_path / "wav.scp"
    scp.write_text(f"a {wav}\n")

    def denied(path, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(fileio, "read_kaldi_map", denied)   # root reads any file: simulate
    assert "cannot read it" in _one_line_error(capsys, "predict", "--scp", scp, "--model", root)


def test_unreachable_inputs_are_error_records_and_the_rest_run(capsys, broken, tmp_path, monkeypatch):
    """A file under a folder this user may not search, and a subfolder it may not list,
    become error records naming them; everything else is predicted (rc 1)."""
    import json
    import os

    import geolid.cli.predict as predict_cli

    root, _, wav = broken
    clips = tmp_path / "clips"
    write(clips / "ok.wav", noise(1.0))
    (clips / "locked").mkdir()
    real_walk = os.walk

    def walk(top, onerror=None, **kw):
        for entry in real_walk(top, onerror=onerror, **kw):
            dirs = entry[1]
            if "locked" in dirs:   # what os.walk does with a folder it may not list
                dirs.remove("locked")
                onerror(PermissionError(13, "Permission denied", os.path.join(entry[0], "locked")))
            yield entry

    monkeypatch.setattr(predict_cli.os, "walk", walk)
    hidden = tmp_path / "secret" / "x.wav"
    real_is_dir = type(hidden).is_dir

    def is_dir(self):
        if self == hidden:
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_dir(self)

    monkeypatch.setattr(type(hidden), "is_dir", is_dir)
    rc = main(["predict", str(clips), str(hidden), "--model", str(root), "--format", "jsonl", "-q"])
    out, err = capsys.readouterr()
    recs = {r["key"]: r for r in map(json.loads, out.splitlines())}
    assert rc == 1 and "Traceback" not in err
    assert recs[str(clips / "ok.wav")]["error"] is None
    assert recs[str(clips / "locked")]["error"] and recs[str(hidden)]["error"]


def test_a_config_value_of_the_wrong_type_is_blamed_on_the_config(capsys, broken):
    root, exp, wav = broken
    _edit_config(exp, lambda c: c["encoder_conf"].update(ndim="sixty-four"))
    msg = _one_line_error(capsys, "predict", wav, "--model", root)
    assert "config.yaml" in msg and "ndim" in msg and "download" not in msg
