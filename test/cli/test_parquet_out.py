"""``--out results.parquet`` (single-process engine): a dataset of atomic part files that
resumes, refuses what it must not mix or destroy, and holds the JSONL records; --manifest;
the usage errors of the new flags (exit 2, one line)."""
from __future__ import annotations

import json

import pytest

from cli.conftest import make_scp

pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")

from geolid.cli.main import main  # noqa: E402
from geolid.integrations.records import RESULT_COLUMNS, prediction_from_row  # noqa: E402


def run(capsys, *argv):
    capsys.readouterr()
    rc = main(["predict", "-q", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_parquet_holds_the_jsonl_records_and_resumes(capsys, model_root, tmp_path):
    scp = make_scp(tmp_path, 4)
    out, jl = tmp_path / "r.parquet", tmp_path / "r.jsonl"
    assert run(capsys, "--scp", scp, "--model", model_root, "--out", out)[0] == 0
    assert run(capsys, "--scp", scp, "--model", model_root, "--out", jl)[0] == 0
    table = pq.read_table(out)
    assert table.schema.names == list(RESULT_COLUMNS)
    records = [json.loads(line) for line in jl.read_text().splitlines()]
    assert [prediction_from_row(r).to_dict() for r in table.to_pylist()] == records
    assert all(r["model"]["sha256"] and r["embedding"] is None for r in table.to_pylist())
    # a rerun scores nothing and writes nothing
    before = sorted(p.name for p in out.iterdir())
    rc, _, err = run(capsys, "--scp", scp, "--model", model_root, "--out", out)
    assert rc == 0 and "resuming: 4 of 4 inputs already in" in err
    assert sorted(p.name for p in out.iterdir()) == before
    # a stale temp file of a killed run is removed, never read
    (out / ".part-x.parquet.abc.999999999.tmp").write_bytes(b"half a part")
    rc, _, err = run(capsys, "--scp", make_scp(tmp_path, 5), "--model", model_root, "--out", out)
    assert rc == 0 and "resuming: 4 of 5" in err
    assert not list(out.glob(".*.tmp"))
    assert sorted(pq.read_table(out, columns=["key"]).column("key").to_pylist()) == \
        [f"utt{i}" for i in range(5)]


def test_parquet_embedding_column(capsys, model_root, tmp_path, lid):
    scp = make_scp(tmp_path, 2)
    out = tmp_path / "e.parquet"
    assert run(capsys, "--scp", scp, "--model", model_root, "--out", out, "--embedding",
               "--geo-vector")[0] == 0
    rows = {r["key"]: r for r in pq.read_table(out).to_pylist()}
    import numpy as np

    for line in scp.read_text().splitlines():
        key, path = line.split()
        assert np.allclose(rows[key]["embedding"], lid.embed(path), atol=1e-6)
        assert len(rows[key]["geo_vector"]) == lid.predict(path).geo_vector.shape[0]


def test_parquet_refusals(capsys, model_root, tmp_path):
    scp = make_scp(tmp_path, 2)
    out = tmp_path / "r.parquet"
    assert run(capsys, "--scp", scp, "--model", model_root, "--out", out)[0] == 0
    rc, _, err = run(capsys, "--scp", scp, "--model", model_root, "--out", out, "--top-k", "2")
    assert rc == 2 and "made with other options" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1
    rc, _, err = run(capsys, "--scp", scp, "--model", model_root, "--out", out, "--top-k", "2",
                     "--overwrite")
    assert rc == 0 and "replacing" in err
    assert {len(r) for r in pq.read_table(out).column("top_k_languages").to_pylist()} == {2}
    # a folder with someone else's file, and a plain file, are not ours
    (out / "notes.txt").write_text("mine")
    rc, _, err = run(capsys, "--scp", scp, "--model", model_root, "--out", out, "--top-k", "2")
    assert rc == 2 and "notes.txt, which is not a geolid part file" in err
    rc, _, err = run(capsys, "--scp", scp, "--model", model_root, "--out", out, "--overwrite")
    assert rc == 2 and "not replaced" in err and (out / "notes.txt").exists()
    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"key": ["a"], "path": ["b"]}), other)
    rc, _, err = run(capsys, "--scp", scp, "--model", model_root, "--out", other)
    assert rc == 2 and "is a file, not a geolid Parquet dataset" in err
    # another writer holds the lock
    from filelock import FileLock

    fresh = tmp_path / "locked.parquet"
    fresh.mkdir()
    with FileLock(str(fresh / "_geolid.lock")):
        rc, _, err = run(capsys, "--scp", scp, "--model", model_root, "--out", fresh)
    assert rc == 2 and "another geolid run is writing" in err


def test_manifests(capsys, model_root, tmp_path):
    scp = make_scp(tmp_path, 3)
    pairs = [line.split() for line in scp.read_text().splitlines()]
    man = tmp_path / "m.parquet"
    pq.write_table(pa.table({"path": [p for _, p in pairs], "speaker": ["a", "b", "c"]}), man)
    rc, out, _ = run(capsys, "--manifest", man, "--model", model_root, "--format", "jsonl")
    assert rc == 0 and [json.loads(x)["key"] for x in out.splitlines()] == [p for _, p in pairs]
    bad = tmp_path / "nopath.parquet"
    pq.write_table(pa.table({"file": ["x"]}), bad)
    rc, _, err = run(capsys, "--manifest", bad, "--model", model_root)
    assert rc == 2 and "no 'path' column (columns: file)" in err
    jl = tmp_path / "m.jsonl"
    jl.write_text('{"key": "k1", "path": "%s"}\n{"file": "x"}\n' % pairs[0][1])
    rc, _, err = run(capsys, "--manifest", jl, "--model", model_root)
    assert rc == 2 and "line 2 has no 'path' field" in err
    rc, _, err = run(capsys, "--manifest", tmp_path / "m.csv", "--model", model_root)
    assert rc == 2 and "not found" in err


@pytest.mark.parametrize("argv, message", [
    (["--actors", "2"], "--actors needs --engine ray"),
    (["--ray-address", "auto"], "--ray-address needs --engine ray"),
    (["--engine", "ray", "--actors", "0"], "--actors must be an integer >= 1"),
    (["--embedding"], "--embedding is written to Parquet output only"),
    (["--format", "parquet"], "--format parquet writes a dataset folder"),
])
def test_usage_errors_of_the_new_flags(capsys, model_root, tmp_path, argv, message):
    scp = make_scp(tmp_path, 1)
    rc, _, err = run(capsys, "--scp", scp, "--model", model_root, *argv)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1
