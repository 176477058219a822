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
