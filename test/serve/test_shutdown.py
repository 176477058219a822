"""SIGTERM drains: a request in flight when the signal comes is answered (200, the right
answer), then the process exits 0. On the way, with room for one request
(``--max-batch 1 --max-queue 0``), a second request gets 503 with Retry-After.

"In flight" is made certain without timing: the request's body is sent in two
parts, and the second part waits until ``/health`` counts the request and, after
SIGTERM, until the server has closed its listening socket.
"""
from __future__ import annotations

import threading
import time

import httpx

from .conftest import running_server
from .test_server import URL, assert_same_answer

BOUNDARY = "geolid-test-boundary"


def wait_for(condition, what: str, server, limit_s: float = 120.0):
    deadline = time.monotonic() + limit_s
    while not condition():
        if server.proc.poll() is not None:
            raise AssertionError(f"server exited ({server.proc.returncode}) while waiting for {what}:\n"
                                 f"{server.log_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}:\n{server.log_text()}")
        time.sleep(0.05)


def test_sigterm_drains_in_flight_request(model_root, lid, clips, tmp_path):
    audio = clips["speech.wav"].read_bytes()
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"speech.wav\"\r\nContent-Type: audio/wav\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    release = threading.Event()
    result = {}

    def body():
        yield head + audio[: len(audio) // 2]
        release.wait(300)
        yield audio[len(audio) // 2:] + tail

    def send(url):
        try:
            result["response"] = httpx.post(
                url + URL, content=body(), timeout=300,
                headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e

    with running_server(model_root, tmp_path, "--max-batch", "1", "--max-queue", "0") as srv:
        def queue():
            return httpx.get(srv.url + "/health", timeout=30).json()["queue"]

        assert queue()["max_requests"] == 1 and queue()["max_batch"] == 1
        sender = threading.Thread(target=send, args=(srv.url,), daemon=True)
        sender.start()
        try:
            wait_for(lambda: queue()["requests"] == 1, "the request to be admitted", srv)
            # the one place is taken: another request is refused, with a time to come back
            r = httpx.post(srv.url + URL, files={"file": ("a.wav", clips["a.wav"].read_bytes())},
                           timeout=60)
            assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1, r.text

            srv.proc.terminate()                                   # SIGTERM
            wait_for(lambda: not srv.accepting(), "the listening socket to close", srv)
            assert srv.proc.poll() is None, "exited with a request in flight"
        finally:
            release.set()
            sender.join(300)
        assert "error" not in result, result.get("error")
        r = result["response"]
        assert r.status_code == 200, r.text
        assert_same_answer(r.json(), lid, clips["speech.wav"])
        assert srv.proc.wait(120) == 0, srv.log_text()
