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
    assert rc == 0 and all(r["model"] == {"name": str(model_root), "sha256": sha, "head": ""}
                           for r in recs)
    out.write_text("\n".join(out.read_text().splitlines()[:2]) + "\n")
    before = out.read_bytes()
    other = _retrained_copy(model_root, tmp_path / "other_model")
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", other, "--out", out, "-q")
    assert rc == 2 and "another model" in err and str(model_root) in err
    assert out.read_bytes() == before
    # the same weights under another name (the .pth itself) resume
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", pth, "--out", out, "-q")
    assert rc == 0 and "2 of 4 inputs already" in err and len(_keys(out)) == 4


def test_resuming_with_other_options_or_a_new_calibration_is_refused(capsys, model_root, tmp_path):
    """Options that change results, and a calibration added between two runs, are part of
    what a resumed --out must match."""
    import shutil

    root = tmp_path / "model"
    shutil.copytree(model_root, root)
    scp, out = _scp(tmp_path), tmp_path / "res.jsonl"
    assert _run(capsys, "predict", "--scp", scp, "--model", root, "--out", out, "-q")[0] == 0
    out.write_text("\n".join(out.read_text().splitlines()[:2]) + "\n")
    before = out.read_bytes()
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", root, "--out", out, "-q",
                      "--window", "10")
    assert rc == 2 and "other options" in err and out.read_bytes() == before
    (root / EXP_REL / "calibration.json").write_text('{"temperature": 2.0}')
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", root, "--out", out, "-q")
    assert rc == 2 and "another model" in err and out.read_bytes() == before
    # batching options change no result: they resume
    (root / EXP_REL / "calibration.json").unlink()
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", root, "--out", out, "-q",
                      "--batch-size", "3")
    assert rc == 0 and "2 of 4 inputs already" in err


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


# ------------------------------------------------------------------ issue: output files
# (symlinked --out, TSV escaping, temps of killed runs, places that cannot be written)


@pytest.fixture
def dev_untouchable(monkeypatch):
    """Even a regression must not replace a device node: refuse renames into /dev."""
    real_replace, real_rename = os.replace, os.rename

    def guard(fn):
        def wrapped(src, dst, *a, **k):
            if str(dst).startswith("/dev/"):
                raise AssertionError(f"tried to replace {dst}")
            return fn(src, dst, *a, **k)
        return wrapped

    monkeypatch.setattr(os, "replace", guard(real_replace))
    monkeypatch.setattr(os, "rename", guard(real_rename))


def _identity(model_root):
    from geolid.model.folder import ModelFolder

    return ModelFolder.open(str(model_root)).identity(str(model_root))


def test_a_symlinked_out_shares_the_lock_of_its_file(capsys, model_root, tmp_path):
    from geolid.cli.output_store import OutputStore

    scp = _scp(tmp_path, 2)
    real = tmp_path / "data" / "res.jsonl"
    real.parent.mkdir()
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    holder = OutputStore(real, "jsonl", _identity(model_root))
    holder.open()                                   # a run writing the real name
    try:
        rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", link, "-q")
    finally:
        holder.close()
    assert rc == 2 and "another geolid run is writing" in err and str(real) in err
    assert not real.exists() or real.read_text() == ""
    assert not Path(f"{link}.lock").exists()       # one lock, beside the real file
    rc, _, _ = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", link, "-q")
    assert rc == 0 and _keys(real) == ["utt0", "utt1"] and link.is_symlink()
    tsv_link = tmp_path / "link.tsv"
    tsv_link.symlink_to(tmp_path / "data" / "res.tsv")
    for _ in range(2):                              # atomic replace writes the file, keeps the link
        rc, _, _ = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", tsv_link, "-q")
        assert rc == 0 and tsv_link.is_symlink()
        assert len((tmp_path / "data" / "res.tsv").read_text().splitlines()) == 3


def test_tsv_cells_are_escaped_reversibly():
    from geolid.cli.formats import TSV_COLUMNS, tsv_escape, tsv_row, tsv_unescape
    from geolid.inference.results import Prediction

    key = "dir\\sub/a\tb\nc\rd.wav"
    p = Prediction(key=key, error="cannot read:\n\tbad\\header")
    row = tsv_row(p)
    assert "\n" not in row and "\r" not in row
    cells = row.split("\t")
    assert len(cells) == len(TSV_COLUMNS)
    assert cells[0] == "dir\\\\sub/a\\tb\\nc\\rd.wav"
    assert tsv_unescape(cells[0]) == key and tsv_unescape(cells[-1]) == p.error
    for s in ("", "plain", "\\", "\\\\t", "a\\tb", "\t\n\r\\", "end\\"):
        assert tsv_unescape(tsv_escape(s)) == s, s
        assert "\t" not in tsv_escape(s) and "\n" not in tsv_escape(s)


def test_tsv_rows_of_file_names_with_tabs_and_newlines(capsys, model_root, tmp_path):
    from geolid.cli.formats import TSV_COLUMNS, tsv_unescape

    from .conftest import noise, write

    names = [tmp_path / "w" / "tab\there.wav", tmp_path / "w" / "new\nline.wav",
             tmp_path / "w" / "back\\slash.wav"]
    for i, p in enumerate(names):
        write(p, noise(1.0, seed=i))
    out = tmp_path / "res.tsv"
    rc, _, err = _run(capsys, "predict", *names, "--model", model_root, "--out", out, "-q")
    assert rc == 0, err
    lines = out.read_text().split("\n")
    assert lines[-1] == "" and len(lines) == 1 + len(names) + 1
    rows = [line.split("\t") for line in lines[1:-1]]
    assert all(len(r) == len(TSV_COLUMNS) for r in rows)
    assert sorted(tsv_unescape(r[0]) for r in rows) == sorted(str(p) for p in names)


def _temps(out: Path):
    return sorted(p.name for p in out.parent.glob(f".{out.name}.*.tmp"))


def test_a_killed_tsv_run_leaves_no_temp_after_the_next_run(capsys, model_root, tmp_path):
    import signal
    import time

    from .conftest import noise, write

    wav = write(tmp_path / "a.wav", noise(1.0))
    many = tmp_path / "many.scp"
    many.write_text("".join(f"utt{i} {wav}\n" for i in range(2000)))
    out = tmp_path / "res.tsv"
    other = tmp_path / ".notes.tsv.abcdefgh.999999999.tmp"   # another file's temp: not ours
    other.write_text("x")
    env = dict(os.environ, GEOLID_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "geolid.cli.main", "predict", "--scp", str(many),
                             "--model", str(model_root), "--out", str(out), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 240
    while not _temps(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    left = _temps(out)
    assert len(left) == 1 and left[0].endswith(f".{proc.pid}.tmp") and not out.exists()

    rc, _, err = _run(capsys, "predict", "--scp", _scp(tmp_path, 2), "--model", model_root,
                      "--out", out, "-q")
    assert rc == 0, err
    assert _temps(out) == [] and len(out.read_text().splitlines()) == 3
    assert other.exists()


def test_remove_stale_temps_of_one_file_only(tmp_path):
    from geolid.utils.fileio import remove_stale_temps

    dead = 999999999
    names = [f".res.tsv.abc123.{dead}.tmp", f".res.tsv.x.{os.getpid()}.tmp",   # ours: dead, live
             f".res.tsv.bak.abc.{dead}.tmp", f".other.tsv.abc.{dead}.tmp", ".res.tsv.abc.tmp"]
    for n in names:
        (tmp_path / n).write_text("")
    assert remove_stale_temps(tmp_path, "res.tsv") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
    odd = "r[1]*.tsv"                                    # glob characters in the name
    (tmp_path / f".{odd}.abc.{dead}.tmp").write_text("")
    assert remove_stale_temps(tmp_path, odd) == 1


def _one_line_error(rc, out, err, *needles):
    assert rc == 2 and out == "", (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("geolid predict: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_special_files_as_out_are_refused(capsys, model_root, tmp_path, dev_untouchable):
    scp = _scp(tmp_path, 2)
    fifo = tmp_path / "pipe.tsv"
    os.mkfifo(fifo)
    for fmt in ("tsv", "jsonl", "json", "table"):
        rc, out, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", fifo,
                            "--format", fmt, "-q")
        _one_line_error(rc, out, err, str(fifo), "named pipe", "redirect stdout")
        assert fifo.is_fifo()
    assert not Path(f"{fifo}.lock").exists()


def test_dev_null_as_out_is_refused_and_left_alone(capsys, model_root, tmp_path, dev_untouchable):
    import stat

    scp = _scp(tmp_path, 2)
    before = os.stat("/dev/null")
    for fmt in ("tsv", "jsonl", "json", "table"):
        rc, out, err = _run(capsys, "predict", "--scp", scp, "--model", model_root,
                            "--out", "/dev/null", "--format", fmt, "-q")
        _one_line_error(rc, out, err, "--out /dev/null is a character device", "redirect stdout")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert not Path("/dev/null.lock").exists()


def test_out_in_a_folder_that_cannot_be_made_or_written(capsys, model_root, tmp_path, monkeypatch):
    import errno

    scp = _scp(tmp_path, 2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, out, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out",
                        blocker / "sub" / "res.tsv", "-q")
    _one_line_error(rc, out, err, str(blocker / "sub" / "res.tsv"), "cannot create its folder",
                    "choose")
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m, *a, **k: False if Path(p) == ro
                        else real_access(p, m, *a, **k))  # what a non-root user sees in 0555
    rc, out, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out",
                        ro / "res.tsv", "-q")
    _one_line_error(rc, out, err, str(ro / "res.tsv"), "not writable", "Permission denied")
    monkeypatch.setattr(os, "access", real_access)

    from filelock import FileLock

    def no_lock(self, *a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), self.lock_file)

    monkeypatch.setattr(FileLock, "acquire", no_lock)
    rc, out, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out",
                        tmp_path / "res.tsv", "-q")
    _one_line_error(rc, out, err, "cannot create its lock file", "Read-only file system (EROFS)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_really(capsys, model_root, tmp_path):
    scp = _scp(tmp_path, 2)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, out, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out",
                            ro / "res.jsonl", "-q")
    finally:
        ro.chmod(0o755)
    _one_line_error(rc, out, err, str(ro / "res.jsonl"), "not writable")


class _DiskFillsUp:
    """A file whose writes fail with ENOSPC once ``room`` characters were written."""

    def __init__(self, stream, room):
        self.stream, self.room = stream, room

    def write(self, text):
        import errno

        if len(text) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(text)
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def test_a_full_disk_is_one_line_not_a_traceback(capsys, model_root, tmp_path, monkeypatch):
    import contextlib

    from geolid.cli import output_store
    from geolid.utils import fileio

    scp = _scp(tmp_path, 3)
    # jsonl: appended records; the disk fills after the first one
    real_open = output_store._open_append
    monkeypatch.setattr(output_store, "_open_append", lambda p: _DiskFillsUp(real_open(p), 300))
    out = tmp_path / "res.jsonl"
    rc, stdout, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out,
                           "-q")
    _one_line_error(rc, stdout, err, f"cannot write --out {out}", "No space left on device (ENOSPC)",
                    "free some space")
    # tsv: the temp file fills up; the previous results stay as they were, no temp is left
    tsv = tmp_path / "res.tsv"
    monkeypatch.setattr(output_store, "_open_append", real_open)
    rc, _, _ = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", tsv, "-q")
    before = tsv.read_bytes()
    real_atomic = fileio.atomic_write

    @contextlib.contextmanager
    def full_atomic(path, *a, **k):
        with real_atomic(path, *a, **k) as f:
            yield _DiskFillsUp(f, 150)

    monkeypatch.setattr(fileio, "atomic_write", full_atomic)
    rc, stdout, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", tsv,
                           "-q")
    _one_line_error(rc, stdout, err, f"cannot write --out {tsv}", "ENOSPC")
    assert tsv.read_bytes() == before and _temps(tsv) == []
