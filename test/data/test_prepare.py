"""geolid.data.prepare: the one owner of set names and derived sets; local/data.sh."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from geolid.data import prepare
from geolid.data.datadir import DataDir, DataDirError, validate_data_dir, write_data_dir
from geolid.utils.fileio import read_kaldi_map, write_kaldi_map


@pytest.fixture
def vl_root(tmp_path, audio) -> Path:
    root = tmp_path / "vl"
    for rel in ["en/a.wav", "fr/b.wav", "dev/en/c.wav"]:
        audio.wav(root / rel)
    return root


def test_make_combined_and_cross(vl_root, tmp_path):
    from geolid.data.corpora.voxlingua107 import prepare_voxlingua107

    out = tmp_path / "data"
    prepare_voxlingua107(vl_root, out)
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
    # In-domain (same corpus field) sets are evaluated as they are, as ESPnet's lid1 template.
    assert [p.name for p in written] == ["test_fleurs_lang_cross_train_voxlingua107_lang"]
    assert (written[0] / "utt2lang").read_text() == "eng_t eng\n"
    assert prepare.eval_set_name("dev_voxlingua107_lang", "train_voxlingua107_lang") == "dev_voxlingua107_lang"
    assert prepare.eval_set_name("test_fleurs_lang", "train_all_no_filter_lang") == \
        "test_fleurs_lang_cross_train_all_no_filter_lang"
    assert prepare.eval_set_name("test_fleurs_lang", "train_x", cross_domain=False) == "test_fleurs_lang"


def test_recipe_data_sh(vl_root, tmp_path):
    """local/data.sh dispatches to the per-corpus wrappers, then validates; derived sets
    (cross, combined) are lid.sh's, so data.sh has no options for them."""
    import os

    repo = Path(__file__).parents[2]
    env = dict(os.environ, PYTHON=sys.executable,
               PYTHONPATH=f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    data = tmp_path / "data"
    res = subprocess.run(["bash", str(repo / "egs2/geolid/lid1/local/data.sh"), "--data", str(data),
                          "--voxlingua107", str(vl_root)],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in data.iterdir()) == ["dev_voxlingua107_lang", "train_voxlingua107_lang"]
    assert res.stdout.count(": OK (") == 2
    res = subprocess.run(["bash", str(repo / "egs2/geolid/lid1/local/data.sh"), "--cross_train", "x"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2 and "unknown option --cross_train" in res.stderr


def formatted(path, utts):
    """A formatted set: utt -> (label, samples)."""
    write_data_dir(path, DataDir({u: f"/a/{u}.wav" for u in utts}, {u: u[:3] for u in utts}))
    write_kaldi_map(path / "utt2num_samples", {u: str(n) for u, (_, n) in utts.items()})
    return path


def test_names_follow_the_template_rule():
    assert prepare.corpus_field("dev_babel_over_10s_lang") == "babel"
    assert prepare.is_in_domain("dev_voxlingua107_lang", "train_voxlingua107_lang")
    assert not prepare.is_in_domain("dev_voxlingua107_lang", "train_all_no_filter_lang")
    assert prepare.format_source("dev_babel_over_10s_lang") == "dev_babel_lang"
    assert prepare.format_source("test_fleurs_lang") == "test_fleurs_lang"


def test_min_samples_set_is_the_published_10_s_rule(tmp_path):
    formatted(tmp_path / "train_babel_lang", {"yue_a": ("yue", 159999), "yue_b": ("yue", 160000),
                                              "tam_c": ("tam", 320000)})
    out = prepare.make_min_samples_set(tmp_path, "train_babel_over_10s_lang")
    assert list(read_kaldi_map(out / "utt2lang")) == ["tam_c", "yue_b"]
    assert read_kaldi_map(out / "utt2num_samples") == {"tam_c": "320000", "yue_b": "160000"}
    validate_data_dir(out)
    with pytest.raises(DataDirError, match="format dev_babel_lang first"):
        prepare.make_min_samples_set(tmp_path, "dev_babel_over_10s_lang")


def test_valid_set_gets_dataset_files_for_the_balanced_sampler(tmp_path):
    """valid_iterator_type: category (published) samples the valid set with
    catpow_balance_dataset, which needs utt2dataset/dataset2utt there."""
    from espnet2.samplers.build_batch_sampler import build_category_batch_sampler

    d = formatted(tmp_path / "dev_ml_superb2_lang", {"eng_a": ("eng", 16000), "fra_b": ("fra", 8000),
                                                    "fra_c": ("fra", 9000)})
    prepare.write_single_dataset(d)
    assert (d / "dataset2utt").read_text() == "dev_ml_superb2_lang eng_a fra_b fra_c\n"
    validate_data_dir(d)
    sampler, _ = build_category_batch_sampler(
        type="catpow_balance_dataset", batch_bins=20000, shape_files=[str(d / "utt2num_samples")],
        min_batch_size=1, max_batch_size=6, category_upsampling_factor=0.5,
        dataset_upsampling_factor=0.3, dataset_scaling_factor=1.2,
        category2utt_file=str(d / "category2utt"), dataset2utt_parent_dir=str(d))
    assert sum(len(b) for b in sampler) > 0


def test_combined_merges_num_samples(tmp_path):
    formatted(tmp_path / "train_a_lang", {"eng_a": ("eng", 10)})
    formatted(tmp_path / "train_b_lang", {"fra_b": ("fra", 20)})
    out = prepare.make_combined(tmp_path, train_sets=["train_a_lang", "train_b_lang"])
    assert read_kaldi_map(out / "utt2num_samples") == {"eng_a": "10", "fra_b": "20"}
    assert read_kaldi_map(out / "utt2dataset") == {"eng_a": "train_a_lang", "fra_b": "train_b_lang"}
