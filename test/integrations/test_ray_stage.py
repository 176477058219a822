"""The Ray Data stage (geolid.integrations.ray) on a local Ray instance of 2 CPUs: one model,
one answer, whatever the door (path, encoded bytes, array), equal to GeoLID.predict; bad
inputs are rows; a killed actor loses and doubles nothing; the CLI's --engine ray writes a
resumable Parquet dataset equal to the single-process engine's."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from integrations.conftest import close

pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from geolid.inference.options import PredictOptions  # noqa: E402
from geolid.integrations.ray import (GeoLIDPredictor, check_columns, predict_dataset,  # noqa: E402
                                     threads_per_actor)


def same_as_prediction(row, p, embedding=None):
    """A result row and a Prediction of the same input agree (floats within 1e-5)."""
    assert row["error"] == p.error, row["key"]
    if p.error:
        return
    assert row["language"] == p.language and row["name"] == p.name
    assert abs(row["probability"] - p.probability) <= 1e-5
    assert row["top_k_languages"] == [s.code for s in p.top_k]
    assert close(row["top_k_probabilities"], [s.probability for s in p.top_k])
    assert row["rejected"] == p.rejected and row["num_windows"] == p.num_windows
    assert close(row["duration"], p.duration) and close(row["speech_fraction"], p.speech_fraction)
    assert (row["location"] is None) == (p.location is None)
    if p.location is not None:
        assert close([row["location"]["lat"], row["location"]["lon"]], [p.location.lat, p.location.lon])
    assert close(row["geo_vector"], p.geo_vector)
    if embedding is not None:
        assert close(row["embedding"], embedding)


def test_threads_per_actor_share_the_node():
    assert threads_per_actor(2, 1) == 2 and threads_per_actor(2, 2) == 1
    assert threads_per_actor(16, 4) == 4 and threads_per_actor(16, 40) == 1
    assert threads_per_actor(16, 4, cpus_per_actor=8) == 8   # only 2 of them fit on the node
    assert threads_per_actor(1, 3) == 1


def test_columns_are_checked_before_any_work():
    check_columns(["path"])
    check_columns(["key", "bytes"])
    with pytest.raises(ValueError, match="no audio column"):
        check_columns(["key", "text"])
    with pytest.raises(ValueError, match="need a 'key' column"):
        check_columns(["bytes"])
    with pytest.raises(ValueError, match=r"\['language'\] would be overwritten"):
        check_columns(["path", "language"])


def test_every_door_gives_the_answer_of_predict(ray_local, lid, model_root, clips):
    """Paths, encoded bytes and arrays of the same files, on 2 actors: every row equals
    GeoLID.predict on the file (and its embedding GeoLID.embed); bad files are error rows."""
    ray = ray_local
    opts = PredictOptions(speech_detector="silero", top_k=3)
    good = [k for k in clips if k not in ("broken", "missing")]
    rows = [{"key": f"path:{k}", "path": clips[k]} for k in good + ["broken", "missing"]]
    for k in good + ["broken"]:
        rows.append({"key": f"bytes:{k}", "bytes": Path(clips[k]).read_bytes()})
    for k in good:
        x, sr = sf.read(clips[k], dtype="float32")
        rows.append({"key": f"array:{k}", "array": x.tolist(), "sample_rate": sr})
    rows.append({"key": "array:no_rate", "array": [0.0] * 16000})
    ds = ray.data.from_items(rows, override_num_blocks=4)
    out = predict_dataset(ds, str(model_root), opts, actors=2, batch_size=4,
                          include_embedding=True, include_geo_vector=True).take_all()
    assert [r["key"] for r in sorted(out, key=lambda r: r["key"])] == sorted(r["key"] for r in rows)
    by_key = {r["key"]: r for r in out}
    want = {p.key: p for p in lid.predict([clips[k] for k in good + ["broken", "missing"]], options=opts)}
    sha = lid.identity().sha256
    for k in good:
        p = want[clips[k]]
        emb = lid.embed(clips[k], options=opts)
        for door in ("path", "bytes", "array"):
            row = by_key[f"{door}:{k}"]
            same_as_prediction(row, p, emb)
            assert row["model"]["sha256"] == sha and row["model"]["name"] == str(model_root)
            assert row["options"] is not None and '"top_k": 3' in row["options"]
        assert by_key[f"path:{k}"]["path"] == clips[k]
        assert "bytes" not in by_key[f"bytes:{k}"] and "array" not in by_key[f"array:{k}"]
    # the messages geolid predict gives for the same files
    assert by_key["path:broken"]["error"] == want[clips["broken"]].error
    assert by_key["path:missing"]["error"] == want[clips["missing"]].error == "file not found"
    assert by_key["bytes:broken"]["error"].startswith("unreadable audio")
    assert "sample_rate" in by_key["array:no_rate"]["error"]
    assert by_key["path:missing"]["language"] is None and by_key["path:missing"]["embedding"] is None


def test_stage_keeps_the_input_columns(ray_local, model_root, clips):
    ds = ray_local.data.from_items([{"path": clips["noise1"], "speaker": "s1"},
                                    {"path": clips["tone"], "speaker": "s2"}])
    out = ds.map_batches(GeoLIDPredictor, fn_constructor_kwargs={"model": str(model_root)},
                         batch_format="pyarrow", batch_size=2,
                         compute=ray_local.data.ActorPoolStrategy(size=1)).take_all()
    assert sorted(r["speaker"] for r in out) == ["s1", "s2"]
    assert all(r["key"] == r["path"] and r["language"] for r in out)


# --------------------------------------------------------------------- the CLI
def make_scp(tmp_path, n, start=0):
    from integrations.conftest import noise, write

    lines = []
    for i in range(start, start + n):
        p = write(tmp_path / "wav" / f"u{i}.wav", noise(1.0 + 0.1 * i, seed=i))
        lines.append(f"utt{i} {p}")
    return lines


def scp_file(tmp_path, lines, name="wav.scp"):
    f = tmp_path / name
    f.write_text("\n".join(lines) + "\n")
    return f


def parts(out):
    return sorted(Path(out).glob("part-*.parquet"))


def test_cli_ray_engine_equals_single_process_and_resumes(ray_local, model_root, tmp_path, capsys):
    """--engine ray --actors 2 writes the single engine's rows; a rerun with more inputs
    scores only the new ones; a deleted part (a run killed before writing it) is redone."""
    from geolid.cli.main import main

    lines = make_scp(tmp_path, 6) + [f"broken {tmp_path / 'nope.wav'}"]
    scp = scp_file(tmp_path, lines[:5])
    single, ray_out = tmp_path / "single.parquet", tmp_path / "ray.parquet"
    common = ["--scp", str(scp), "--model", str(model_root), "-q", "--embedding", "--geo-vector"]
    assert main(["predict", *common, "--out", str(single)]) == 0
    assert main(["predict", *common, "--engine", "ray", "--actors", "2", "--out", str(ray_out)]) == 0
    a = pq.read_table(single).to_pylist()
    b = pq.read_table(ray_out).to_pylist()
    assert sorted(r["key"] for r in b) == sorted(r["key"] for r in a) == [f"utt{i}" for i in range(5)]
    a, b = ({r["key"]: r for r in t} for t in (a, b))
    for k in a:
        for col, v in a[k].items():
            if isinstance(v, list) and v and isinstance(v[0], float):
                assert close(b[k][col], v), (k, col)
            elif isinstance(v, float):
                assert abs(b[k][col] - v) <= 1e-5, (k, col)
            else:
                assert b[k][col] == v, (k, col)
    first = {p: p.stat().st_mtime_ns for p in parts(ray_out)}
    # more inputs (two new files and a broken one): only those are scored
    scp2 = scp_file(tmp_path, lines, "wav2.scp")
    capsys.readouterr()
    rc = main(["predict", "--scp", str(scp2), "--model", str(model_root), "-q", "--embedding",
               "--geo-vector", "--engine", "ray", "--actors", "2", "--out", str(ray_out)])
    err = capsys.readouterr().err
    assert rc == 1 and "resuming: 5 of 7 inputs already in" in err and "broken: file not found" in err
    assert {p: p.stat().st_mtime_ns for p in parts(ray_out) if p in first} == first  # untouched
    new_keys = sorted(k for p in parts(ray_out) if p not in first
                      for k in pq.read_table(p, columns=["key"]).column("key").to_pylist())
    assert new_keys == ["broken", "utt5"]
    keys = pq.read_table(ray_out, columns=["key"]).column("key").to_pylist()
    assert sorted(keys) == sorted(["broken"] + [f"utt{i}" for i in range(6)])
    # a part lost (a run killed before writing it): only its rows are scored again
    lost = parts(ray_out)[0]
    lost_keys = pq.read_table(lost, columns=["key"]).column("key").to_pylist()
    lost.unlink()
    rc = main(["predict", "--scp", str(scp2), "--model", str(model_root), "-q", "--embedding",
               "--geo-vector", "--engine", "ray", "--out", str(ray_out)])
    err = capsys.readouterr().err
    assert f"resuming: {7 - len(lost_keys)} of 7 inputs" in err
    keys = pq.read_table(ray_out, columns=["key"]).column("key").to_pylist()
    assert sorted(keys) == sorted(["broken"] + [f"utt{i}" for i in range(6)])   # no duplicate
    # Ray reads the dataset back
    assert ray_local.data.read_parquet(str(ray_out)).count() == 7


def test_killed_actor_leaves_a_complete_dataset(ray_local, model_root, tmp_path, monkeypatch, capsys):
    """An actor that dies (os._exit) on a chosen row the first time is restarted by Ray and
    its batch retried: the dataset ends with every key exactly once."""
    import geolid.integrations.ray as stage_module
    from geolid.cli.main import main

    marker = tmp_path / "crashed_once"

    class CrashOnce(GeoLIDPredictor):
        def __call__(self, batch):
            if "utt3" in batch.column("key").to_pylist() and not marker.exists():
                marker.touch()
                os._exit(1)
            return super().__call__(batch)

    monkeypatch.setattr(stage_module, "STAGE", CrashOnce)
    scp = scp_file(tmp_path, make_scp(tmp_path, 8))
    out = tmp_path / "out.parquet"
    rc = main(["predict", "--scp", str(scp), "--model", str(model_root), "-q", "--engine", "ray",
               "--actors", "2", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert marker.exists()                          # the fault did happen
    keys = pq.read_table(out, columns=["key"]).column("key").to_pylist()
    assert sorted(keys) == [f"utt{i}" for i in range(8)]   # complete, no duplicate


def test_cli_ray_engine_jsonl_is_the_single_engines(ray_local, model_root, tmp_path, capsys):
    """Other formats come from the same rows: the JSONL records equal the single engine's,
    in input order; a manifest is an input list."""
    import json

    from geolid.cli.main import main

    lines = make_scp(tmp_path, 3)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"key": l.split()[0], "path": l.split()[1]}) + "\n"
                                for l in lines))
    outs = {}
    for engine in ("single", "ray"):
        outs[engine] = tmp_path / f"{engine}.jsonl"
        assert main(["predict", "--manifest", str(manifest), "--model", str(model_root), "-q",
                     "--engine", engine, "--out", str(outs[engine])]) == 0
    a, b = ([json.loads(x) for x in outs[e].read_text().splitlines()] for e in ("single", "ray"))
    assert [r["key"] for r in b] == [r["key"] for r in a] == ["utt0", "utt1", "utt2"]
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        assert {k: v for k, v in ra.items() if k not in ("location", "top_k", "probability")} == \
               {k: v for k, v in rb.items() if k not in ("location", "top_k", "probability")}
        assert abs(ra["probability"] - rb["probability"]) <= 1e-5


def test_help_imports_neither_ray_nor_torch():
    code = ("import sys\nfrom geolid.cli.main import main\n"
            "try:\n    main(['predict', '--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('ray', 'torch', 'pyarrow', 'lhotse') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "--engine" in r.stdout and "--ray-address" in r.stdout
