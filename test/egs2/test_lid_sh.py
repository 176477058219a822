"""lid.sh as a user runs it: a published model without its training data, paths with
spaces, complete sets skipped, labels checked in stage 3, the combined model's class order.

The model folders are written by our own code (tiny models), exactly where
`hf download espnet/geolid_vl107only_shared_trainable --local-dir . --exclude ...` puts
the published files: config.yaml and the weights, no lang2utt.
"""
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from geolid_demo.tiny import make_experiment
from geolid.published import PUBLISHED_MODELS, VL107_CLASS_ORDER, download_command
from geolid.utils.fileio import read_kaldi_map

VL107 = PUBLISHED_MODELS["espnet/geolid_vl107only_shared_trainable"]
COMBINED = PUBLISHED_MODELS["espnet/geolid_combined_shared_trainable"]


def run(recipe, env, script, *args, timeout=900):
    return subprocess.run(["bash", script, *args], cwd=recipe, env=env, capture_output=True,
                          text=True, timeout=timeout)


def write_set(recipe: Path, name: str, labels, seconds=1.0, seed=0):
    """data/<name> with noise audio (the model is random; only the plumbing is tested)."""
    rng = np.random.default_rng(seed)
    d = recipe / "data" / name
    wav_dir = recipe / "corpus audio" / name  # a space in the audio paths too
    wav_dir.mkdir(parents=True, exist_ok=True)
    d.mkdir(parents=True)
    utts = sorted(f"{lang}_{name}{i}" for lang, n in labels.items() for i in range(n))
    lines = []
    for u in utts:
        sf.write(str(wav_dir / f"{u}.wav"), 0.1 * rng.standard_normal(int(seconds * 16000)), 16000)
        lines.append(f"{u} {wav_dir / (u + '.wav')}\n")
    (d / "wav.scp").write_text("".join(lines))
    (d / "utt2lang").write_text("".join(f"{u} {u[:3]}\n" for u in utts))
    langs = sorted(labels)
    (d / "lang2utt").write_text("".join(
        f"{lang} {' '.join(u for u in utts if u.startswith(lang))}\n" for lang in langs))
    (d / "category2utt").write_text((d / "lang2utt").read_text())
    return d


def test_missing_checkpoint_names_download_command(recipe_copy, recipe_env):
    recipe = recipe_copy("lid1")
    proc = run(recipe, recipe_env, "run_voxlingua107_only.sh", "--skip_train", "true",
               "--stage", "6", "--stop_stage", "8", "--test_sets", "test_x")
    assert proc.returncode != 0
    assert download_command(VL107.repo_id, ".") in proc.stderr
    assert "--exclude README.md meta.yaml .gitattributes" in proc.stderr


def test_published_vl107_model_with_test_sets_only(tmp_path, copy_recipes, recipe_env):
    """--skip_train true from stage 3 needs only the test sets: the class order comes
    from the package. Paths with spaces throughout (recipe folder, expdir, dumpdir, audio)."""
    recipe = copy_recipes(tmp_path / "recipe copy") / "lid1"
    exp = recipe / "my exp" / Path(VL107.exp_dir).name
    make_experiment(exp, list(VL107_CLASS_ORDER), lang2utt_relpath=VL107.lang2utt)
    (recipe / VL107.lang2utt).unlink()  # the published repos ship no lang2utt
    # Another corpus ('x'), one language the model does not know (zul): cut in stage 6.
    write_set(recipe, "test_x", {"eng": 3, "cmn": 2, "zul": 2})
    args = ["--skip_train", "true", "--stage", "3", "--stop_stage", "8", "--test_sets", "test_x",
            "--tsne_set", "test_x", "--expdir", "my exp", "--dumpdir", "my dump",
            "--inference_nj", "2", "--perplexity", "2", "--max_iter", "250"]
    proc = run(recipe, recipe_env, "run_voxlingua107_only.sh", *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # run_voxlingua107_only.sh says --ngpu 1 as published; no GPU here: CPU, one warning.
    assert proc.stderr.count("no GPU is visible") == 1
    assert (recipe / VL107.lang2utt).read_text().split() == list(VL107_CLASS_ORDER)
    dset = "test_x_cross_train_voxlingua107_lang"
    inf = exp / "inference" / "valid.accuracy.best" / dset
    lids = read_kaldi_map(inf / f"{dset}_lids")
    assert len(lids) == 5 and not any(u.startswith("zul_") for u in lids)
    assert set(lids.values()) <= set(VL107_CLASS_ORDER)
    results = (inf / "results").read_text()
    assert results.startswith("Overall Accuracy: ") and "Macro Accuracy across Languages: " in results
    assert "\neng:\n  Accuracy: " in results
    assert (inf / "score" / dset / "score.json").is_file()
    assert dset in (exp / "RESULTS.md").read_text()
    assert (exp / "inference/valid.accuracy.best/tsne" / f"{dset}_tsne.png").stat().st_size > 5000
    assert (recipe / "my dump/raw" / dset / "wav.scp").is_file()

    # A second run skips the complete sets; --force_rerun true redoes them.
    stamp = (inf / f"{dset}_lids").stat().st_mtime_ns
    proc = run(recipe, recipe_env, "run_voxlingua107_only.sh", *args[:2], "--stage", "6",
               "--stop_stage", "7", *args[6:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"Skip inference for {dset}" in proc.stdout and f"Skip scoring for {dset}" in proc.stdout
    assert (inf / f"{dset}_lids").stat().st_mtime_ns == stamp
    proc = run(recipe, recipe_env, "run_voxlingua107_only.sh", *args[:2], "--stage", "7",
               "--stop_stage", "7", *args[6:], "--force_rerun", "true")
    assert proc.returncode == 0 and f"Skip scoring for {dset}" not in proc.stdout

    # A lang2utt that disagrees with the published class order is refused.
    (recipe / VL107.lang2utt).write_text("eng\nfra\n")
    proc = run(recipe, recipe_env, "run_voxlingua107_only.sh", *args[:2], "--stage", "6",
               "--stop_stage", "6", *args[6:], "--force_rerun", "true")
    assert proc.returncode != 0 and "disagrees with the class order of " + VL107.repo_id in proc.stderr


def test_combined_model_names_the_missing_class_order(recipe_copy, recipe_env):
    recipe = recipe_copy("lid1")
    exp = recipe / COMBINED.exp_dir
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text(f"lang2utt: {COMBINED.lang2utt}\nlang_num: 157\n")
    (exp / "valid.accuracy.best.pth").write_bytes(b"")
    proc = run(recipe, recipe_env, "run_combined.sh", "--skip_train", "true", "--stage", "6",
               "--stop_stage", "6", "--test_sets", "test_x")
    assert proc.returncode != 0
    assert "The one file needed is dump/raw/train_all_no_filter_lang/lang2utt" in proc.stderr
    assert "`python -m geolid.bin.data_sets class-order --ml_superb2 <ML-SUPERB 2.0 copy> --out dump/raw/train_all_no_filter_lang/lang2utt`" in proc.stderr


def test_stage3_rejects_unknown_language_on_the_console(tmp_path, copy_recipes, recipe_env):
    """Issue: an unknown code surfaced only in stage 4 ('see stats.1.log')."""
    recipe = copy_recipes(tmp_path) / "demo1"
    write_set(recipe, "tr", {"eng": 2, "xqz": 1})
    write_set(recipe, "dv", {"eng": 1, "xqz": 1})
    proc = run(recipe, recipe_env, "lid.sh", "--train_set", "tr", "--valid_set", "dv",
               "--test_sets", "", "--lid_config", "conf/tiny_geo.yaml", "--ngpu", "0",
               "--stage", "3", "--stop_stage", "4", "--nj", "1")
    assert proc.returncode != 0
    assert "xqz" in proc.stderr and "URIEL 'geo' vector" in proc.stderr
    assert "Stage 4" not in proc.stdout


def test_stage3_refuses_what_stage5_would_fail_on_before_formatting(tmp_path, copy_recipes,
                                                                   recipe_env):
    """Issue: a data dir without category2utt, or validation languages missing from
    training, failed two stages later with only a log pointer."""
    recipe = copy_recipes(tmp_path) / "demo1"
    write_set(recipe, "tr", {"eng": 2, "fra": 1})
    write_set(recipe, "dv", {"eng": 1, "deu": 1})
    args = ["lid.sh", "--train_set", "tr", "--valid_set", "dv", "--test_sets", "",
            "--lid_config", "conf/tiny_geo.yaml", "--ngpu", "0", "--stage", "3",
            "--stop_stage", "3", "--nj", "1"]
    proc = run(recipe, recipe_env, *args)
    assert proc.returncode != 0
    assert "data/dv/utt2lang: 1 validation language(s) not in the training set data/tr: deu" \
        in proc.stderr
    assert not (recipe / "dump").exists()  # refused before formatting
    write_set(recipe, "dv2", {"eng": 1})
    (recipe / "data/tr/category2utt").unlink()
    proc = run(recipe, recipe_env, *args[:4], "dv2", *args[5:])
    assert proc.returncode != 0
    assert "data/tr/category2utt not found: the config's iterator_type: category" in proc.stderr
    assert "cp data/tr/lang2utt data/tr/category2utt" in proc.stderr
    assert not (recipe / "dump").exists()


def test_template_options_accepted(recipe_copy, recipe_env):
    """The lid1 template's options parse (here with every stage skipped)."""
    recipe = recipe_copy("lid1")
    opts = ["--skip_stages", "1 2 3 4 5 6 7 8", "--tsne_set", "x", "--max_utt_per_lang_for_tsne", "10",
            "--perplexity", "5", "--max_iter", "300", "--checkpoint_interval", "10",
            "--eval_valid_set", "false", "--ignore_init_mismatch", "false", "--fold_length", "80000",
            "--skip_upload_hf", "true", "--feats_type", "raw", "--gpu_inference", "false",
            "--min_wav_duration", "1.0", "--max_wav_duration", "60.",
            "--multi_columns_input_wav_scp", "false", "--multi_columns_output_wav_scp", "false"]
    proc = run(recipe, recipe_env, "run_voxlingua107_only.sh", *opts)
    assert proc.returncode == 0, proc.stderr
    assert "Skipped stages: 1 2 3 4 5 6 7 8 9 10" in proc.stdout
    proc = run(recipe, recipe_env, "run_voxlingua107_only.sh", "--feats_type", "fbank")
    assert proc.returncode == 2 and "only raw is supported" in proc.stderr
