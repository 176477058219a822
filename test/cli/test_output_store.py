"""``--out`` never destroys files, resumes only our own records of the same model, and
admits one writer at a time (issue 7 items 2, 3, 4)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geolid.cli.main import main

from .conftest import EXP_REL, make_scp


@pytest.fixture(autouse=True)
def _own_hash_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOLID_CACHE", str(tmp_path / "cache"))


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _scp(tmp_path, n=4):
    return make_scp(tmp_path, n)


def _keys(path: Path):
    return [json.loads(line)["key"] for line in path.read_text().splitlines()]


def test_unrelated_jsonl_and_tsv_are_refused_not_emptied(capsys, model_root, tmp_path):
    scp = _scp(tmp_path)
    other = tmp_path / "mine.jsonl"
    other.write_text('{"id": 1, "text": "my notes"}\n{"id": 2, "text": "more"}\n')
    tsv_as_jsonl = tmp_path / "table.jsonl"
    tsv_as_jsonl.write_text("key\tlanguage\nutt0\teng\n")
    for path in (other, tsv_as_jsonl):
        before = path.read_bytes()
        rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", path, "-q")
        assert rc == 2 and "not geolid results" in err and "--overwrite" in err
        assert path.read_bytes() == before
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", other,
                      "--overwrite", "-q")
    assert rc == 0 and _keys(other) == [f"utt{i}" for i in range(4)]


def test_existing_non_jsonl_outputs(capsys, model_root, tmp_path):
    scp = _scp(tmp_path, 2)
    notes = tmp_path / "notes.tsv"
    notes.write_text("my\tspreadsheet\n")
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", notes, "-q")
    assert rc == 2 and "not a geolid tsv output" in err and notes.read_text() == "my\tspreadsheet\n"
    ours = tmp_path / "ours.tsv"
    for _ in range(2):  # our own tsv output is replaced by a rerun
        rc, _, _ = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", ours, "-q")
        assert rc == 0 and len(ours.read_text().splitlines()) == 3


def test_damaged_middle_line_is_skipped_and_no_valid_record_is_lost(capsys, model_root, tmp_path):
    scp, out = _scp(tmp_path), tmp_path / "res.jsonl"
    rc, _, _ = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    lines = out.read_text().splitlines()
    assert rc == 0 and len(lines) == 4
    damaged = lines[1][:40] + "\x00garbage"
    out.write_text("\n".join([lines[0], damaged, lines[2], lines[3]]) + "\n")
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    assert rc == 0 and "1 damaged line(s) skipped (line 2)" in err and "3 valid record(s) kept" in err
    assert "incomplete record" not in err
    assert sorted(_keys(out)) == [f"utt{i}" for i in range(4)]          # utt1 run again, none lost
    assert out.read_text().splitlines()[:3] == [lines[0], lines[2], lines[3]]
    assert Path(f"{out}.damaged").read_text() == damaged + "\n"


def test_truncated_last_line_is_still_cut(capsys, model_root, tmp_path):
    scp, out = _scp(tmp_path), tmp_path / "res.jsonl"
    _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    lines = out.read_text().splitlines()
    out.write_text(lines[0] + "\n" + lines[1][:30])
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    assert rc == 0 and "incomplete record" in err and "1 of 4 inputs already" in err
    assert _keys(out) == [f"utt{i}" for i in range(4)] and not Path(f"{out}.damaged").exists()


def _retrained_copy(model_root: Path, dest: Path) -> Path:
    """The same model folder with slightly different weights."""
    import torch

    shutil.copytree(model_root, dest)
    pth = dest / EXP_REL / "valid.accuracy.best.pth"
    state = torch.load(pth, map_location="cpu", weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = state[name] + 0.01
    torch.save(state, pth)
    return dest


def test_records_carry_the_model_and_resuming_with_another_model_is_refused(
        capsys, model_root, tmp_path):
    scp, out = _scp(tmp_path), tmp_path / "res.jsonl"
    rc, _, _ = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    pth = model_root / EXP_REL / "valid.accuracy.best.pth"
    import hashlib
    sha = hashlib.sha256(pth.read_bytes()).hexdigest()
    assert rc == 0 and all(r["model"] == {"name": str(model_root), "sha256": sha} for r in recs)
    out.write_text("\n".join(out.read_text().splitlines()[:2]) + "\n")
    before = out.read_bytes()
    other = _retrained_copy(model_root, tmp_path / "other_model")
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", other, "--out", out, "-q")
    assert rc == 2 and "another model" in err and str(model_root) in err
    assert out.read_bytes() == before
    # the same weights under another name (the .pth itself) resume
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", pth, "--out", out, "-q")
    assert rc == 0 and "2 of 4 inputs already" in err and len(_keys(out)) == 4


def test_records_without_model_identity_are_not_resumed(capsys, model_root, tmp_path):
    scp, out = _scp(tmp_path), tmp_path / "res.jsonl"
    _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    old = [json.loads(x) for x in out.read_text().splitlines()]
    for r in old:
        r.pop("model")
    out.write_text("".join(json.dumps(r) + "\n" for r in old[:2]))
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    assert rc == 2 and "no model identity" in err and len(_keys(out)) == 2


def test_two_concurrent_runs_cannot_interleave(model_root, tmp_path):
    scp, out = _scp(tmp_path, 6), tmp_path / "res.jsonl"
    cmd = [sys.executable, "-m", "geolid.cli.main", "predict", "--scp", str(scp), "--model",
           str(model_root), "--out", str(out), "-q"]
    env = dict(os.environ, GEOLID_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(rc for rc, _ in results)
    assert codes == [0, 2], results
    refused = next(err for rc, err in results if rc == 2)
    assert "another geolid run is writing" in refused
    keys = _keys(out)
    assert sorted(keys) == [f"utt{i}" for i in range(6)]                 # each exactly once
