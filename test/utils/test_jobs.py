"""split_scp / merge_kaldi_files: contiguous parts, round trip, errors."""
from __future__ import annotations

import pytest

from geolid.bin import data_prep as cli
from geolid.utils.jobs import KaldiFileError, merge_kaldi_files, split_scp


def _scp(path, keys):
    path.write_text("".join(f"{k} /audio/{k}.wav\n" for k in keys))
    return path


def test_split_contiguous_and_balanced(tmp_path):
    keys = [f"eng_{i:02d}" for i in range(10)]
    parts = split_scp(_scp(tmp_path / "wav.scp", keys), 3, tmp_path / "split")
    assert [p.name for p in parts] == ["keys.1.scp", "keys.2.scp", "keys.3.scp"]
    got = [[line.split()[0] for line in p.read_text().splitlines()] for p in parts]
    assert got == [keys[0:4], keys[4:7], keys[7:10]]
    assert parts[0].read_text().splitlines()[0] == "eng_00 /audio/eng_00.wav"


def test_split_fewer_lines_than_jobs_and_stale_parts_removed(tmp_path):
    out = tmp_path / "split"
    split_scp(_scp(tmp_path / "a.scp", [f"k{i}" for i in range(5)]), 5, out)
    parts = split_scp(_scp(tmp_path / "b.scp", ["x", "y"]), 4, out)
    assert [p.name for p in parts] == ["keys.1.scp", "keys.2.scp"]
    assert sorted(p.name for p in out.iterdir()) == ["keys.1.scp", "keys.2.scp"]


def test_round_trip_sorted(tmp_path):
    keys = ["fra_b", "eng_a", "deu_c", "eng_b", "spa_z", "cmn_q", "eng_c"]
    src = tmp_path / "utt2x"
    src.write_text("".join(f"{k} v {i}\n" for i, k in enumerate(keys)))
    parts = split_scp(src, 3, tmp_path / "split")
    out = merge_kaldi_files(list(reversed(parts)), tmp_path / "merged")
    assert out.read_text() == "".join(sorted(src.read_text().splitlines(keepends=True)))


def test_errors(tmp_path):
    (tmp_path / "empty").write_text("")
    with pytest.raises(KaldiFileError, match="is empty"):
        split_scp(tmp_path / "empty", 2, tmp_path / "s")
    with pytest.raises(KaldiFileError, match="positive integer"):
        split_scp(_scp(tmp_path / "a", ["k"]), 0, tmp_path / "s")
    with pytest.raises(KaldiFileError, match="not found"):
        split_scp(tmp_path / "missing", 2, tmp_path / "s")
    a, b = _scp(tmp_path / "p1", ["k1", "k2"]), _scp(tmp_path / "p2", ["k3", "k1"])
    with pytest.raises(KaldiFileError, match=r"p2:2: duplicate key 'k1' \(also at .*p1:1\)"):
        merge_kaldi_files([a, b], tmp_path / "m")
    assert not (tmp_path / "m").exists()
    with pytest.raises(KaldiFileError, match="nope not found"):
        merge_kaldi_files([a, tmp_path / "nope"], tmp_path / "m")


def test_cli_split_and_merge(tmp_path, capsys):
    scp = tmp_path / "wav.scp"
    scp.write_text("".join(f"eng_{i} /a/{i}.wav\n" for i in range(5)))
    assert cli.main(["split-scp", str(scp), "2", str(tmp_path / "split")]) == 0
    parts = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[1] for p in parts] == ["keys.1.scp", "keys.2.scp"]
    assert cli.main(["merge", *parts, "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m").read_text() == scp.read_text()
    assert cli.main(["merge", parts[0], parts[0], "--out", str(tmp_path / "m2")]) == 1
    assert "duplicate key 'eng_0'" in capsys.readouterr().err
