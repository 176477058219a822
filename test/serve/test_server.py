"""``geolid serve`` as a process: answers equal ``GeoLID.predict``, every bad request gets
its 4xx and leaves the server up, a bounded load test, no temporary file left behind.

One server for the module, with small limits so each one is reachable cheaply:
batches of up to 2 requests (5 ms wait), 5 more waiting, 1 MB uploads, 8 s of audio.
"""
from __future__ import annotations

import io
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from geolid.inference.options import PredictOptions

from .conftest import noise, running_server, tree, write

LIMITS = ["--max-batch", "2", "--batch-wait-ms", "5", "--max-queue", "5", "--max-upload-mb", "1",
          "--max-duration", "8", "--no-access-log"]
URL = "/v1/audio/language"


@pytest.fixture(scope="module")
def server(model_root, tmp_path_factory):
    with running_server(model_root, tmp_path_factory.mktemp("serve"), *LIMITS) as srv:
        srv.tmp_before = tree(srv.tmpdir)
        yield srv


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def post(client, path, fields=None, name=None, content_type="application/octet-stream"):
    data = path.read_bytes() if hasattr(path, "read_bytes") else path
    return client.post(URL, files={"file": (name or getattr(path, "name", "upload"), data, content_type)},
                       data=fields or {})


def assert_close(got, want, where="record"):
    """Equal records; floats within 1e-5 (locations within 1e-3 degrees)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, got, want)
        for k in want:
            assert_close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        tol = 1e-3 if where.split(".")[-1] in ("lat", "lon") else 1e-5
        assert isinstance(got, (int, float)) and math.isclose(got, want, abs_tol=tol), (where, got, want)
    else:
        assert got == want, (where, got, want)


def expected(lid, path, **overrides):
    return lid.predict(str(path), **overrides).to_dict()


def assert_same_answer(record, lid, path, **overrides):
    want = expected(lid, path, **overrides)
    assert record["key"] == path.name and record["path"] is None
    assert record["model"]["sha256"] == lid.identity().sha256
    assert record["options"] == PredictOptions.of(None, **overrides).result_key()
    for k in ("key", "path", "model", "options"):
        record.pop(k), want.pop(k)
    assert_close(record, want)


# ------------------------------------------------------------ the answers
@pytest.mark.parametrize("name", ["a.wav", "b.flac", "c.ogg", "speech.wav"])
def test_answer_equals_predict(client, lid, clips, name):
    r = post(client, clips[name])
    assert r.status_code == 200, r.text
    assert_same_answer(r.json(), lid, clips[name])


@pytest.mark.parametrize("fields, overrides", [
    ({"top_k": "2"}, dict(top_k=2)),
    ({"languages": "eng, fra"}, dict(languages="eng,fra")),
    ({"reject_below": "0.99"}, dict(reject_below=0.99)),
    ({"near": "48.8,2.3,500"}, dict(near="48.8,2.3,500")),
    ({"timeline": "true", "top_k": "3"}, dict(timeline=True, top_k=3)),
])
def test_options_equal_predict(client, lid, clips, fields, overrides):
    r = post(client, clips["speech.wav"], fields)
    assert r.status_code == 200, r.text
    assert_same_answer(r.json(), lid, clips["speech.wav"], **overrides)


def test_geo_vector_on_request(client, lid, clips):
    r = post(client, clips["a.wav"], {"geo_vector": "true"})
    assert r.status_code == 200, r.text
    want = lid.predict(str(clips["a.wav"])).geo_vector
    np.testing.assert_allclose(r.json()["geo_vector"], want, atol=1e-5)


def test_models_and_health(client, lid, server):
    m = client.get("/v1/models").json()["data"]
    assert len(m) == 1 and m[0]["languages"] == lid.languages and m[0]["device"] == "cpu"
    assert m[0]["sha256"] == lid.identity().sha256 and m[0]["dtype"] == lid.dtype
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model"]["sha256"] == lid.identity().sha256
    assert h["device"] == "cpu" and h["dtype"] == "float32"
    q = h["queue"]
    assert (q["max_batch"], q["max_queue"], q["max_requests"], q["batch_wait_ms"]) == (2, 5, 7, 5.0)
    assert q["waiting"] == 0 and q["scoring"] == 0 and q["requests"] == 0


# ------------------------------------------------------------ bad requests
def cli_message(lid, path):
    """What ``geolid predict`` says about a file (its error record), with the file's name
    for its path (the service knows the upload's name only)."""
    (p,) = lid.predict([str(path)])
    assert p.error
    return p.error.replace(str(path), path.name)


def test_empty_upload(client, lid, tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    r = post(client, path)
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert r.json()["detail"] == cli_message(lid, path) == "empty file (0 bytes)"


def test_non_audio_upload(client, lid, tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are notes, not audio\n" * 20)
    r = post(client, path, content_type="audio/wav")
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert r.json()["detail"] == cli_message(lid, path)


def test_header_only_wav(client, lid, clips, tmp_path):
    path = tmp_path / "header.wav"
    path.write_bytes(clips["a.wav"].read_bytes()[:44])
    r = post(client, path)
    assert r.status_code == 422
    assert r.json()["detail"] == cli_message(lid, path)


def test_truncated_flac(client, clips, tmp_path):
    path = tmp_path / "cut.flac"
    data = clips["b.flac"].read_bytes()
    path.write_bytes(data[: len(data) // 2])
    r = post(client, path)
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert r.json()["detail"].startswith("unreadable audio (")


def test_too_short_gets_the_cli_message(client, lid, tmp_path):
    path = write(tmp_path / "short.wav", noise(0.5, seed=5))
    r = post(client, path)
    assert r.status_code == 422 and r.json()["detail"] == cli_message(lid, path)


def test_oversized_upload_413(client):
    big = io.BytesIO()
    import soundfile as sf

    sf.write(big, noise(40.0, 16000, seed=6), 16000, format="WAV")   # 1.28 MB > 1 MB
    r = client.post(URL, files={"file": ("big.wav", big.getvalue(), "audio/wav")})
    assert r.status_code == 413 and r.json()["field"] == "file" and "1 MB" in r.json()["detail"]


def test_oversized_chunked_upload_413(server):
    """No Content-Length (chunked): the byte count stops it."""
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()

    def body():
        yield head
        for _ in range(24):                   # 1.5 MB
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    r = httpx.post(server.url + URL, content=body(), timeout=120,
                   headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413


def test_too_long_audio_413(client, clips):
    r = post(client, clips["long.wav"])     # 10 s > --max-duration 8 (160 kB, under the size limit)
    assert r.status_code == 413 and "8 s" in r.json()["detail"]


@pytest.mark.parametrize("fields, field", [
    ({"top_k": "zero"}, "top_k"),
    ({"top_k": "0"}, "top_k"),
    ({"reject_below": "1.5"}, "reject_below"),
    ({"reject_below": "high"}, "reject_below"),
    ({"near": "somewhere"}, "near"),
    ({"languages": "eng,xx"}, "languages"),
    ({"languages": ","}, "languages"),
    ({"timeline": "maybe"}, "timeline"),
    ({"reject_unknown": "true"}, "reject_unknown"),     # the tiny model has no fitted score
    ({"topk": "3"}, "topk"),
])
def test_bad_option_422_names_field(client, clips, fields, field):
    r = post(client, clips["a.wav"], fields)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field and field in r.json()["detail"]


def test_budget_field(client, clips, model_root, tmp_path):
    # this suite's server runs without a speech detector, which a budget needs: one line
    r = post(client, clips["a.wav"], {"budget": "20"})
    assert r.status_code == 422 and r.json()["field"] == "budget"
    assert "speech detector" in r.json()["detail"]
    # a server with the detector answers as GeoLID.predict does with the same budget
    from geolid.inference.api import GeoLID

    with running_server(model_root, tmp_path, "--speech-detector", "silero") as srv:
        import httpx

        with httpx.Client(base_url=srv.url, timeout=60) as c:
            r = post(c, clips["speech.wav"], {"budget": "20"})
    assert r.status_code == 200, r.text
    want = GeoLID.from_pretrained(str(model_root), device="cpu").predict(
        str(clips["speech.wav"]), budget=20.0, speech_detector="silero")
    assert r.json()["analysed"] == want.analysed and r.json()["language"] == want.language


def test_wrongly_typed_requests(client, clips):
    r = client.post(URL, json={"file": "a.wav"})
    assert r.status_code == 415
    r = client.post(URL, data={"file": "not a file", "top_k": "2"})      # urlencoded form
    assert r.status_code == 415
    r = client.post(URL, files={"top_k": (None, "2")})                      # multipart, no file
    assert r.status_code == 422 and r.json()["field"] == "file"
    r = client.post(URL, files={"file": (None, "a text value")})           # file as a text field
    assert r.status_code == 422 and r.json()["field"] == "file"
    r = client.post(URL, content=b"--x\r\nnot multipart", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400


def test_still_up_after_bad_requests(client, lid, clips):
    r = post(client, clips["a.wav"])
    assert r.status_code == 200
    assert_same_answer(r.json(), lid, clips["a.wav"])


# ------------------------------------------------------------ under load
def test_bounded_load(server, lid, clips):
    """200 requests, 8 at a time, against room for 7: each gets 200 (the right answer) or
    503 with Retry-After; no other status, no connection error; RSS stays flat."""
    names = ["a.wav", "b.flac", "c.ogg", "speech.wav"]
    payload = {n: clips[n].read_bytes() for n in names}
    want = {n: expected(lid, clips[n]) for n in names}
    errors, statuses = [], []
    lock = threading.Lock()

    def one(i, c):
        n = names[i % len(names)]
        try:
            r = c.post(URL, files={"file": (n, payload[n], "application/octet-stream")})
        except Exception as e:  # noqa: BLE001 - any transport error fails the test
            with lock:
                errors.append(repr(e))
            return
        with lock:
            statuses.append(r.status_code)
        if r.status_code == 503:
            assert int(r.headers["Retry-After"]) >= 1
            time.sleep(0.05)      # a client's back-off (pacing only; nothing is timed)
        elif r.status_code == 200:
            got = r.json()
            assert [s["code"] for s in got["top_k"]] == [s["code"] for s in want[n]["top_k"]]
            assert_close(got["top_k"], want[n]["top_k"])

    def run(n):
        with httpx.Client(base_url=server.url, timeout=120,
                          limits=httpx.Limits(max_connections=8)) as c:
            with ThreadPoolExecutor(8) as pool:
                for f in [pool.submit(one, i, c) for i in range(n)]:
                    f.result()

    run(32)                       # warm-up: threads, allocator arenas, caches
    rss0 = server.rss_kb()
    errors.clear(), statuses.clear()
    run(200)
    rss1 = server.rss_kb()
    assert not errors, errors[:5]
    assert len(statuses) == 200 and set(statuses) <= {200, 503}, sorted(set(statuses))
    assert statuses.count(200) > 0
    # each request holds ~0.4 MB (upload + decoded audio): a leak of them would be 80 MB
    assert rss1 - rss0 < 20 * 1024, (rss0, rss1)
    h = httpx.get(server.url + "/health").json()["queue"]
    assert h["requests"] == 0 and h["waiting"] == 0 and h["scoring"] == 0


def test_no_temporary_file_left(server):
    """Runs last: after every kind of request above, the server's TMPDIR is as it was."""
    assert tree(server.tmpdir) == server.tmp_before
