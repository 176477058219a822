"""Shared fixtures: tiny local stand-ins for the big downloads, and the parity data.

Tests never touch the network. huggingface_hub and transformers read their
offline switches once, when first imported, so they are set here, before any
test module imports them (monkeypatching the variables later has no effect).
"""
import os

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# The upstream parity fixture ships with the repository (test/fixtures/upstream_parity/README.md).
PARITY_DIR = REPO / "test" / "fixtures" / "upstream_parity" / "a_shared_trainable"


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory):
    """A random MMS-layout wav2vec2 (hidden 32, 4 layers) saved with save_pretrained."""
    from geolid_demo.tiny import make_tiny_wav2vec2

    return make_tiny_wav2vec2(tmp_path_factory.mktemp("hf") / "tiny_w2v2")


@pytest.fixture(scope="session")
def parity_dir():
    return PARITY_DIR


@pytest.fixture
def in_dir():
    """Context manager: run with another working directory (configs hold relative paths)."""
    import contextlib

    @contextlib.contextmanager
    def _in(path):
        old = os.getcwd()
        os.chdir(path)
        try:
            yield Path(path)
        finally:
            os.chdir(old)

    return _in


def build_fake_corpora(root: Path, train: bool = True) -> dict:
    """The five corpora of the lid1 recipe in their raw layouts, a few files each.

    Training languages (after the published label rules): VoxLingua107 cmn eng fra;
    FLEURS eng swa; ML-SUPERB 2.0 eng lug (nob skipped); VoxPopuli the 16 (one
    utterance each); Babel yue (one segment of exactly 10 s) but not jav (its longest
    training segment is 9.99 s, under the 10 s rule); VoxLingua107's dev file
    ``fr/d2.wav`` is stereo. ``train=False`` leaves every
    training portion out (a copy holding only what evaluation needs).
    Returns ``{corpus: root}`` with the keys of ``local/data.sh``'s options.
    """
    import numpy as np
    import soundfile as sf

    def tone(path, seconds=0.3, sr=16000, fmt="WAV", subtype="PCM_16", seed=0, channels=1):
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        x = 0.1 * rng.standard_normal((int(seconds * sr), channels)).astype("float32")
        sf.write(str(path), x if channels > 1 else x[:, 0], sr, format=fmt, subtype=subtype)

    out = {k: root / k for k in ("voxlingua107", "fleurs", "ml_superb2", "voxpopuli", "babel")}
    # VoxLingua107: <root>/<lang>/*.wav, <root>/dev/<lang>/*.wav; training files of 0.3, 1.0,
    # 1.2 and 2.0 s (for the duration options); one stereo dev file.
    vl = out["voxlingua107"]
    for rel, seconds in ([("en/e1.wav", 0.3), ("en/e2.wav", 1.0), ("fr/f1.wav", 1.2),
                          ("zh/z1.wav", 2.0)] if train else []) + [("dev/en/d1.wav", 0.3)]:
        tone(vl / rel, seconds)
    tone(vl / "dev/fr/d2.wav", 0.3, channels=2)
    # FLEURS: <root>/<id>/{train,dev,test}.tsv + audio/<split>/*.wav
    for fid, n in (("en_us", 10), ("sw_ke", 20)):
        for split in (("train", "dev", "test") if train else ("test",)):
            name = f"{n + len(split)}.wav"
            (out["fleurs"] / fid).mkdir(parents=True, exist_ok=True)
            (out["fleurs"] / fid / f"{split}.tsv").write_text(
                f"1\t{name}\tHi.\thi\th i |\t4800\tMALE\n")
            tone(out["fleurs"] / fid / "audio" / split / name)
    # ML-SUPERB 2.0: <root>/<split>/<language>/<id>.wav
    for rel in (["train/eng/m1.wav", "train/lga/m2.wav", "train/nob/m3.wav"] if train else []) + \
            ["dev/eng/m4.wav", "dev/lga/m5.wav", "dev_dialect/hin/x_tam_6.wav"]:
        tone(out["ml_superb2"] / rel)
    # VoxPopuli: _transcribed_data/<lang>/asr_{train,dev}.tsv, <lang>/<year>/<id>.ogg
    from geolid.data.iso import VOXPOPULI_TO_ISO3

    header = "id\traw_text\tnormalized_text\tspeaker_id\tsplit\tgender\tis_gold_transcript\taccent\n"
    for i, lang in enumerate(sorted(VOXPOPULI_TO_ISO3)):
        base = out["voxpopuli"] / "_transcribed_data" / lang
        for split in (("train", "dev") if train else ("dev",)):
            ident = f"2015010{1 + (split == 'dev')}-0900-PLENARY-{i}_{lang}_1"
            base.mkdir(parents=True, exist_ok=True)
            (base / f"asr_{split}.tsv").write_text(
                header + f"{ident}\tSome \"text\"\tsome text\t1\t{split}\tmale\tTrue\tNone\n")
            tone(base / ident[:4] / f"{ident}.ogg", fmt="OGG", subtype="VORBIS")
    # Babel: BABEL_<id>/conversational/{training,dev}/{audio/*.sph,transcription/*.txt}
    for bid, split, stem, marks in (
            [("101", "training", "BABEL_BP_101_1_a", "[0.000]\nnihao\n[10.000]\nnihao\n[11.500]\n"),
             ("402", "training", "BABEL_OP3_402_1_a", "[0.000]\nkata\n[9.990]\n")] if train else []) + [
            ("101", "dev", "BABEL_BP_101_2_b", "[0.500]\nnihao\n[10.500]\n"),
            ("402", "dev", "BABEL_OP3_402_2_b", "[0.000]\nkata\n[10.250]\n")]:
        conv = out["babel"] / f"BABEL_{bid}" / "conversational"
        (conv / "reference_materials").mkdir(parents=True, exist_ok=True)
        (conv / "reference_materials" / "lexicon.txt").write_text("nihao\tn i h ao\nkata\tk a t a\n")
        (conv / split / "transcription").mkdir(parents=True, exist_ok=True)
        (conv / split / "transcription" / f"{stem}.txt").write_text(marks)
        tone(conv / split / "audio" / f"{stem}.sph", seconds=12.0, sr=8000, fmt="NIST")
    return out


@pytest.fixture
def fake_corpora(tmp_path):
    """``fake_corpora(train=True) -> {corpus: root}`` under this test's tmp_path."""
    return lambda train=True: build_fake_corpora(tmp_path / ("corpora" if train else "eval_only"),
                                                 train)
