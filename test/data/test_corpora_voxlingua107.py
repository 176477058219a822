"""VoxLingua107 preparation on a tiny fake corpus in the raw layout."""
from __future__ import annotations

from pathlib import Path

import pytest

from geolid.data.corpora.common import CorpusError
from geolid.data.corpora.voxlingua107 import prepare_voxlingua107
from geolid.data.datadir import validate_data_dir


@pytest.fixture
def vl_root(tmp_path, audio) -> Path:
    root = tmp_path / "vl107"
    # Written out of order on purpose; legacy folder codes iw/jw/zh included.
    for rel in ["zh/z2.wav", "zh/z1.wav", "iw/h1.wav", "jw/j1.wav", "en/e2.wav", "en/e1.wav",
                "en/shared.wav", "dev/en/shared.wav", "dev/en/d1.wav", "dev/zh/dz.wav"]:
        audio.wav(root / rel)
    (root / "en" / "notes.txt").write_text("ignored")
    return root


def test_prepare_exact_files(vl_root, tmp_path, audio):
    train, dev = prepare_voxlingua107(vl_root, tmp_path / "data")
    assert train == tmp_path / "data" / "train_voxlingua107_lang"
    assert dev == tmp_path / "data" / "dev_voxlingua107_lang"
    r = vl_root.resolve()
    assert (train / "wav.scp").read_text() == (
        f"cmn_z1 {r}/zh/z1.wav\ncmn_z2 {r}/zh/z2.wav\neng_e1 {r}/en/e1.wav\n"
        f"eng_e2 {r}/en/e2.wav\nheb_h1 {r}/iw/h1.wav\njav_j1 {r}/jw/j1.wav\n")
    assert (train / "utt2lang").read_text() == (
        "cmn_z1 cmn\ncmn_z2 cmn\neng_e1 eng\neng_e2 eng\nheb_h1 heb\njav_j1 jav\n")
    assert (train / "lang2utt").read_text() == (
        "cmn cmn_z1 cmn_z2\neng eng_e1 eng_e2\nheb heb_h1\njav jav_j1\n")
    assert (train / "category2utt").read_text() == (train / "lang2utt").read_text()
    # "shared" is in dev, so it left training.
    assert (dev / "wav.scp").read_text() == (
        f"cmn_dz {r}/dev/zh/dz.wav\neng_d1 {r}/dev/en/d1.wav\neng_shared {r}/dev/en/shared.wav\n")
    assert (dev / "lang2utt").read_text() == "cmn cmn_dz\neng eng_d1 eng_shared\n"
    validate_data_dir(train, check_audio=True)
    validate_data_dir(dev, check_audio=True)


def test_missing_root_and_dev(tmp_path, audio):
    with pytest.raises(CorpusError, match=r"VoxLingua107: folder .*nope' not found.*dev.zip"):
        prepare_voxlingua107(tmp_path / "nope", tmp_path / "data")
    audio.wav(tmp_path / "vl" / "en" / "a.wav")
    with pytest.raises(CorpusError, match=r"dev set: folder .*vl/dev' not found"):
        prepare_voxlingua107(tmp_path / "vl", tmp_path / "data")


def test_unknown_folder_and_bad_names(vl_root, tmp_path, audio):
    audio.wav(vl_root / "xx" / "a.wav")
    with pytest.raises(CorpusError, match=r"xx: 'xx' is not one of the 107 VoxLingua107"):
        prepare_voxlingua107(vl_root, tmp_path / "data")
    (vl_root / "xx" / "a.wav").unlink()
    (vl_root / "xx").rmdir()
    audio.wav(vl_root / "en" / "with space.wav")
    with pytest.raises(CorpusError, match="whitespace"):
        prepare_voxlingua107(vl_root, tmp_path / "data")


def test_empty_dev(tmp_path, audio):
    audio.wav(tmp_path / "vl" / "en" / "a.wav")
    (tmp_path / "vl" / "dev").mkdir()
    with pytest.raises(CorpusError, match="no language folders"):
        prepare_voxlingua107(tmp_path / "vl", tmp_path / "data")


def test_dev_only_copy_prepares_the_dev_set(tmp_path, audio, caplog):
    """Issue: preparing only the test sets stopped with "no language folders"."""
    for rel in ["dev/en/d1.wav", "dev/zh/dz.wav"]:
        audio.wav(tmp_path / "vl" / rel)
    with caplog.at_level("WARNING"):
        written = prepare_voxlingua107(tmp_path / "vl", tmp_path / "data")
    assert [p.name for p in written] == ["dev_voxlingua107_lang"]
    assert (written[0] / "utt2lang").read_text() == "cmn_dz cmn\neng_d1 eng\n"
    assert "no training language folders" in caplog.text
    assert not (tmp_path / "data" / "train_voxlingua107_lang").exists()
