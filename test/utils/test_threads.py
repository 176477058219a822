"""CoreShare: concurrent geolid processes split the cores, give them back, no daemon."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from geolid.utils.threads import ENV, CoreShare, apply_to_onnxruntime, default_folder

REPO = Path(__file__).resolve().parents[2]

# A second process: holds a share, answers "refresh" with its thread count, leaves on "exit".
HOLDER = r"""
import sys
from geolid.utils.threads import CoreShare
threads = None if sys.argv[3] == "auto" else int(sys.argv[3])
with CoreShare(threads=threads, cores=int(sys.argv[2]), folder=sys.argv[1]) as share:
    print(share.threads, flush=True)
    for line in sys.stdin:
        if line.strip() == "exit":
            break
        print(share.refresh(), flush=True)
"""


class Holder:
    def __init__(self, folder, cores=2, threads="auto"):
        env = {k: v for k, v in os.environ.items() if k != ENV}
        env["PYTHONPATH"] = str(REPO)
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), str(cores), threads],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.first = int(self.proc.stdout.readline())

    def refresh(self) -> int:
        self.proc.stdin.write("refresh\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def leave(self):
        self.proc.stdin.write("exit\n")
        self.proc.stdin.close()
        assert self.proc.wait(30) == 0

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


def test_two_processes_get_one_thread_each_of_two_cores_and_one_gets_them_back(tmp_path):
    folder = tmp_path / "cores"
    with CoreShare(cores=2, folder=folder) as share:
        assert share.threads == 2 and share.holders == 1
        other = Holder(folder, cores=2)
        assert other.first == 1                       # it saw us: 2 cores // 2 holders
        assert share.refresh() == 1 and share.threads == 1 and share.holders == 2
        assert other.refresh() == 1
        other.leave()                                 # released: given back
        assert share.refresh() == 2 and share.holders == 1


def test_a_killed_process_gives_its_cores_back(tmp_path):
    folder = tmp_path / "cores"
    with CoreShare(cores=12, folder=folder) as share:
        others = [Holder(folder, cores=12) for _ in range(3)]
        assert share.refresh() == 3 and share.holders == 4       # 12 cores // 4
        assert [o.refresh() for o in others] == [3, 3, 3]
        others[0].kill()                                          # kill -9: the kernel drops the lock
        assert share.refresh() == 4 and share.holders == 3       # 12 // 3
        for o in others[1:]:
            o.leave()
        assert share.refresh() == 12


def test_fixed_threads_still_register_and_the_environment_override(tmp_path, monkeypatch):
    folder = tmp_path / "cores"
    with CoreShare(threads=3, cores=8, folder=folder) as fixed:
        assert fixed.threads == 3
        with CoreShare(cores=8, folder=folder) as auto:
            assert auto.threads == 4 and auto.holders == 2      # the fixed one is counted
            monkeypatch.setenv(ENV, "3")
            with CoreShare(cores=8, folder=folder) as env:      # GEOLID_THREADS wins over auto
                assert env.threads == 3 and env.refresh() == 3 and env.holders == 3
                assert auto.refresh() == 2                      # and it is counted too
            with CoreShare(threads=5, cores=8, folder=folder) as explicit:
                assert explicit.threads == 5                    # an explicit count wins over it
            monkeypatch.setenv(ENV, "auto")
            with CoreShare(cores=8, folder=folder) as back:
                assert back.threads == 2                        # 8 // 3
            for bad in ("0", "-2", "many", "1.5"):
                monkeypatch.setenv(ENV, bad)
                with pytest.raises(ValueError, match=f"{ENV}='{bad}'"):
                    CoreShare(cores=8, folder=folder).__enter__()
    with pytest.raises(ValueError, match="threads=0"):
        CoreShare(threads=0)


def test_torch_threads_follow_the_share_and_are_restored(tmp_path):
    import torch

    before = torch.get_num_threads()
    folder = tmp_path / "cores"
    with CoreShare(cores=2, folder=folder):
        assert torch.get_num_threads() == 2
        with CoreShare(cores=2, folder=folder) as second:
            assert torch.get_num_threads() == 1 and second.threads == 1
        assert torch.get_num_threads() == 2       # restored to what it was when `second` began
    assert torch.get_num_threads() == before


def test_a_folder_that_is_not_private_is_not_used(tmp_path):
    target = tmp_path / "real"
    target.mkdir(mode=0o700)
    link = tmp_path / "cores"
    link.symlink_to(target)
    with CoreShare(cores=4, folder=link) as share:
        assert share.threads == 4 and share.slot is None
    assert list(target.iterdir()) == []
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)                       # others may write there
    with CoreShare(cores=4, folder=shared) as share:
        assert share.slot is None and list(shared.iterdir()) == []
    if os.geteuid() == 0:                     # another user's folder
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, 65534)
        with CoreShare(cores=4, folder=theirs) as share:
            assert share.slot is None and share.threads == 4


def test_default_folder_is_per_user(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_folder() == tmp_path / "geolid" / "cores"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_folder() == Path(f"/tmp/geolid-{os.getuid()}/cores")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    with CoreShare(cores=2) as share:         # created 0700 under the runtime folder
        assert share.slot == 0 and (tmp_path / "geolid" / "cores" / "slot-000").is_file()
        assert (tmp_path / "geolid").stat().st_mode & 0o777 == 0o700


def test_onnxruntime_options_take_the_share(tmp_path):
    class Options:
        intra_op_num_threads = 0
        inter_op_num_threads = 0

    with CoreShare(cores=6, folder=tmp_path / "cores") as share:
        with CoreShare(cores=6, folder=tmp_path / "cores"):
            share.refresh()
            opts = apply_to_onnxruntime(Options(), share)
    assert (opts.intra_op_num_threads, opts.inter_op_num_threads) == (3, 1)
    ort = pytest.importorskip("onnxruntime")
    real = apply_to_onnxruntime(ort.SessionOptions(), share)
    assert real.intra_op_num_threads == 3
