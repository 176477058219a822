"""Recipe-level data helpers: prepare_all, make_combined, make_cross_sets, local/data.sh."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from geolid.data import prepare
from geolid.data.datadir import DataDir, DataDirError, write_data_dir


@pytest.fixture
def vl_root(tmp_path, audio) -> Path:
    root = tmp_path / "vl"
    for rel in ["en/a.wav", "fr/b.wav", "dev/en/c.wav"]:
        audio.wav(root / rel)
    return root


def test_prepare_all_make_combined_and_cross(vl_root, tmp_path):
    out = tmp_path / "data"
    done = prepare.prepare_all({"voxlingua107": vl_root, "babel": None}, out)
    assert list(done) == ["voxlingua107"]
    write_data_dir(out / "train_fleurs_lang", DataDir({"deu_f": "/f.wav"}, {"deu_f": "deu"}))
    write_data_dir(out / "test_fleurs_lang",
                   DataDir({"deu_t": "/t.wav", "eng_t": "/e.wav"}, {"deu_t": "deu", "eng_t": "eng"}))
    combined = prepare.make_combined(out, train_sets=["train_fleurs_lang", "train_voxlingua107_lang"])
    assert combined == out / "train_all_no_filter_lang"
    assert (combined / "dataset2utt").read_text() == (
        "train_fleurs_lang deu_f\ntrain_voxlingua107_lang eng_a fra_b\n")
    with pytest.raises(DataDirError, match="train_babel_over_10s_lang'] not found"):
        prepare.make_combined(out)
    written = prepare.make_cross_sets(out, "train_voxlingua107_lang")
    assert [p.name for p in written] == [
        "dev_voxlingua107_lang_cross_train_voxlingua107_lang",
        "test_fleurs_lang_cross_train_voxlingua107_lang"]
    assert (written[1] / "utt2lang").read_text() == "eng_t eng\n"
    with pytest.raises(DataDirError, match="unknown corpora"):
        prepare.prepare_all({"timit": "x"}, out)


def test_recipe_data_sh(vl_root, tmp_path):
    """local/data.sh dispatches to the per-corpus wrappers, then cross sets and validation."""
    import os

    repo = Path(__file__).parents[2]
    env = dict(os.environ, PYTHON=sys.executable,
               PYTHONPATH=f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    data = tmp_path / "data"
    res = subprocess.run(["bash", str(repo / "egs2/geolid/lid1/local/data.sh"), "--data", str(data),
                          "--voxlingua107", str(vl_root), "--cross_train", "train_voxlingua107_lang"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in data.iterdir()) == [
        "dev_voxlingua107_lang", "dev_voxlingua107_lang_cross_train_voxlingua107_lang",
        "train_voxlingua107_lang"]
    assert res.stdout.count(": OK (") == 3
    res = subprocess.run(["bash", str(repo / "egs2/geolid/lid1/local/data.sh"), "--bogus", "1"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2 and "unknown option --bogus" in res.stderr
