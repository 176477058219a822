"""The ``geolid`` console script, in process on the tiny model (plus start-up checks)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import geolid.inference.api as api
from geolid.cli.formats import TSV_COLUMNS
from geolid.cli.main import main

from .conftest import LANGS, noise, write, make_scp

RECORD_KEYS = {"schema_version", "key", "path", "language", "name", "probability", "rejected",
               "top_k", "location", "duration", "num_windows", "segments", "geo_vector", "model",
               "error", "prior", "speech_fraction", "options", "candidates", "unknown_score", "analysed"}


def _run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "clips"
    write(d / "a.wav", noise(1.0, seed=1))
    write(d / "sub" / "b.flac", noise(2.0, 22050, seed=2), 22050)
    write(d / "c.ogg", noise(1.5, 44100, seed=3, channels=2), 44100, format="OGG")
    (d / "notes.txt").write_text("not audio, ignored")
    return d


def test_help_does_not_import_torch_or_espnet():
    code = ("import sys, geolid.cli.main as m\n"
            "for argv in (['--help'], ['predict', '--help'], ['prepare', '--help']):\n"
            "    try: m.main(argv)\n"
            "    except SystemExit as e: assert e.code == 0\n"
            "heavy = [k for k in ('torch', 'espnet2', 'transformers', 'lang2vec') if k in sys.modules]\n"
            "assert not heavy, heavy\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "predict" in r.stdout and "--reject-below" in r.stdout and "voxlingua107" in r.stdout


def test_languages_is_light_and_lists_class_order(model_root):
    code = ("import sys, geolid.cli.main as m\n"
            f"rc = m.main(['languages', '--model', {str(model_root)!r}, '--format', 'tsv'])\n"
            "assert rc == 0 and 'torch' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert rows[0] == ["index", "code", "name"]
    assert [row[1] for row in rows[1:]] == LANGS and rows[2][2] == "French"


def test_languages_json(capsys, model_root):
    rc, out, _ = _run(capsys, "languages", "--model", model_root, "--format", "json")
    assert rc == 0 and [x["code"] for x in json.loads(out)["languages"]] == LANGS


def test_predict_folder_table(capsys, model_root, folder):
    rc, out, err = _run(capsys, "predict", folder, "--model", model_root, "--top-k", "3", "-q")
    assert rc == 0, err
    heads = [line for line in out.splitlines() if not line.startswith(" ")]
    assert [h.split("\t")[0] for h in heads] == [str(folder / "a.wav"), str(folder / "c.ogg"),
                                                  str(folder / "sub" / "b.flac")]
    assert all("location" in h for h in heads)
    tops = [line for line in out.splitlines() if line.startswith("    top:")]
    assert len(tops) == 3 and all(len(re.findall(r"\b[01]\.\d{3}\b", t)) == 3 for t in tops)


def test_predict_json_schema(capsys, model_root, folder):
    rc, out, _ = _run(capsys, "predict", folder, "--model", model_root, "--format", "json",
                      "--geo-vector", "-q")
    doc = json.loads(out)
    assert rc == 0 and doc["schema_version"] == 1 and doc["num_errors"] == 0
    assert doc["model"] == str(model_root) and len(doc["predictions"]) == 3
    for rec in doc["predictions"]:
        assert set(rec) == RECORD_KEYS
        assert len(rec["top_k"]) == 4 and set(rec["top_k"][0]) == {"code", "name", "probability"}
        assert set(rec["location"]) == {"lat", "lon"} and len(rec["geo_vector"]) == 299


def test_predict_tsv_and_jsonl_with_out(capsys, model_root, folder, tmp_path):
    rc, _, _ = _run(capsys, "predict", folder, "--model", model_root, "--out", tmp_path / "r.tsv", "-q")
    lines = (tmp_path / "r.tsv").read_text().splitlines()
    assert rc == 0 and lines[0].split("\t") == list(TSV_COLUMNS) and len(lines) == 4
    row = dict(zip(TSV_COLUMNS, lines[1].split("\t")))
    assert row["language"] in LANGS and row["error"] == "" and len(row["top_k"].split(",")) == 4
    rc, _, _ = _run(capsys, "predict", folder, "--model", model_root, "--out", tmp_path / "r.jsonl",
                    "--no-location", "-q")
    recs = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(recs) == 3 and all(set(r) == RECORD_KEYS and r["location"] is None for r in recs)


def _scp(tmp_path, n=5):
    return make_scp(tmp_path, n)


def test_scp_resume_after_truncated_write(capsys, model_root, tmp_path):
    scp, out = _scp(tmp_path), tmp_path / "res" / "results.jsonl"
    rc, _, _ = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    full = out.read_text().splitlines()
    assert rc == 0 and [json.loads(x)["key"] for x in full] == [f"utt{i}" for i in range(5)]
    # a run killed while writing the third record
    out.write_text(full[0] + "\n" + full[1] + "\n" + full[2][: len(full[2]) // 2])
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    assert rc == 0 and "incomplete record" in err and "2 of 5 inputs already" in err
    again = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["key"] for r in again) == [f"utt{i}" for i in range(5)]
    # the same model gives the same answers when resumed
    assert [r["top_k"][0]["code"] for r in again] == [json.loads(x)["top_k"][0]["code"] for x in full]


def test_scp_resume_after_interrupt(capsys, model_root, tmp_path, monkeypatch):
    scp, out = _scp(tmp_path), tmp_path / "results.jsonl"
    monkeypatch.setattr(api, "CHUNK_SOURCES", 2)
    real = api.GeoLID.predict_iter
    calls = []

    def interrupted(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(api.GeoLID, "predict_iter", interrupted)
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    assert rc == 130 and len(out.read_text().splitlines()) == 2
    monkeypatch.setattr(api.GeoLID, "predict_iter", real)
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    keys = [json.loads(x)["key"] for x in out.read_text().splitlines()]
    assert rc == 0 and keys == [f"utt{i}" for i in range(5)]
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--out", out, "-q")
    assert rc == 0 and "5 of 5 inputs already" in err and len(out.read_text().splitlines()) == 5


def test_bad_inputs_are_reported_and_the_batch_goes_on(capsys, model_root, tmp_path):
    good = write(tmp_path / "good.wav", noise(1.0))
    (tmp_path / "empty.wav").write_bytes(b"")
    write(tmp_path / "short.wav", noise(0.05))
    nan = noise(1.0)
    nan[3] = np.inf
    write(tmp_path / "inf.wav", nan, subtype="FLOAT")
    (tmp_path / "junk.mp3").write_text("junk")
    scp = tmp_path / "wav.scp"
    scp.write_text(f"g {good}\ne {tmp_path / 'empty.wav'}\ns {tmp_path / 'short.wav'}\n"
                   f"i {tmp_path / 'inf.wav'}\nj {tmp_path / 'junk.mp3'}\np sox x.wav -t wav - |\n")
    rc, out, err = _run(capsys, "predict", "--scp", scp, "--model", model_root, "--format", "jsonl", "-q")
    recs = {r["key"]: r for r in map(json.loads, out.splitlines())}
    assert rc == 1 and recs["g"]["error"] is None and recs["g"]["language"] in LANGS
    expect = {"e": "empty", "s": "too short", "i": "NaN/inf", "j": "unreadable", "p": "piped"}
    for key, needle in expect.items():
        assert needle in recs[key]["error"] and recs[key]["language"] is None
        assert f"  {key}: " in err
    assert "5 of 6 input(s) failed" in err


def test_reject_below_and_segments(capsys, model_root, tmp_path):
    p = write(tmp_path / "long.wav", noise(9.0))
    rc, out, _ = _run(capsys, "predict", p, "--model", model_root, "--format", "jsonl", "--segments",
                      "--window", "4", "--overlap", "1", "--reject-below", "1.0", "-q")
    rec = json.loads(out)
    assert rc == 0 and rec["language"] == "unknown" and rec["rejected"] is True
    assert [(s["start"], s["end"]) for s in rec["segments"]] == [(0, 4), (3, 7), (5, 9)]
    rc, out, _ = _run(capsys, "predict", p, "--model", model_root, "--segments", "--window", "4",
                      "--overlap", "1", "-q")
    assert sum(1 for line in out.splitlines() if line.startswith("    00:0")) == 3


def test_two_languages_back_to_back_end_to_end(capsys, model_root, tmp_path):
    """The tiny random model (it knows no language) on espeak-ng speech: the --vad cut
    falls in the pause, and each segment's language is what the same model says of that
    part alone (through the API), so the report follows the audio."""
    from geolid_demo.espeak import synthesize
    from geolid_demo.mix import concat_languages

    en = synthesize("The weather is nice today and we are going to the market together.", "en")
    fr = synthesize("Il fait beau aujourd'hui et nous allons ensemble au marché du village.", "fr")
    wav, parts = concat_languages([("eng", en), ("fra", fr)], 16000, gap_s=0.5)
    p = write(tmp_path / "en_fr.wav", wav)
    rc, out, _ = _run(capsys, "predict", p, "--model", model_root, "--format", "jsonl",
                      "--segments", "--vad", "--window", str(max(parts[0].end_s, parts[1].end_s - parts[1].start_s) + 0.5), "-q")
    rec = json.loads(out)
    assert rc == 0 and rec["num_windows"] == 2
    cut = rec["segments"][0]["end"]
    assert parts[0].end_s - 0.05 <= cut <= parts[1].start_s + 0.05  # cut in the pause
    assert rec["segments"][1]["end"] == pytest.approx(len(wav) / 16000, abs=1e-3)
    from geolid.inference.api import GeoLID

    import soundfile as sf

    lid = GeoLID.from_pretrained(str(model_root), device="cpu")
    wav, _ = sf.read(str(p), dtype="float32")          # the file's 16-bit samples
    for seg in rec["segments"]:
        part = wav[int(round(seg["start"] * 16000)):int(round(seg["end"] * 16000))]
        alone = lid.predict((part, 16000), speech_detector="silero")
        # segment bounds are rounded to the millisecond, and one sample's shift moves the
        # 320-sample frames of the tiny random model by up to ~0.5% in probability
        assert seg["language"] == alone.language and seg["probability"] == pytest.approx(alone.probability, abs=0.02)


def test_map_with_true_languages(capsys, model_root, folder, tmp_path):
    utt2lang = tmp_path / "utt2lang"
    utt2lang.write_text("a eng\nb fra\nc cmn\n")
    png = tmp_path / "map.png"
    rc, _, err = _run(capsys, "predict", folder, "--model", model_root, "--map", png,
                      "--utt2lang", utt2lang, "--format", "tsv", "-q")
    assert rc == 0 and png.stat().st_size > 10_000
    assert "top-1 accuracy" in err and "on 3 input(s)" in err
    import matplotlib.image as mpimg

    img = mpimg.imread(str(png))[..., :3]
    for rgb in ((0.839, 0.153, 0.157), (0.122, 0.467, 0.706)):  # predicted red, true blue
        assert (np.abs(img - np.asarray(rgb)) < 0.06).all(-1).sum() > 20, f"no {rgb} markers"


def test_usage_errors(capsys, model_root, tmp_path):
    rc, _, err = _run(capsys, "predict", "--model", model_root)
    assert rc == 2 and "nothing to do" in err
    (tmp_path / "empty_dir").mkdir()
    rc, _, err = _run(capsys, "predict", tmp_path / "empty_dir", "--model", model_root)
    assert rc == 2 and "no audio files" in err
    scp = tmp_path / "dup.scp"
    scp.write_text("a x.wav\na y.wav\n")
    rc, _, err = _run(capsys, "predict", "--scp", scp, "--model", model_root)
    assert rc == 2 and "duplicate key 'a'" in err


def test_missing_model_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    write(tmp_path / "a.wav", noise(1.0))
    rc, _, err = _run(capsys, "predict", tmp_path / "a.wav", "--model", "espnet/geolid_missing")
    assert rc == 2 and "hf download espnet/geolid_missing" in err
    rc, _, err = _run(capsys, "download", "espnet/geolid_missing", "--local-dir", tmp_path / "dl")
    assert rc == 2 and "hf download espnet/geolid_missing" in err


def test_scp_with_tab_separator_and_byte_order_mark(tmp_path):
    """Issue 7 item 11: a tab-separated wav.scp was 'has no path'; a BOM joined the key."""
    from geolid.cli.predict import read_scp

    scp = tmp_path / "wav.scp"
    scp.write_text("\ufeffa\t/data/a b.wav\nb\t\t/data/b.wav\n", encoding="utf-8")
    assert read_scp(str(scp)) == [("a", "/data/a b.wav"), ("b", "/data/b.wav")]


def test_cli_records_equal_the_api(capsys, model_root, folder):
    """One model, one answer: `geolid predict` is GeoLID.predict with the same options
    (files of 1-2 s at 16, 22.05 and 44.1 kHz, one stereo)."""
    from geolid import GeoLID

    rc, out, err = _run(capsys, "predict", folder, "--model", model_root, "--format", "json", "-q")
    assert rc == 0, err
    lid = GeoLID.from_pretrained(str(model_root))
    for rec in json.loads(out)["predictions"]:
        alone = lid.predict(rec["path"])
        assert rec["language"] == alone.language
        assert rec["probability"] == pytest.approx(alone.probability, abs=1e-6)
        got = {s["code"]: s["probability"] for s in rec["top_k"]}
        assert got == pytest.approx({s.code: s.probability for s in alone.top_k}, abs=1e-6)


def test_predict_and_serve_read_the_model_options_alike(monkeypatch):
    """The two doors share one definition of the options that choose and run a model."""
    import argparse

    from geolid.cli.predict import add_predict_parser
    from geolid.cli.serve import add_serve_parser

    monkeypatch.setenv("GEOLID_SPEECH_DETECTOR", "energy")
    monkeypatch.setenv("GEOLID_MODEL", "some/model")
    parsers = {}
    for name, add in (("predict", add_predict_parser), ("serve", add_serve_parser)):
        root = argparse.ArgumentParser()
        add(root.add_subparsers(dest="cmd"))
        parsers[name] = root
    shared = ["--revision", "r1", "--device", "cpu", "--dtype", "float32", "--threads", "2",
              "--allow-outside-paths"]
    keys = ("model", "revision", "device", "dtype", "threads", "speech_detector", "allow_outside_paths")
    got = {n: {k: getattr(p.parse_args([n, *shared]), k) for k in keys} for n, p in parsers.items()}
    assert got["predict"] == got["serve"]
    assert got["serve"]["model"] == "some/model" and got["serve"]["speech_detector"] == "energy"
