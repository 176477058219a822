"""FLEURS preparation: local raw-release copy, Hub download (faked), errors."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from geolid.data.corpora import fleurs
from geolid.data.corpora.common import CorpusError
from geolid.data.datadir import validate_data_dir


def row(name: str) -> str:
    return f"1001\t{name}\tHello.\thello\th e l l o |\t32000\tMALE\n"


def make_language(root: Path, fid: str, audio, train, test, missing=()) -> None:
    for split, names in (("train", train), ("test", test)):
        (root / fid).mkdir(parents=True, exist_ok=True)
        (root / fid / f"{split}.tsv").write_text("".join(row(n) for n in list(names) + list(missing)))
        for n in names:
            audio.wav(root / fid / "audio" / split / n)


@pytest.fixture
def fl_root(tmp_path, audio) -> Path:
    root = tmp_path / "fleurs"
    make_language(root, "en_us", audio, ["20.wav", "10.wav"], ["30.wav"], missing=["99.wav"])
    make_language(root, "cmn_hans_cn", audio, ["7.wav"], ["8.wav"])
    (root / "not_a_language").mkdir()
    return root


def test_prepare_local_copy_exact(fl_root, tmp_path):
    train, test = fleurs.prepare_fleurs(fl_root, tmp_path / "data")
    assert [train.name, test.name] == ["train_fleurs_lang", "test_fleurs_lang"]
    r = fl_root.resolve()
    assert (train / "wav.scp").read_text() == (
        f"cmn_7 {r}/cmn_hans_cn/audio/train/7.wav\neng_10 {r}/en_us/audio/train/10.wav\n"
        f"eng_20 {r}/en_us/audio/train/20.wav\n")
    assert (train / "lang2utt").read_text() == "cmn cmn_7\neng eng_10 eng_20\n"
    assert (test / "utt2lang").read_text() == "cmn_8 cmn\neng_30 eng\n"
    validate_data_dir(train, check_audio=True)


def test_prepare_selected_language(fl_root, tmp_path):
    _, test = fleurs.prepare_fleurs(fl_root, tmp_path / "data", languages=["cmn_hans_cn"])
    assert (test / "utt2lang").read_text() == "cmn_8 cmn\n"


def test_no_local_copy_no_download(tmp_path):
    with pytest.raises(CorpusError, match=r"no local copy found.*pass --download"):
        fleurs.prepare_fleurs(tmp_path / "empty", tmp_path / "data")


def test_errors_unknown_and_absent_language(fl_root, tmp_path):
    with pytest.raises(CorpusError, match="'en_gb' is not one of the 102 FLEURS ids"):
        fleurs.prepare_fleurs(fl_root, tmp_path / "data", languages=["en_gb"])
    with pytest.raises(CorpusError, match=r"language 'de_de' not found.*--download"):
        fleurs.prepare_fleurs(fl_root, tmp_path / "data", languages=["de_de"])
    (fl_root / "en_us" / "train.tsv").write_text("only-one-column\n")
    with pytest.raises(CorpusError, match=r"train.tsv:1: expected tab-separated"):
        fleurs.prepare_fleurs(fl_root, tmp_path / "data")


def test_dev_split_when_present_and_test_set_alone(tmp_path, audio, caplog):
    """The published preparation writes train, dev and test; only test is needed."""
    root = tmp_path / "fleurs"
    for fid, names in (("en_us", ["1.wav"]), ("cmn_hans_cn", ["2.wav"])):
        for split in ("train", "dev", "test"):
            (root / fid).mkdir(parents=True, exist_ok=True)
            (root / fid / f"{split}.tsv").write_text("".join(row(f"{split}{n}") for n in names))
            for n in names:
                audio.wav(root / fid / "audio" / split / f"{split}{n}")
    train, dev, test = fleurs.prepare_fleurs(root, tmp_path / "data")
    assert (dev / "utt2lang").read_text() == "cmn_dev2 cmn\neng_dev1 eng\n"
    # Test portion only: train and dev are left out with a warning.
    for fid in ("en_us", "cmn_hans_cn"):
        for split in ("train", "dev"):
            (root / fid / f"{split}.tsv").unlink()
    with caplog.at_level("WARNING"):
        written = fleurs.prepare_fleurs(root, tmp_path / "test_only")
    assert [p.name for p in written] == ["test_fleurs_lang"]
    assert "no train.tsv" in caplog.text and not (tmp_path / "test_only/train_fleurs_lang").exists()
    # Some languages with a training split and others without: an error naming the file.
    (root / "en_us" / "train.tsv").write_text(row("train1.wav"))
    with pytest.raises(CorpusError, match=r"cmn_hans_cn/train.tsv' not found while other "
                                          r"languages have their train split"):
        fleurs.prepare_fleurs(root, tmp_path / "mixed")


def tarball(path: Path, members: dict) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_audio_archive_is_flat_and_safe(tmp_path):
    arc = tarball(tmp_path / "a.tar.gz", {"train/1.wav": b"a", "../../evil.wav": b"b",
                                          "train/readme.txt": b"c"})
    dest = tmp_path / "out" / "audio" / "train"
    assert fleurs.extract_audio_archive(arc, dest) == 2
    assert sorted(p.name for p in dest.iterdir()) == ["1.wav", "evil.wav"]
    assert not (tmp_path / "evil.wav").exists()


def test_download_from_hub_faked(tmp_path, audio, monkeypatch):
    """The Hub call is replaced by a local 'repo'; the rest of the path runs for real."""
    hub = tmp_path / "hub"
    wav_bytes = audio.wav(tmp_path / "src.wav").read_bytes()
    for split, name in (("train", "11.wav"), ("dev", "13.wav"), ("test", "12.wav")):
        (hub / "data/sw_ke/audio").mkdir(parents=True, exist_ok=True)
        (hub / f"data/sw_ke/{split}.tsv").write_text(row(name))
        tarball(hub / f"data/sw_ke/audio/{split}.tar.gz", {f"{split}/{name}": wav_bytes})
    calls = []

    def fake_download(repo_id, filename, repo_type=None, revision=None):
        calls.append((repo_id, filename, repo_type))
        return str(hub / filename)

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    root = tmp_path / "fleurs"
    train, dev, test = fleurs.prepare_fleurs(root, tmp_path / "data", languages=["sw_ke"],
                                             download=True)
    assert calls[0] == ("google/fleurs", "data/sw_ke/train.tsv", "dataset")
    assert len(calls) == 6 and dev.name == "dev_fleurs_lang"
    assert (dev / "utt2lang").read_text() == "swa_13 swa\n"
    assert (train / "wav.scp").read_text() == f"swa_11 {root.resolve()}/sw_ke/audio/train/11.wav\n"
    assert (test / "utt2lang").read_text() == "swa_12 swa\n"
    validate_data_dir(test, check_audio=True)
    # Second run: already local, nothing downloaded.
    fleurs.prepare_fleurs(root, tmp_path / "data2", languages=["sw_ke"], download=True)
    assert len(calls) == 6


def test_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(CorpusError, match=r"could not download data/sw_ke/train.tsv.*network is "
                                          r"unreachable.*HF_HUB_OFFLINE.*local copy"):
        fleurs.prepare_fleurs(tmp_path / "f", tmp_path / "data", languages=["sw_ke"], download=True)
