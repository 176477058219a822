"""A small version of the demo runs stages 1-8 for both models, as in CI.

Asserts the files each stage writes, their contents, and that both models learned: at
least 40% on the 60 in-variant test utterances of 5 languages (chance 20%; a model that
guesses reaches 24 of 60 with probability 0.0003; 100 training steps measured 55.0% geo,
46.7% baseline, the same on every run: the corpus is synthesised with fixed seeds).
"""
import json
import subprocess

import pytest

from geolid_demo.corpus import SMALL_LANGUAGES
from geolid.utils.fileio import read_kaldi_map


@pytest.fixture(scope="module")
def demo(tmp_path_factory, copy_recipes, recipe_env):
    # Spaces in every path: the recipe folder, --expdir and --dumpdir (issue: stage 4 broke).
    root = copy_recipes(tmp_path_factory.mktemp("demo") / "demo copy")
    env = recipe_env
    proc = subprocess.run(["bash", "run.sh", "--small", "true", "--expdir", "my exp",
                           "--dumpdir", "my dump"], cwd=root / "demo1", env=env,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return root / "demo1", proc.stdout


def test_stage1_data_and_encoder(demo):
    d, _ = demo
    for part in ("train", "dev", "test", "test_accent"):
        utt2lang = read_kaldi_map(d / "data" / part / "utt2lang")
        assert utt2lang and all(u.startswith(l + "_") for u, l in utt2lang.items())
    assert (d / "downloads/tiny_w2v2/config.json").is_file()


def test_stage3_dump_is_16k_with_lengths(demo):
    import soundfile as sf

    d, _ = demo
    wav = read_kaldi_map(d / "my dump/raw/test/wav.scp")
    n = read_kaldi_map(d / "my dump/raw/test/utt2num_samples")
    assert list(wav) == list(n)
    utt = next(iter(wav))
    info = sf.info(wav[utt])
    assert info.samplerate == 16000 and info.channels == 1 and info.frames == int(n[utt])


def test_stage4_stats(demo):
    d, _ = demo
    shapes = read_kaldi_map(d / "my exp/lid_stats_16k/train/speech_shape")
    assert len(shapes) == len(read_kaldi_map(d / "my dump/raw/train/wav.scp"))
    assert (d / "my exp/lid_stats_16k/train/feats_stats.npz").is_file()


@pytest.mark.parametrize("model", ["lid_tiny_geo_raw", "lid_tiny_baseline_raw"])
def test_stages5to8_outputs(demo, model):
    d, _ = demo
    exp = d / "my exp" / model
    assert (exp / "valid.accuracy.best.pth").is_file()
    assert "--resume true" in (exp / "train.log").read_text()  # stage 5 resumes, as the template
    for tset in ("test", "test_accent"):
        inf = exp / "inference" / "valid.accuracy.best" / tset
        lids = read_kaldi_map(inf / f"{tset}_lids")
        ref = read_kaldi_map(d / "my dump/raw" / tset / "utt2lang")
        assert sorted(lids) == sorted(ref)  # merged from 2 jobs, nothing lost or doubled
        score = json.loads((inf / "score" / tset / "score.json").read_text())
        acc = sum(lids[u] == ref[u] for u in ref) / len(ref)
        assert score["accuracy"] == pytest.approx(acc)
        assert (inf / "score" / tset / "confusion.png").stat().st_size > 5000
        assert "Macro Accuracy across Languages" in (inf / "results").read_text()
    # t-SNE of --tsne_set (test), from its stage-6 embeddings
    assert (exp / "inference/valid.accuracy.best/tsne/test_tsne.png").stat().st_size > 5000
    results = (exp / "RESULTS.md").read_text()
    assert "test_accent" in results and "macro" in results


def test_results_table_has_both_models(demo):
    d, out = demo
    table = (d / "RESULTS.md").read_text()
    assert "lid_tiny_geo_raw" in table and "lid_tiny_baseline_raw" in table
    assert "accent-shifted test" in table
    assert table.strip() in out  # printed at the end


def test_stop_before_scoring_exits_cleanly(tmp_path, copy_recipes, recipe_env):
    """Issue: `run.sh --stop_stage 4` exited 2, because the results table ran anyway."""
    root = copy_recipes(tmp_path)
    proc = subprocess.run(["bash", "run.sh", "--small", "true", "--stop_stage", "1"],
                          cwd=root / "demo1", env=recipe_env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "no results table" in proc.stdout
    assert (root / "demo1/data/train/utt2lang").is_file() and not (root / "demo1/exp").exists()


@pytest.mark.parametrize("model", ["lid_tiny_geo_raw", "lid_tiny_baseline_raw"])
def test_small_demo_learned_its_languages(demo, model):
    """A model that learned nothing scores about 1/5 here (12 of 60); a broken pipeline
    (labels shuffled, wrong class order, untrained weights) does too. 40% is 2x chance:
    P(Binomial(60, 0.2) >= 24) = 0.0003, so a guessing model does not pass by luck."""
    from scipy.stats import binom

    d, _ = demo
    score = json.loads((d / "my exp" / model / "inference/valid.accuracy.best/test/score/test/score.json")
                       .read_text())
    n, chance = 12 * len(SMALL_LANGUAGES), 1 / len(SMALL_LANGUAGES)
    assert score["n_utts"] == n
    assert binom.sf(round(0.4 * n) - 1, n, chance) < 1e-3      # the bound means what it says
    assert score["accuracy"] >= 0.4
