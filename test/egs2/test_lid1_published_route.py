"""The published lid1 commands, run as published, on fake corpora (test/conftest.py).

* stage 4 of the run scripts runs no model over the training set on the CPU; model
  statistics on the CPU are refused with their cost named;
* the published data-prep route: local/prepare_<corpus>.sh --dataset_path,
  `./run_combined.sh --stage 3 --stop_stage 3 --train_set <one corpus>` formats that
  corpus alone, local/combine.sh merges, and the merged class order equals the one
  written in stage 1 from labels alone;
* test sets prepare and format without any training portion;
* the template's --min/--max_wav_duration and --multi_columns_*_wav_scp options.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import soundfile as sf
import yaml

from geolid.utils.encoder_cost import MMS1B_S_PER_AUDIO_S
from geolid.utils.fileio import read_kaldi_map

TESTS = ["dev_voxlingua107_lang", "test_voxpopuli_lang", "test_fleurs_lang", "dev_ml_superb2_lang",
         "dev_dialect_ml_superb2_lang", "dev_babel_over_10s_lang"]


def corpus_env(env, roots):
    env = dict(env)
    env.update({k.upper(): str(v) for k, v in roots.items()})
    return env


def run(recipe, env, *argv, timeout=900):
    return subprocess.run(["bash", *argv], cwd=recipe, env=env, capture_output=True, text=True,
                          timeout=timeout)


def ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def tiny_config(recipe: Path, encoder: Path) -> Path:
    """The demo's geo config on an MMS-layout stand-in (7-layer conv stack, stride 320)."""
    conf = yaml.safe_load((recipe.parent / "demo1/conf/tiny_geo.yaml").read_text())
    conf["frontend_conf"]["frontend_conf"]["path_or_url"] = str(encoder)
    path = recipe / "conf" / "tiny_mms.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def test_stage4_of_the_run_script_runs_no_model_on_the_cpu(tmp_path, recipe_copy, recipe_env,
                                                           fake_corpora):
    """Issue: stage 4 built MMS-1B in 8 CPU jobs and ran it over all training audio."""
    from geolid_demo.tiny import make_tiny_wav2vec2

    recipe = recipe_copy("lid1")
    env = corpus_env(recipe_env, fake_corpora())
    encoder = make_tiny_wav2vec2(tmp_path / "mms_tiny")
    conf = tiny_config(recipe, encoder)
    base = ["run_voxlingua107_only.sh", "--lid_config", str(conf), "--nj", "1"]
    ok(run(recipe, env, *base, "--stage", "1", "--stop_stage", "3"))
    # No model may be built: the stand-in's weights go away before stage 4.
    (encoder / "model.safetensors").unlink()
    proc = ok(run(recipe, env, *base, "--stage", "4", "--stop_stage", "4"))
    assert "shape files from utt2num_samples (--stats_with_model false; no model runs)" in proc.stdout
    stats = recipe / "exp_voxlingua107_only/lid_stats_16k"
    for part, dset in (("train", "train_voxlingua107_lang"), ("valid", "dev_voxlingua107_lang")):
        assert read_kaldi_map(stats / part / "speech_shape") == \
            read_kaldi_map(recipe / "dump/raw" / dset / "utt2num_samples")
    assert not (stats / "logdir").exists()  # no collect_stats job ran

    # Model statistics through the published MMS-1B config: the cost is said first, and
    # above an hour refused without --stats_on_cpu_ok true. The fake training set stands
    # for VoxLingua107's 6,628 h (its utt2num_samples say so); nothing is downloaded.
    train = recipe / "dump/raw/train_voxlingua107_lang"
    utts = list(read_kaldi_map(train / "utt2num_samples"))
    per_utt = int(6628 * 3600 * 16000 / len(utts))
    (train / "utt2num_samples").write_text("".join(f"{u} {per_utt}\n" for u in utts))
    proc = run(recipe, env, "run_voxlingua107_only.sh", "--nj", "8", "--stage", "4",
               "--stop_stage", "4", "--stats_with_model", "true")
    assert proc.returncode != 0
    assert "refused: stage 4 runs the encoder 'facebook/mms-1b' (1280 wide, 48 layers" in proc.stderr
    assert f"about {1000 * MMS1B_S_PER_AUDIO_S:,.0f} hours per 1,000 h of audio on two cores" \
        in proc.stderr
    assert "--stats_on_cpu_ok true" in proc.stderr and "stage 4 not started" in proc.stderr
    assert not (stats / "logdir").exists()


def test_published_data_prep_route(tmp_path, recipe_copy, recipe_env, fake_corpora):
    """local/prepare_<corpus>.sh --dataset_path; stage 3 one corpus at a time (issue: it
    formatted and merged all five); local/combine.sh; the class order of stage 1."""
    recipe = recipe_copy("lid1")
    roots = fake_corpora()
    env = corpus_env(recipe_env, {})  # the paths go by --dataset_path, as published
    for corpus, root in roots.items():
        ok(run(recipe, env, f"local/prepare_{corpus}.sh", "--dataset_path", str(root)))
    assert (recipe / "data/dev_fleurs_lang/utt2lang").is_file()
    # One corpus at a time, as local/README.md of the published recipe says.
    per_corpus = [("train_fleurs_lang", "dev_fleurs_lang", "test_fleurs_lang"),
                  ("train_ml_superb2_lang", "dev_ml_superb2_lang", "dev_dialect_ml_superb2_lang"),
                  ("train_voxlingua107_lang", "dev_voxlingua107_lang", "dev_voxlingua107_lang"),
                  ("train_voxpopuli_lang", "dev_voxpopuli_lang", "test_voxpopuli_lang"),
                  ("train_babel_lang", "dev_babel_lang", "dev_babel_lang")]
    raw = recipe / "dump/raw"
    for i, (train, valid, test) in enumerate(per_corpus):
        proc = ok(run(recipe, env, "run_combined.sh", "--stage", "3", "--stop_stage", "3",
                      "--train_set", train, "--valid_set", valid, "--test_sets", test,
                      "--nj", "1"))
        assert f"--train_set {train} is one of --combine_train_sets: formatting it alone" \
            in proc.stdout
        assert not (raw / "train_all_no_filter_lang").exists()
        assert sorted(p.name for p in raw.iterdir() if p.name.startswith("train_")) == \
            sorted(t for t, _, _ in per_corpus[:i + 1])
    ok(run(recipe, env, "local/combine.sh"))
    merged = raw / "train_all_no_filter_lang"
    datasets = read_kaldi_map(merged / "dataset2utt")
    assert sorted(datasets) == ["train_babel_over_10s_lang", "train_fleurs_lang",
                                "train_ml_superb2_lang", "train_voxlingua107_lang",
                                "train_voxpopuli_lang"]
    assert (merged / "category2utt").read_text() == (merged / "lang2utt").read_text()
    assert (raw / "dev_ml_superb2_lang/utt2dataset").is_file()
    order = (merged / "lang2utt").read_text().split("\n")
    order = [line.split()[0] for line in order if line]
    # Issue 3: stage 1's class order (labels only) is the merged set's.
    out = tmp_path / "class_order"
    ok(run(recipe, env, "local/data.sh", "--validate", "false", "--class_order", str(out)))
    assert out.read_text().split() == order and len(order) == 20 and "jav" not in order


def test_test_sets_prepare_without_any_training_portion(recipe_copy, recipe_env, fake_corpora):
    """Issue: VoxLingua107 stopped with "no language folders" without its training part."""
    recipe = recipe_copy("lid1")
    env = corpus_env(recipe_env, fake_corpora(train=False))
    proc = ok(run(recipe, env, "run_voxlingua107_only.sh", "--skip_train", "true",
                  "--stage", "1", "--stop_stage", "3", "--nj", "1"))
    assert not list((recipe / "data").glob("train_*"))
    for tset in TESTS:
        n = read_kaldi_map(recipe / "dump/raw" / tset / "utt2num_samples")
        assert n, tset
    assert "no training language folders" in proc.stderr


def test_template_duration_and_multi_column_options(tmp_path, recipe_copy, recipe_env,
                                                    fake_corpora):
    """Issue: --min_wav_duration, --max_wav_duration, --multi_columns_input_wav_scp and
    --multi_columns_output_wav_scp were rejected as unknown options."""
    recipe = recipe_copy("lid1")
    env = corpus_env(recipe_env, fake_corpora())
    base = ["run_voxlingua107_only.sh", "--nj", "1", "--test_sets", "dev_voxlingua107_lang"]
    ok(run(recipe, env, *base, "--stage", "1", "--stop_stage", "1"))
    raw = recipe / "dump/raw"
    # Training files of 0.3, 1.0, 1.2, 2.0 s: (0.5 s, 1.5 s) keeps the middle two.
    proc = ok(run(recipe, env, *base, "--stage", "3", "--stop_stage", "3",
                  "--min_wav_duration", "0.5", "--max_wav_duration", "1.5"))
    train = raw / "train_voxlingua107_lang"
    assert read_kaldi_map(train / "utt2num_samples") == {"eng_e2": "16000", "fra_f1": "19200"}
    assert sorted(read_kaldi_map(train / "removed_by_duration")) == ["cmn_z1", "eng_e1"]
    assert (train / "lang2utt").read_text() == "eng eng_e2\nfra fra_f1\n"
    assert len(read_kaldi_map(raw / "dev_voxlingua107_lang/utt2lang")) == 2  # not filtered
    # A range that removes a validation language from training: refused at stage 3.
    proc = run(recipe, env, *base, "--stage", "3", "--stop_stage", "3", "--min_wav_duration", "1.1")
    assert proc.returncode != 0
    assert "dump/raw/dev_voxlingua107_lang/utt2lang: 1 validation language(s) not in the " \
           "training set dump/raw/train_voxlingua107_lang: eng" in proc.stderr

    # Multi-column input: a dev utterance given as two channel files; output: kept channels.
    dev = recipe / "data/dev_voxlingua107_lang"
    scp = read_kaldi_map(dev / "wav.scp")
    scp["eng_d1"] = f"{scp['eng_d1']} {scp['eng_d1']}"
    (dev / "wav.scp").write_text("".join(f"{u} {v}\n" for u, v in sorted(scp.items())))
    import shutil

    def stage3(*opts):  # a fresh dump of the dev set (formatting reuses finished files)
        shutil.rmtree(raw / "dev_voxlingua107_lang", ignore_errors=True)
        return run(recipe, env, *base, "--stage", "3", "--stop_stage", "3", *opts)

    proc = stage3()
    assert proc.returncode != 0 and "wav.scp:1: audio of 'eng_d1'" in proc.stderr
    ok(stage3("--multi_columns_input_wav_scp", "true"))
    out = read_kaldi_map(raw / "dev_voxlingua107_lang/wav.scp")
    assert len(out["eng_d1"].split()) == 1 and sf.info(out["eng_d1"]).channels == 1
    assert len(out["fra_d2"].split()) == 1  # the stereo file, downmixed
    ok(stage3("--multi_columns_input_wav_scp", "true", "--multi_columns_output_wav_scp", "true"))
    out = read_kaldi_map(raw / "dev_voxlingua107_lang/wav.scp")
    assert [Path(p).name for p in out["eng_d1"].split()] == ["eng_d1-CH0.wav", "eng_d1-CH1.wav"]
    assert [Path(p).name for p in out["fra_d2"].split()] == ["fra_d2-CH0.wav", "fra_d2-CH1.wav"]
    assert (raw / "dev_voxlingua107_lang/audio_format").read_text() == "multi_wav\n"
