"""Form fields -> PredictOptions, the in-memory multipart parser, and the CLI's start-up."""
from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from starlette.datastructures import Headers

from geolid.inference.options import PredictOptions, TimelineOptions
from geolid.serve.form import FieldError, check_for_model, parse_form


def test_fields_become_options():
    opts, out = parse_form({"top_k": " 3", "languages": "eng, fra deu", "reject_below": "0.5",
                            "reject_unknown": "no", "timeline": "true", "near": "48.8,2.3",
                            "geo_vector": "1"})
    want = PredictOptions.of(None, top_k=3, languages=("eng", "fra", "deu"), reject_below=0.5,
                             timeline=True, near="48.8,2.3")
    assert opts == want and out == {"geo_vector": True}
    assert opts.timeline == TimelineOptions()


def test_no_fields_are_the_base_options():
    base = PredictOptions(speech_detector="energy", top_k=2)
    opts, out = parse_form({}, base)
    assert opts is base and out == {"geo_vector": False}
    assert parse_form({"timeline": "false"}, base)[0].timeline is None


@pytest.mark.parametrize("form, field, words", [
    ({"top_k": "3.5"}, "top_k", "integer"),
    ({"top_k": "-1"}, "top_k", ">= 1"),
    ({"reject_below": "x"}, "reject_below", "number"),
    ({"reject_below": "-0.1"}, "reject_below", "[0, 1]"),
    ({"reject_unknown": "sure"}, "reject_unknown", "true or false"),
    ({"near": "1,2,3,4"}, "near", "LAT,LON"),
    ({"languages": " "}, "languages", "empty"),
    ({"window": "10"}, "window", "unknown field"),
])
def test_bad_fields_name_themselves(form, field, words):
    with pytest.raises(FieldError) as e:
        parse_form(form)
    assert e.value.field == field and words in str(e.value)


def test_budget_passes_through_and_needs_the_detector(monkeypatch):
    monkeypatch.setenv("GEOLID_SPEECH_DETECTOR", "silero")
    assert parse_form({"budget": "30"})[0].budget == 30.0
    monkeypatch.setenv("GEOLID_SPEECH_DETECTOR", "none")
    with pytest.raises(FieldError, match="budget needs a speech detector"):
        parse_form({"budget": "30"})


def test_model_checks():
    opts, _ = parse_form({"languages": "eng,xyz"})
    with pytest.raises(FieldError) as e:
        check_for_model(opts, ["eng", "fra"], has_unknown_score=True)
    assert e.value.field == "languages" and "'xyz'" in str(e.value)
    opts, _ = parse_form({"reject_unknown": "true"})
    check_for_model(opts, ["eng"], has_unknown_score=True)
    with pytest.raises(FieldError) as e:
        check_for_model(opts, ["eng"], has_unknown_score=False)
    assert e.value.field == "reject_unknown"


def test_uploads_stay_in_memory():
    """A 3 MB upload (starlette spools files over 1 MB to disk) is held in memory."""
    from geolid.serve.app import _InMemoryParser

    payload = bytes(range(256)) * (3 * 4096)
    boundary = "bnd"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
            .encode() + payload + f"\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"top_k\"\r\n\r\n3\r\n--{boundary}--\r\n".encode())

    async def stream():
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]
        yield b""

    async def parse():
        headers = Headers({"content-type": f"multipart/form-data; boundary={boundary}"})
        form = await _InMemoryParser(headers, stream(), max_bytes=len(body)).parse()
        upload = form["file"]
        rolled = upload.file._rolled
        data = await upload.read()
        await form.close()
        return rolled, data, form["top_k"]

    rolled, data, top_k = asyncio.run(parse())
    assert not rolled and data == payload and top_k == "3"


def test_serve_help_is_import_light():
    code = ("import sys, geolid.cli.main as m\n"
            "for argv in (['--help'], ['serve', '--help']):\n"
            "    try: m.main(argv)\n"
            "    except SystemExit as e: assert e.code == 0\n"
            "heavy = [k for k in ('torch', 'fastapi', 'uvicorn', 'starlette', 'espnet2') if k in sys.modules]\n"
            "assert not heavy, heavy\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "serve" in r.stdout and "--max-upload-mb" in r.stdout and "--threads" in r.stdout


@pytest.mark.parametrize("argv, words", [
    (["--max-upload-mb", "0"], "--max-upload-mb must be > 0"),
    (["--max-queue", "-1"], "--max-queue must be an integer >= 0"),
    (["--max-batch", "0"], "--max-batch must be an integer >= 1"),
    (["--threads", "0"], "--threads must be >= 1"),
])
def test_bad_limits_are_usage_errors_before_loading_anything(capsys, argv, words):
    from geolid.cli.main import main

    assert main(["serve", "--model", "nowhere", *argv]) == 2
    assert words in capsys.readouterr().err
