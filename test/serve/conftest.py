"""``geolid serve`` as a real process on 127.0.0.1, for the service tests.

:func:`running_server` starts ``python -m geolid.cli.main serve`` on the tiny model
on a free port, with its own TMPDIR (so tests can see what it leaves there) and
its log in a file (a full pipe would stall it), waits for ``/health``, and stops
the process on the way out whatever happened (SIGTERM, then SIGKILL).
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from inference.conftest import EXP_REL, LANGS, lid, model_root, noise, write  # noqa: F401
from inference.conftest import speech_check_off  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
STARTUP_S = 240     # importing torch + ESPnet on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path, tmpdir: Path):
        self.proc, self.port, self.log, self.tmpdir = proc, port, log, tmpdir
        self.url = f"http://127.0.0.1:{port}"

    def rss_kb(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def accepting(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                return True
        except OSError:
            return False


def tree(path: Path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@contextlib.contextmanager
def running_server(model: Path, work: Path, *extra: str):
    import httpx

    work.mkdir(parents=True, exist_ok=True)
    tmpdir = work / "server_tmp"
    tmpdir.mkdir(exist_ok=True)
    log_path = work / "server.log"
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               GEOLID_SPEECH_DETECTOR="none", TMPDIR=str(tmpdir), GEOLID_CACHE=str(work / "cache"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [sys.executable, "-m", "geolid.cli.main", "serve", "--model", str(model), "--port", str(port),
           "--threads", "1", *extra]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(work))
    server = Server(proc, port, log_path, tmpdir)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{server.log_text()}")
            try:
                if httpx.get(server.url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not up after {STARTUP_S} s:\n{server.log_text()}")
            time.sleep(0.25)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


# ------------------------------------------------------------------ audio
@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """Audio files of several formats, rates and channel counts, plus speech."""
    from geolid_demo.espeak import synthesize

    d = tmp_path_factory.mktemp("serve_clips")
    out = {
        "a.wav": write(d / "a.wav", noise(2.0, seed=1)),
        "b.flac": write(d / "b.flac", noise(3.0, 22050, seed=2), 22050),
        "c.ogg": write(d / "c.ogg", noise(2.5, 44100, seed=3, channels=2), 44100, format="OGG"),
    }
    speech = synthesize("The weather is nice today, let us go for a walk in the park.", "en-us")
    out["speech.wav"] = write(d / "speech.wav", np.asarray(speech, dtype=np.float32))
    out["long.wav"] = write(d / "long.wav", noise(10.0, 8000, seed=4), 8000)   # 10 s of audio
    return out
