"""VoxPopuli preparation on a tiny fake corpus in the raw layout."""
from __future__ import annotations

from pathlib import Path

import pytest

from geolid.data.corpora.common import CorpusError
from geolid.data.corpora import voxpopuli as vp
from geolid.data.corpora.voxpopuli import prepare_voxpopuli
from geolid.data.datadir import validate_data_dir

HEADER = "id\traw_text\tnormalized_text\tspeaker_id\tsplit\tgender\tis_gold_transcript\taccent\n"


def tsv(path: Path, ids) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"{i}\tSome \"quoted\" text\tsome text\t1\tx\tmale\tTrue\tNone\n"
                                     for i in ids))


@pytest.fixture
def vp_root(tmp_path, audio) -> Path:
    root = tmp_path / "voxpopuli"
    base = root / "_transcribed_data"
    tsv(base / "de" / "asr_train.tsv", ["20120917-0900-PLENARY-3_de_2", "20091005-0900-PLENARY-1_de_1"])
    tsv(base / "de" / "asr_dev.tsv", ["20180101-0900-PLENARY-9_de_1"])
    tsv(base / "en" / "asr_train.tsv", ["20100101-0900-PLENARY-1_en_1", "20100101-0900-PLENARY-1_en_missing"])
    tsv(base / "en" / "asr_dev.tsv", ["20110101-0900-PLENARY-2_en_1"])
    for lang, ident in [("de", "20120917-0900-PLENARY-3_de_2"), ("de", "20091005-0900-PLENARY-1_de_1"),
                        ("de", "20180101-0900-PLENARY-9_de_1"), ("en", "20100101-0900-PLENARY-1_en_1"),
                        ("en", "20110101-0900-PLENARY-2_en_1")]:
        audio.ogg(base / lang / ident[:4] / f"{ident}.ogg")
    return root


def test_prepare_exact_files(vp_root, tmp_path, caplog):
    with caplog.at_level("WARNING"):
        train, dev, test = prepare_voxpopuli(vp_root, tmp_path / "data", languages=["en", "de"])
    assert [train.name, dev.name, test.name] == [
        "train_voxpopuli_lang", "dev_voxpopuli_lang", "test_voxpopuli_lang"]
    b = vp_root.resolve() / "_transcribed_data"
    assert (train / "wav.scp").read_text() == (
        f"deu_20091005-0900-PLENARY-1_de_1 {b}/de/2009/20091005-0900-PLENARY-1_de_1.ogg\n"
        f"deu_20120917-0900-PLENARY-3_de_2 {b}/de/2012/20120917-0900-PLENARY-3_de_2.ogg\n"
        f"eng_20100101-0900-PLENARY-1_en_1 {b}/en/2010/20100101-0900-PLENARY-1_en_1.ogg\n")
    assert (train / "lang2utt").read_text() == (
        "deu deu_20091005-0900-PLENARY-1_de_1 deu_20120917-0900-PLENARY-3_de_2\n"
        "eng eng_20100101-0900-PLENARY-1_en_1\n")
    # dev and test are both the dev split
    assert (test / "utt2lang").read_text() == (
        "deu_20180101-0900-PLENARY-9_de_1 deu\neng_20110101-0900-PLENARY-2_en_1 eng\n")
    assert (dev / "wav.scp").read_text() == (test / "wav.scp").read_text()
    # The row without audio is left out, counted on the console and listed in a file.
    assert (train / "missing_audio").read_text() == (
        f"eng_20100101-0900-PLENARY-1_en_missing {b}/en/2010/20100101-0900-PLENARY-1_en_missing.ogg\n")
    assert not (dev / "missing_audio").exists()
    assert "train_voxpopuli_lang: 1 rows left out because their .ogg file is missing; listed in " \
        f"{train / 'missing_audio'}" in caplog.text
    validate_data_dir(train, check_audio=True)
    validate_data_dir(test, check_audio=True)


def test_errors(vp_root, tmp_path):
    with pytest.raises(CorpusError, match="VoxPopuli: folder .*nope' not found"):
        prepare_voxpopuli(tmp_path / "nope", tmp_path / "data")
    with pytest.raises(CorpusError, match=r"_transcribed_data/cs' not found.*--languages"):
        prepare_voxpopuli(vp_root, tmp_path / "data")  # default: all 16 languages
    with pytest.raises(CorpusError, match="'pt' is not one of the 16 VoxPopuli languages"):
        prepare_voxpopuli(vp_root, tmp_path / "data", languages=["pt"])
    (vp_root / "_transcribed_data" / "de" / "asr_dev.tsv").write_text("name\tx\nfoo\tbar\n")
    with pytest.raises(CorpusError, match=r"asr_dev.tsv:1: no 'id' column"):
        prepare_voxpopuli(vp_root, tmp_path / "data", languages=["de"])
    (vp_root / "_transcribed_data" / "de" / "asr_dev.tsv").unlink()
    with pytest.raises(CorpusError, match=r"asr_dev.tsv' not found"):
        prepare_voxpopuli(vp_root, tmp_path / "data", languages=["de"])


def test_quoting_as_published_and_ours(vp_root, tmp_path, audio):
    """Published: pandas.read_csv's default quoting, i.e. a field that opens with '"' runs
    to the next '"', across tabs and lines. An unclosed quote then swallows the next row
    (its utterance is lost); --quoting none reads each line as one row."""
    base = vp_root / "_transcribed_data"
    ids = [f"20100101-0900-PLENARY-1_en_{i}" for i in (1, 2, 3)]
    (base / "en" / "asr_train.tsv").write_text(
        HEADER + f"{ids[0]}\t\"opens a quote\tx\t1\tx\tmale\tTrue\tNone\n"
                 f"{ids[1]}\tplain\tx\t1\tx\tmale\tTrue\tNone\n"
                 f"{ids[2]}\tcloses it\" here\tx\t1\tx\tmale\tTrue\tNone\n")
    audio.ogg(base / "en" / "2010" / f"{ids[1]}.ogg")
    published = vp.read_ids(base / "en" / "asr_train.tsv")
    assert published == [ids[0]]  # rows 2 and 3 went into row 1's quoted field
    assert vp.read_ids(base / "en" / "asr_train.tsv", quoting="none") == ids
    # A quoted field that closes reads the same either way (the fixture's other rows).
    assert vp.read_ids(base / "de" / "asr_train.tsv") == \
        vp.read_ids(base / "de" / "asr_train.tsv", quoting="none")
    train = prepare_voxpopuli(vp_root, tmp_path / "a", languages=["en"], quoting="none")[0]
    assert f"eng_{ids[1]} eng" in (train / "utt2lang").read_text()


def test_dev_tsvs_alone_prepare_dev_and_test(vp_root, tmp_path, caplog):
    for lang in ("de", "en"):
        (vp_root / "_transcribed_data" / lang / "asr_train.tsv").unlink()
    with caplog.at_level("WARNING"):
        written = prepare_voxpopuli(vp_root, tmp_path / "data", languages=["en", "de"])
    assert [p.name for p in written] == ["dev_voxpopuli_lang", "test_voxpopuli_lang"]
    assert "no asr_train.tsv" in caplog.text
