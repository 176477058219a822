import os
import stat

import pytest

from geolid.utils.fileio import atomic_write, read_kaldi_map, write_kaldi_map


def test_atomic_write_replaces_whole_file_and_keeps_normal_permissions(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target) as f:
        f.write("a 1\n")
    mode = stat.S_IMODE(target.stat().st_mode)
    mask = os.umask(0); os.umask(mask)
    assert mode == 0o666 & ~mask
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "a 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temp file left


def test_kaldi_map_round_trip_and_duplicates(tmp_path):
    write_kaldi_map(tmp_path / "m", {"b": "2", "a": ["x", "y"]})
    assert (tmp_path / "m").read_text() == "a x y\nb 2\n"
    assert read_kaldi_map(tmp_path / "m") == {"a": "x y", "b": "2"}
    (tmp_path / "d").write_text("a 1\nb 2\na 3\n")
    with pytest.raises(ValueError, match=r"d:3: duplicate key 'a' \(first seen on line 1\)"):
        read_kaldi_map(tmp_path / "d")


def test_atomic_write_temps_carry_the_pid_and_stale_ones_are_removed(tmp_path):
    from geolid.utils.fileio import remove_stale_temps

    seen = []
    with atomic_write(tmp_path / "x.wav", "wb", fsync=False) as f:
        seen = [p.name for p in tmp_path.iterdir()]
        f.write(b"data")
    assert len(seen) == 1 and seen[0].startswith(".x.wav.") and seen[0].endswith(f".{os.getpid()}.tmp")
    (tmp_path / f".y.wav.abc.{os.getpid()}.tmp").write_bytes(b"")  # a live writer's temp: kept
    (tmp_path / ".z.wav.abc.999999999.tmp").write_bytes(b"")
    assert remove_stale_temps(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".y.wav.abc.{os.getpid()}.tmp", "x.wav"]


def test_kaldi_lines_accept_what_kaldi_accepts(tmp_path):
    """Issue 7 item 11: a tab separator and a UTF-8 byte-order mark are valid Kaldi files."""
    from geolid.utils.fileio import read_kaldi_lines

    p = tmp_path / "wav.scp"
    p.write_bytes(b"\xef\xbb\xbfutt1\t/a b/x.wav\r\n\n  utt2 \t /y.wav  \nutt3\n")
    assert read_kaldi_lines(p) == [(1, "utt1", "/a b/x.wav"), (3, "utt2", "/y.wav"), (4, "utt3", "")]
    assert read_kaldi_map(p)["utt1"] == "/a b/x.wav"  # the BOM is not part of the first key


def test_kaldi_lines_name_the_line_of_non_utf8_text(tmp_path):
    from geolid.utils.fileio import read_kaldi_lines

    p = tmp_path / "utt2lang"
    p.write_bytes(b"a eng\nb fr\xe9\n")
    with pytest.raises(ValueError, match=r"utt2lang:2: not UTF-8 text"):
        read_kaldi_lines(p)
