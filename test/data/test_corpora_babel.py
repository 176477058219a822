"""Babel preparation: time-mark segmentation, the published <unk>/noise rules, the
10 s rule on the formatted sample count, SPHERE handling."""
from __future__ import annotations

from pathlib import Path

import pytest

from geolid.data.corpora import babel
from geolid.data.corpora.common import CorpusError
from geolid.data.datadir import validate_data_dir

CANTONESE = """[0.000]
<no-speech>
[15.000]
喂 你 好
[27.500]
short one
[30.000]
<breath> (()) <laugh>
[45.000]
exactly ten seconds
[55.000]
oov words only <breath>
[70.000]
ten- ~ <sta> 好
[80.000]
"""
# Words of the lexicon (its first column); "oov", "words", "only" are not in it.
LEXICON = ["喂\tw ai", "你\tn ei", "好\th ou", "short", "one", "exactly", "ten", "seconds",
           "word", "kata", "no", "audio", "for", "me"]


def make(root: Path, bid: str, split: str, stem: str, transcript: str, audio, sph=True,
         seconds: float = 0.05) -> None:
    conv = root / f"BABEL_{bid}" / "conversational"
    (conv / "reference_materials").mkdir(parents=True, exist_ok=True)
    (conv / "reference_materials" / "lexicon.txt").write_text("\n".join(LEXICON) + "\n",
                                                              encoding="utf-8")
    base = conv / split
    (base / "transcription").mkdir(parents=True, exist_ok=True)
    (base / "transcription" / f"{stem}.txt").write_text(transcript, encoding="utf-8")
    if sph:
        audio.sph(base / "audio" / f"{stem}.sph", seconds=seconds)


@pytest.fixture
def babel_root(tmp_path, audio) -> Path:
    root = tmp_path / "babel"
    make(root, "101", "training", "BABEL_BP_101_11694_20111204_205320_inLine", CANTONESE, audio)
    make(root, "101", "dev", "BABEL_BP_101_20000_20120101_000000_outLine",
         "[1.25]\nword\n[12.5]\n", audio)
    make(root, "402", "training", "BABEL_OP3_402_1_a", "[0]\nkata\n[3]\nkata\n[20.125]\n", audio)
    make(root, "402", "training", "BABEL_OP3_402_2_b", "[0]\nno audio for me\n[20]\n", audio,
         sph=False)
    make(root, "402", "dev", "BABEL_OP3_402_3_c", "[0]\nshort\n[5]\n", audio)
    return root


def test_parse_transcript(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text(CANTONESE, encoding="utf-8")
    segs = babel.parse_transcript(p)
    lexicon = {line.split()[0] for line in LEXICON}
    assert [(s.start, s.end, s.has_speech(lexicon)) for s in segs] == [
        (0.0, 15.0, False), (15.0, 27.5, True), (27.5, 30.0, True), (30.0, 45.0, False),
        (45.0, 55.0, True), (55.0, 70.0, False), (70.0, 80.0, True)]
    assert segs[1].text == "喂 你 好"
    # Without a lexicon every word counts (the published script without --vocab).
    assert segs[5].has_speech(None)


def test_published_token_rules():
    lexicon = {"ten", "好"}
    assert babel.map_tokens("oov <breath> (()) <click> <no-speech> <sta> ~ ten- -ten *好~ <foo>",
                            lexicon) == ["<unk>", "<v-noise>", "<unk>", "<noise>", "<silence>",
                                         "ten", "ten", "好", "<unk>"]


def test_decreasing_time_marks(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("[0.0]\na\n[12.0]\nb\n[11.0]\n")
    with pytest.raises(CorpusError, match=r"t.txt:5: time mark \[11.0\] is before .*line 3"):
        babel.parse_transcript(p)


def test_prepare_exact_files(babel_root, tmp_path):
    train, dev = babel.prepare_babel(babel_root, tmp_path / "data", min_duration=10)
    assert [train.name, dev.name] == ["train_babel_lang", "dev_babel_lang"]
    r = babel_root.resolve()
    rec1 = "yue_BABEL_BP_101_11694_20111204_205320_inLine"
    rec2 = "jav_BABEL_OP3_402_1_a"
    assert (train / "wav.scp").read_text() == (
        f"{rec2} {r}/BABEL_402/conversational/training/audio/BABEL_OP3_402_1_a.sph\n"
        f"{rec1} {r}/BABEL_101/conversational/training/audio/{rec1[4:]}.sph\n")
    # kept: 12.5 s, exactly 10 s, and the fragment "ten-" (in the lexicon once stripped);
    # dropped: 2.5 s, the noise-only one, the one whose words are all missing from the lexicon
    assert (train / "segments").read_text() == (
        f"{rec2}_0000300_0002012 {rec2} 3.000 20.125\n"
        f"{rec1}_0001500_0002750 {rec1} 15.000 27.500\n"
        f"{rec1}_0004500_0005500 {rec1} 45.000 55.000\n"
        f"{rec1}_0007000_0008000 {rec1} 70.000 80.000\n")
    assert (train / "lang2utt").read_text() == (
        f"jav {rec2}_0000300_0002012\nyue {rec1}_0001500_0002750 {rec1}_0004500_0005500 "
        f"{rec1}_0007000_0008000\n")
    assert (dev / "segments").read_text() == (
        "yue_BABEL_BP_101_20000_20120101_000000_outLine_0000125_0001250 "
        "yue_BABEL_BP_101_20000_20120101_000000_outLine 1.250 12.500\n")
    validate_data_dir(train, check_audio=True)  # libsndfile reads the NIST SPHERE files
    validate_data_dir(dev, check_audio=True)


def test_min_duration_and_ids(babel_root, tmp_path):
    train, dev = babel.prepare_babel(babel_root, tmp_path / "data", min_duration=11.0,
                                     babel_ids=["101"])
    assert (train / "utt2lang").read_text() == (
        "yue_BABEL_BP_101_11694_20111204_205320_inLine_0001500_0002750 yue\n")
    train, _ = babel.prepare_babel(babel_root, tmp_path / "data2", babel_ids=["101"])
    assert len((train / "utt2lang").read_text().splitlines()) == 4  # no length cut by default
    assert (dev / "lang2utt").read_text() == (
        "yue yue_BABEL_BP_101_20000_20120101_000000_outLine_0000125_0001250\n")


def test_shorten_sphere(babel_root, tmp_path, audio):
    sph = next((babel_root / "BABEL_101/conversational/training/audio").glob("*.sph"))
    audio.shorten_sph(sph)
    assert babel.is_shorten(sph)
    with pytest.raises(CorpusError, match=r"shorten-compressed SPHERE.*--sph2pipe"):
        babel.prepare_babel(babel_root, tmp_path / "data")
    train, _ = babel.prepare_babel(babel_root, tmp_path / "data", sph2pipe="/opt/sph2pipe")
    first = (train / "wav.scp").read_text().splitlines()[1]
    assert first == (f"yue_BABEL_BP_101_11694_20111204_205320_inLine /opt/sph2pipe -f wav -p -c 1 "
                     f"{sph.resolve()} |")
    validate_data_dir(train, check_audio=True)  # pipes are not opened


def test_errors(tmp_path, audio):
    with pytest.raises(CorpusError, match="Babel: folder .*nope' not found.*LDC"):
        babel.prepare_babel(tmp_path / "nope", tmp_path / "data")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no BABEL_<id> folders"):
        babel.prepare_babel(tmp_path / "empty", tmp_path / "data")
    make(tmp_path / "b", "999", "training", "x", "[0]\na\n[11]\n", audio)
    with pytest.raises(CorpusError, match="'BABEL_999' is not one of the 25 Babel languages"):
        babel.prepare_babel(tmp_path / "b", tmp_path / "data")
    with pytest.raises(CorpusError, match=r"BABEL_101/conversational' not found"):
        babel.prepare_babel(tmp_path / "b", tmp_path / "data", babel_ids=["101"])
    (tmp_path / "b/BABEL_999/conversational/reference_materials/lexicon.txt").unlink()
    (tmp_path / "b/BABEL_999").rename(tmp_path / "b/BABEL_101")
    with pytest.raises(CorpusError, match=r"lexicon '.*BABEL_101/conversational/reference_materials/"
                                          r"lexicon.txt' not found"):
        babel.prepare_babel(tmp_path / "b", tmp_path / "data")


def test_ten_second_rule_counts_formatted_samples(tmp_path, audio):
    """As published: >= 160000 samples at 16 kHz after formatting (10.0 s exactly is kept;
    9.5 s and 1 s are dropped), applied to the formatted set, not at preparation."""
    from geolid.data.format import format_data_dir
    from geolid.data.prepare import make_min_samples_set
    from geolid.utils.fileio import read_kaldi_map

    root = tmp_path / "babel"
    make(root, "101", "dev", "BABEL_BP_101_1_a_inLine", "[0]\n好\n[10]\n你\n[11]\n喂\n[20.5]\n",
         audio, seconds=25.0)
    make(root, "101", "training", "BABEL_BP_101_2_b_inLine", "[0]\n好\n[1]\n", audio)
    data = tmp_path / "data"
    babel.prepare_babel(root, data)
    dump = tmp_path / "dump"
    format_data_dir(data / "dev_babel_lang", dump / "dev_babel_lang", progress=False)
    n = read_kaldi_map(dump / "dev_babel_lang/utt2num_samples")
    assert sorted(int(v) for v in n.values()) == [16000, 152000, 160000]
    out = make_min_samples_set(dump, "dev_babel_over_10s_lang")
    assert list(read_kaldi_map(out / "utt2lang")) == ["yue_BABEL_BP_101_1_a_inLine_0000000_0001000"]
    assert read_kaldi_map(out / "utt2num_samples") == {
        "yue_BABEL_BP_101_1_a_inLine_0000000_0001000": "160000"}


def test_dev_only_packages_prepare_the_dev_set(tmp_path, audio, caplog):
    root = tmp_path / "babel"
    make(root, "101", "dev", "BABEL_BP_101_20000_20120101_000000_outLine", "[1.25]\nword\n[12.5]\n",
         audio)
    with caplog.at_level("WARNING"):
        written = babel.prepare_babel(root, tmp_path / "data")
    assert [p.name for p in written] == ["dev_babel_lang"]
    assert "no conversational/training folder" in caplog.text
