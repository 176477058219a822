"""The Kaldi data directory model: writing, reading, validation, combine, filter."""
from __future__ import annotations

from pathlib import Path

import pytest

from geolid.data.datadir import (DataDir, DataDirError, combine_data_dirs, filter_to_languages,
                                 read_data_dir, validate_data_dir,
                                 write_data_dir)


def files(d: Path) -> dict:
    return {p.name: p.read_text() for p in sorted(d.iterdir()) if not p.name.startswith(".")}


def simple(tmp_path, name="set", validate=True) -> Path:
    # Deliberately unsorted input: the writer sorts.
    data = DataDir(wav_scp={"fra_b": "/a/b.wav", "eng_z": "/a/z.wav", "eng_a": "cmd a |"},
                   utt2lang={"fra_b": "fra", "eng_z": "eng", "eng_a": "eng"})
    return write_data_dir(tmp_path / name, data, validate=validate)


def test_write_sorted_exact_files(tmp_path):
    d = simple(tmp_path)
    assert files(d) == {
        "category2utt": "eng eng_a eng_z\nfra fra_b\n",
        "lang2utt": "eng eng_a eng_z\nfra fra_b\n",
        "utt2lang": "eng_a eng\neng_z eng\nfra_b fra\n",
        "wav.scp": "eng_a cmd a |\neng_z /a/z.wav\nfra_b /a/b.wav\n",
    }


def test_write_segments_and_datasets_then_rewrite_removes_stale_files(tmp_path):
    data = DataDir(wav_scp={"yue_r1": "/r1.sph"},
                   utt2lang={"yue_r1_2": "yue", "yue_r1_1": "yue"},
                   segments={"yue_r1_2": ("yue_r1", 12.0, 25.5), "yue_r1_1": ("yue_r1", 0.0, 10.25)},
                   utt2dataset={"yue_r1_1": "babel", "yue_r1_2": "babel"})
    d = write_data_dir(tmp_path / "s", data)
    got = files(d)
    assert got["segments"] == "yue_r1_1 yue_r1 0.000 10.250\nyue_r1_2 yue_r1 12.000 25.500\n"
    assert got["utt2dataset"] == "yue_r1_1 babel\nyue_r1_2 babel\n"
    assert got["dataset2utt"] == "babel yue_r1_1 yue_r1_2\n"
    back = read_data_dir(d)
    assert back.segments == data.segments and back.utt2dataset == data.utt2dataset
    write_data_dir(d, DataDir({"eng_a": "/a.wav"}, {"eng_a": "eng"}))
    assert sorted(files(d)) == ["category2utt", "lang2utt", "utt2lang", "wav.scp"]


def test_write_rejects_empty_and_whitespace_ids(tmp_path):
    with pytest.raises(DataDirError, match="no utterances"):
        write_data_dir(tmp_path / "e", DataDir({}, {}))
    with pytest.raises(DataDirError, match="whitespace"):
        write_data_dir(tmp_path / "w", DataDir({"eng_a b": "/x"}, {"eng_a b": "eng"}))


def test_validate_ok_returns_data(tmp_path):
    data = validate_data_dir(simple(tmp_path))
    assert data.utterances == ["eng_a", "eng_z", "fra_b"]
    assert data.languages == ["eng", "fra"]


@pytest.mark.parametrize("file,content,message", [
    ("wav.scp", "eng_z /a/z.wav\neng_a x |\nfra_b /a/b.wav\n", r"wav.scp:2: key 'eng_a' comes after 'eng_z'.*sorted"),
    ("utt2lang", "eng_a eng\neng_a eng\neng_z eng\nfra_b fra\n", r"utt2lang:2: duplicate key 'eng_a'"),
    ("utt2lang", "eng_a eng\nfra_b fra\n", r"wav.scp:2: 'eng_z' has no entry in utt2lang"),
    ("wav.scp", "eng_a x |\nfra_b /a/b.wav\n", r"utt2lang:2: 'eng_z' has no entry in wav.scp"),
    ("utt2lang", "eng_a en\neng_z eng\nfra_b fra\n", r"utt2lang:1: label 'en' .* not an ISO 639-3"),
    ("utt2lang", "eng_a eng\neng_z deu\nfra_b fra\n", r"utt2lang:2: utterance id 'eng_z' must start with its label 'deu_'"),
    ("lang2utt", "eng eng_a\nfra fra_b\n", r"lang2utt:1: the list for 'eng' differs on \['eng_z'\]"),
    ("lang2utt", "eng eng_z eng_a\nfra fra_b\n", r"lang2utt:1: .*not sorted"),
    ("lang2utt", "eng eng_a eng_z\n", r"lang2utt: no line for \['fra'\]"),
    ("category2utt", "eng eng_a eng_z\nfra fra_b\nita ita_x\n", r"category2utt:3: 'ita' has no utterance"),
])
def test_validate_errors_name_file_and_line(tmp_path, file, content, message):
    d = simple(tmp_path)
    (d / file).write_text(content)
    with pytest.raises(DataDirError, match=message):
        validate_data_dir(d)


def test_id_with_a_space_is_reported_as_such_not_as_unsorted(tmp_path):
    """Issue: 'eng_a b' after 'eng_a1' was reported as an unsorted wav.scp."""
    d = tmp_path / "spaced"
    d.mkdir()
    (d / "wav.scp").write_text("eng_a1 /a.wav\neng_a b /c.wav\n")
    (d / "utt2lang").write_text("eng_a1 eng\neng_a b eng\n")
    (d / "lang2utt").write_text("eng eng_a1 eng_a b\n")
    with pytest.raises(DataDirError) as e:
        validate_data_dir(d)
    msg = str(e.value)
    assert msg.startswith(f"{d}/utt2lang:2: 3 fields where '<utt> <label>' has 2: the id "
                          "'eng_a b' contains a space")
    assert "sorted" not in msg
    # A path with spaces in wav.scp stays fine.
    ok = write_data_dir(tmp_path / "ok", DataDir({"eng_a": "/my audio/a.wav"}, {"eng_a": "eng"}))
    assert validate_data_dir(ok).wav_scp == {"eng_a": "/my audio/a.wav"}


def test_validate_missing_files_and_dir(tmp_path):
    with pytest.raises(DataDirError, match="no such data directory"):
        validate_data_dir(tmp_path / "nope")
    d = simple(tmp_path)
    (d / "lang2utt").unlink()
    with pytest.raises(DataDirError, match="missing lang2utt"):
        validate_data_dir(d)


def seg_dir(tmp_path) -> Path:
    data = DataDir(wav_scp={"yue_r1": "/r1.sph", "yue_r2": "/r2.sph"},
                   utt2lang={"yue_r1_a": "yue", "yue_r2_a": "yue"},
                   segments={"yue_r1_a": ("yue_r1", 0.0, 11.0), "yue_r2_a": ("yue_r2", 1.0, 12.0)})
    return write_data_dir(tmp_path / "seg", data)


@pytest.mark.parametrize("content,message", [
    ("yue_r1_a yue_r9 0 11\nyue_r2_a yue_r2 1 12\n", r"segments:1: recording 'yue_r9' .* not in wav.scp"),
    ("yue_r1_a yue_r1 5 5\nyue_r2_a yue_r2 1 12\n", r"segments:1: need 0 <= start < end"),
    ("yue_r1_a yue_r1 0 11\nyue_r2_a yue_r1 1 12\n", r"wav.scp:2: recording 'yue_r2' is used by no segment"),
    ("yue_r1_a yue_r1 0 x\nyue_r2_a yue_r2 1 12\n", r"segments:1: start/end must be numbers"),
    ("yue_r1_a yue_r1 0\nyue_r2_a yue_r2 1 12\n", r"segments:1: expected"),
])
def test_validate_segments(tmp_path, content, message):
    d = seg_dir(tmp_path)
    validate_data_dir(d)
    (d / "segments").write_text(content)
    with pytest.raises(DataDirError, match=message):
        validate_data_dir(d)


def test_validate_check_audio(tmp_path, audio):
    good = audio.wav(tmp_path / "good.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    data = DataDir({"eng_a": str(good), "eng_b": "sox nothing -t wav - |"},
                   {"eng_a": "eng", "eng_b": "eng"})
    d = write_data_dir(tmp_path / "ok", data)
    validate_data_dir(d, check_audio=True)  # the piped command is not run

    data.wav_scp["eng_c"], data.utt2lang["eng_c"] = str(bad), "eng"
    d = write_data_dir(tmp_path / "bad", data)
    validate_data_dir(d)  # without the audio check it passes
    with pytest.raises(DataDirError, match=r"wav.scp:3: audio of 'eng_c': .*bad.wav: unreadable audio"):
        validate_data_dir(d, check_audio=True)

    data.wav_scp["eng_c"] = str(tmp_path / "missing.wav")
    d = write_data_dir(tmp_path / "missing", data)
    with pytest.raises(DataDirError, match=r"wav.scp:3: audio of 'eng_c': .*missing.wav: file not found"):
        validate_data_dir(d, check_audio=True)


def test_validate_dataset_files(tmp_path):
    d = simple(tmp_path)
    (d / "utt2dataset").write_text("eng_a x\neng_z x\nfra_b y\n")
    with pytest.raises(DataDirError, match="utt2dataset and dataset2utt come together"):
        validate_data_dir(d)
    (d / "dataset2utt").write_text("x eng_a eng_z\ny fra_b\n")
    validate_data_dir(d)
    (d / "dataset2utt").write_text("x eng_a\ny fra_b eng_z\n")
    with pytest.raises(DataDirError, match=r"dataset2utt:1: the list for 'x'"):
        validate_data_dir(d)


def test_combine_writes_dataset_maps(tmp_path):
    a = write_data_dir(tmp_path / "train_a_lang", DataDir({"eng_1": "/1.wav"}, {"eng_1": "eng"}))
    b = write_data_dir(tmp_path / "train_b_lang",
                       DataDir({"deu_2": "/2.ogg", "eng_0": "/0.ogg"}, {"deu_2": "deu", "eng_0": "eng"}))
    out = combine_data_dirs([a, b], tmp_path / "all")
    got = files(out)
    assert got["utt2dataset"] == "deu_2 train_b_lang\neng_0 train_b_lang\neng_1 train_a_lang\n"
    assert got["dataset2utt"] == "train_a_lang eng_1\ntrain_b_lang deu_2 eng_0\n"
    assert got["lang2utt"] == "deu deu_2\neng eng_0 eng_1\n"
    assert got["wav.scp"] == "deu_2 /2.ogg\neng_0 /0.ogg\neng_1 /1.wav\n"
    out = combine_data_dirs([a, b], tmp_path / "named", dataset_names=["A", "B"])
    assert files(out)["dataset2utt"] == "A eng_1\nB deu_2 eng_0\n"


def test_combine_errors(tmp_path):
    a = write_data_dir(tmp_path / "a", DataDir({"eng_1": "/1.wav"}, {"eng_1": "eng"}))
    b = write_data_dir(tmp_path / "b", DataDir({"eng_1": "/other.wav"}, {"eng_1": "eng"}))
    with pytest.raises(DataDirError, match="'eng_1' is in both"):
        combine_data_dirs([a, b], tmp_path / "out")
    with pytest.raises(DataDirError, match="have segments but the others do not"):
        combine_data_dirs([a, seg_dir(tmp_path)], tmp_path / "out")
    with pytest.raises(DataDirError, match="2 directories but 1 dataset names"):
        combine_data_dirs([a, b], tmp_path / "out", dataset_names=["x"])


def test_filter_to_languages(tmp_path):
    d = simple(tmp_path, "test_x_lang")
    train = write_data_dir(tmp_path / "train", DataDir({"fra_q": "/q"}, {"fra_q": "fra"}))
    out = filter_to_languages(d, tmp_path / "cross", train)
    assert files(out)["wav.scp"] == "fra_b /a/b.wav\n"
    assert files(out)["lang2utt"] == "fra fra_b\n"
    out = filter_to_languages(d, tmp_path / "cross2", ["eng", "deu"])
    assert files(out)["utt2lang"] == "eng_a eng\neng_z eng\n"
    with pytest.raises(DataDirError, match="leave this set out"):
        filter_to_languages(d, tmp_path / "none", ["deu"])


def test_filter_with_segments_drops_unused_recordings(tmp_path):
    data = DataDir(wav_scp={"yue_r1": "/r1.sph", "tam_r2": "/r2.sph"},
                   utt2lang={"yue_r1_a": "yue", "tam_r2_a": "tam"},
                   segments={"yue_r1_a": ("yue_r1", 0.0, 11.0), "tam_r2_a": ("tam_r2", 1.0, 12.0)})
    d = write_data_dir(tmp_path / "seg", data)
    out = filter_to_languages(d, tmp_path / "cross", ["tam"])
    assert files(out)["wav.scp"] == "tam_r2 /r2.sph\n"
    assert files(out)["segments"] == "tam_r2_a tam_r2 1.000 12.000\n"


def test_tab_separated_files_with_a_byte_order_mark_are_read(tmp_path, audio):
    """Issue 7 item 11: Kaldi accepts tabs; a BOM must not become part of the first key."""
    wav = audio.wav(tmp_path / "a.wav")
    d = tmp_path / "d"
    d.mkdir()
    (d / "wav.scp").write_text(f"\ufeffeng_a\t{wav}\n", encoding="utf-8")
    (d / "utt2lang").write_text("\ufeffeng_a\teng\n", encoding="utf-8")
    (d / "lang2utt").write_text("eng\teng_a\n", encoding="utf-8")
    data = validate_data_dir(d, check_audio=True)
    assert data.wav_scp == {"eng_a": str(wav)} and data.utt2lang == {"eng_a": "eng"}
