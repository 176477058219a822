"""Inference from a checkpoint folder in the published Hugging Face layout.

The folder is written by our own code (a tiny model), exactly where
`hf download espnet/geolid_vl107only_shared_trainable --local-dir .` would put the
published files, then the recipe's inference, scoring and plotting stages run.
"""
import subprocess

import pytest

from geolid.demo.tiny import make_experiment
from geolid.demo.corpus import make_demo_corpus
from geolid.utils.fileio import read_kaldi_map

EXP = "exp_voxlingua107_only/lid_mms_ecapa_upcon_32_44_it0.4_shared_trainable_raw"
LANGS = ["eng", "spa", "por", "cmn", "swa"]


def run(recipe, env, *args):
    return subprocess.run(["bash", "run_voxlingua107_only.sh", *args], cwd=recipe, env=env,
                          capture_output=True, text=True, timeout=900)


def test_missing_checkpoint_names_download_command(recipe_copy, recipe_env):
    recipe = recipe_copy("lid1")
    proc = run(recipe, recipe_env, "--skip_train", "true", "--stage", "6", "--stop_stage", "8",
               "--test_sets", "test_x")
    assert proc.returncode != 0
    assert "hf download espnet/geolid_vl107only_shared_trainable --local-dir ." in proc.stderr


def test_published_layout_inference_scoring_plots(recipe_copy, recipe_env):
    recipe = recipe_copy("lid1")
    # What `hf download` would place here: the experiment folder and the training lang2utt.
    make_experiment(recipe / EXP, LANGS, lang2utt_relpath="dump/raw/train_voxlingua107_lang/lang2utt")
    make_demo_corpus(recipe / "corpus", n_train_per_lang=1, n_dev_per_lang=1, n_test_per_lang=2,
                     languages=LANGS + ["hin"], progress=False)
    # A test set with one language the model does not know: it gets cut to the training languages.
    subprocess.run(["python3", "-m", "geolid.bin.data_prep", "format", "corpus/data/test", "dump/raw/test_x"],
                   cwd=recipe, env=recipe_env, check=True, capture_output=True)
    subprocess.run(["python3", "-m", "geolid.bin.data_prep", "prepare", "cross", "dump/raw/test_x",
                    "dump/raw/train_voxlingua107_lang/lang2utt", "dump/raw/test_x_cross_train_voxlingua107_lang"],
                   cwd=recipe, env=recipe_env, check=True, capture_output=True)
    proc = run(recipe, recipe_env, "--skip_train", "true", "--stage", "6", "--stop_stage", "8",
               "--test_sets", "test_x", "--inference_nj", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    dset = "test_x_cross_train_voxlingua107_lang"
    inf = recipe / EXP / "inference" / dset
    lids = read_kaldi_map(inf / f"{dset}_lids")
    assert len(lids) == 10 and not any(u.startswith("hin_") for u in lids)
    assert set(lids.values()) <= set(LANGS)
    assert (inf / "score" / dset / "score.json").is_file()
    assert (inf / "tsne" / f"{dset}_tsne.png").is_file()
    assert dset in (recipe / EXP / "RESULTS.md").read_text()
