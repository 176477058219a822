"""ML-SUPERB 2.0 preparation: skips, remaps, dev_dialect relabel, Hub path (faked)."""
from __future__ import annotations

import io
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from geolid.data.corpora import ml_superb2
from geolid.data.corpora.common import CorpusError
from geolid.data.datadir import validate_data_dir


@pytest.fixture
def ms_root(tmp_path, audio) -> Path:
    root = tmp_path / "mls2"
    for rel in ["train/eng/e2.wav", "train/eng/e1.wav", "train/lga/l1.wav", "train/nob/n1.wav",
                "train/nno/n2.wav", "train/nor/n3.wav", "train/org_jpn/j1.wav",
                "dev/arb/a1.wav", "dev/azj/z1.wav", "dev/ory/o1.wav",
                "dev_dialect/hin/x_tam_1.wav", "dev_dialect/hin/x_telugu_2.wav",
                "dev_dialect/hin/x_guj_3.wav", "dev_dialect/eng/tam_5.wav"]:
        audio.wav(root / rel)
    return root


def test_prepare_exact_files(ms_root, tmp_path):
    train, dev, dialect = ml_superb2.prepare_ml_superb2(ms_root, tmp_path / "data")
    assert [p.name for p in (train, dev, dialect)] == [
        "train_ml_superb2_lang", "dev_ml_superb2_lang", "dev_dialect_ml_superb2_lang"]
    r = ms_root.resolve()
    assert (train / "wav.scp").read_text() == (
        f"eng_e1 {r}/train/eng/e1.wav\neng_e2 {r}/train/eng/e2.wav\n"
        f"jpn_j1 {r}/train/org_jpn/j1.wav\nlug_l1 {r}/train/lga/l1.wav\n")
    assert (train / "lang2utt").read_text() == "eng eng_e1 eng_e2\njpn jpn_j1\nlug lug_l1\n"
    assert (dev / "utt2lang").read_text() == "ara_a1 ara\naze_z1 aze\nori_o1 ori\n"
    assert (dialect / "utt2lang").read_text() == (
        "eng_tam_5 eng\nguj_x_guj_3 guj\ntam_x_tam_1 tam\ntel_x_telugu_2 tel\n")
    assert (dialect / "wav.scp").read_text().splitlines()[-1] == (
        f"tel_x_telugu_2 {r}/dev_dialect/hin/x_telugu_2.wav")
    for d in (train, dev, dialect):
        validate_data_dir(d, check_audio=True)


def test_dialect_hin_naming_no_relabel_language_is_an_error(ms_root, tmp_path, audio):
    audio.wav(ms_root / "dev_dialect" / "hin" / "x_plain_4.wav")
    with pytest.raises(CorpusError, match=r"dev_dialect utterance 'x_plain_4' .*labelled hin but "
                                          r"its id names none of tam, tel, guj"):
        ml_superb2.prepare_ml_superb2(ms_root, tmp_path / "data", splits=["dev_dialect"])


def test_dialect_relabel_only_in_dev_dialect(ms_root, tmp_path, audio):
    audio.wav(ms_root / "dev" / "hin" / "x_tam_9.wav")
    _, dev = ml_superb2.prepare_ml_superb2(ms_root, tmp_path / "data", splits=["train", "dev"])
    assert "hin_x_tam_9 hin\n" in (dev / "utt2lang").read_text()


def test_missing_split_without_download(tmp_path):
    with pytest.raises(CorpusError, match=r"no local copy of split 'train'.*--download"):
        ml_superb2.prepare_ml_superb2(tmp_path / "none", tmp_path / "data", splits=["train"])
    with pytest.raises(CorpusError, match="unknown split 'test'"):
        ml_superb2.prepare_ml_superb2(tmp_path / "none", tmp_path / "data", splits=["test"])


def test_bad_language_folder(ms_root, tmp_path, audio):
    audio.wav(ms_root / "train" / "English" / "a.wav")
    with pytest.raises(CorpusError, match="gives label 'English', which is not ISO 639-3"):
        ml_superb2.prepare_ml_superb2(ms_root, tmp_path / "data")


def flac_bytes(seconds=0.05, sr=16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(seconds * sr), "float32"), sr, format="FLAC")
    return buf.getvalue()


def test_write_rows_bytes_and_arrays(tmp_path):
    rows = [{"id": "a1", "language": "lga", "audio": {"bytes": flac_bytes(), "path": None}},
            {"id": "b2", "language": " eng", "audio": {"array": [0.0] * 800, "sampling_rate": 8000}}]
    assert ml_superb2.write_rows(rows, tmp_path / "dev") == 2
    info = sf.info(str(tmp_path / "dev" / "lga" / "a1.wav"))
    assert (info.samplerate, info.frames, info.format) == (16000, 800, "WAV")
    assert sf.info(str(tmp_path / "dev" / "eng" / "b2.wav")).samplerate == 8000
    with pytest.raises(CorpusError, match="whitespace or '/'"):
        ml_superb2.write_rows([{"id": "x/y", "language": "eng", "audio": {}}], tmp_path / "dev")


def test_download_split_faked(tmp_path, monkeypatch):
    """Hub and Parquet reading replaced by fakes; download -> local copy -> data dir runs."""
    snap = tmp_path / "snap"
    (snap / "data").mkdir(parents=True)
    (snap / "data" / "dev-00000-of-00001.parquet").write_bytes(b"")
    seen = {}

    def fake_snapshot(repo_id, repo_type=None, revision=None, allow_patterns=None):
        seen.update(repo_id=repo_id, repo_type=repo_type, allow_patterns=allow_patterns)
        return str(snap)

    def fake_rows(path):
        yield {"id": "u1", "language": "azj", "audio": {"bytes": flac_bytes()}}
        yield {"id": "u2", "language": "nob", "audio": {"bytes": flac_bytes()}}

    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    monkeypatch.setitem(sys.modules, "pyarrow", types.ModuleType("pyarrow"))
    monkeypatch.setattr(ml_superb2, "iter_parquet_rows", fake_rows)
    root = tmp_path / "mls2"
    (dev,) = ml_superb2.prepare_ml_superb2(root, tmp_path / "data", download=True, splits=["dev"])
    assert seen == {"repo_id": "espnet/ml_superb_hf", "repo_type": "dataset",
                    "allow_patterns": ["data/dev-*.parquet"]}
    assert sorted(p.name for p in (root / "dev").iterdir()) == ["azj", "nob"]
    assert not (root / ".dev.part").exists()
    assert (dev / "wav.scp").read_text() == f"aze_u1 {root.resolve()}/dev/azj/u1.wav\n"
    validate_data_dir(dev, check_audio=True)


def test_download_needs_pyarrow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    with pytest.raises(CorpusError, match=r"needs a package that is not installed.*local copy"):
        ml_superb2.prepare_ml_superb2(tmp_path / "m", tmp_path / "data", download=True,
                                      splits=["dev"])


def test_evaluation_splits_alone(tmp_path, audio, caplog):
    """Without the training split the default is the splits the copy has."""
    root = tmp_path / "mls2"
    for rel in ["dev/arb/a1.wav", "dev_dialect/hin/x_tam_1.wav"]:
        audio.wav(root / rel)
    with caplog.at_level("WARNING"):
        written = ml_superb2.prepare_ml_superb2(root, tmp_path / "data")
    assert [p.name for p in written] == ["dev_ml_superb2_lang", "dev_dialect_ml_superb2_lang"]
    assert "no 'train' split" in caplog.text
    with pytest.raises(CorpusError, match=r"no local copy in .*empty.*--download"):
        ml_superb2.prepare_ml_superb2(tmp_path / "empty", tmp_path / "data")
