"""End to end through the entry points: collect stats, train 2 epochs, infer.

Audio is synthesised by espeak-ng (5 languages); the encoder is a tiny random
wav2vec2. Accuracy is not asserted (a few steps on random weights); the files,
their formats and their contents are.
"""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import yaml

from geolid_demo.tiny import make_tiny_wav2vec2, tiny_config
from geolid_demo.corpus import make_demo_corpus
from geolid.utils.fileio import read_kaldi_map

TRAIN_KEYS = dict(optim="adam", optim_conf={"lr": 1e-3}, max_epoch=2, num_iters_per_epoch=3,
                  batch_type="catpow", iterator_type="category", valid_iterator_type="sequence",
                  valid_batch_type="sorted", valid_batch_size=4, batch_bins=64000, max_batch_size=4,
                  min_batch_size=2, upsampling_factor=0.5, dataset_scaling_factor=1.2,
                  keep_nbest_models=1, best_model_criterion=[["valid", "accuracy", "max"]],
                  num_workers=0, use_tensorboard=False, use_matplotlib=False, seed=0)


def run(args, cwd):
    proc = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    make_demo_corpus(root / "corpus", n_train_per_lang=4, n_dev_per_lang=2, n_test_per_lang=3,
                     languages=["eng", "spa", "cmn", "swa", "hin"], progress=False)
    for part in ("train", "dev"):
        shapes = {u: sf.info(p).frames for u, p in read_kaldi_map(root / f"corpus/data/{part}/wav.scp").items()}
        (root / "stats" / part).mkdir(parents=True)
        (root / "stats" / part / "speech_shape").write_text("".join(f"{u} {n}\n" for u, n in shapes.items()))
    make_tiny_wav2vec2(root / "hf")
    conf = tiny_config("hf", "corpus/data/train/lang2utt", 5, layers=(1,), k_top=2)
    conf.update(TRAIN_KEYS)
    (root / "train.yaml").write_text(yaml.safe_dump(conf))
    return root


def data_args(root, part, prefix):
    return [f"--{prefix}_data_path_and_name_and_type", f"corpus/data/{part}/wav.scp,speech,sound",
            f"--{prefix}_data_path_and_name_and_type", f"corpus/data/{part}/utt2lang,lid_labels,text"]


def test_collect_stats_train_and_inference(workdir):
    common = ["--config", "train.yaml", "--ngpu", "0", *data_args(workdir, "train", "train"),
              *data_args(workdir, "dev", "valid")]
    # Stage-4 style statistics through the model (the published code broke here).
    run(["geolid.bin.lid_train", *common, "--collect_stats", "true", "--output_dir", "stats_out",
         "--train_shape_file", "stats/train/speech_shape", "--valid_shape_file", "stats/dev/speech_shape"],
        workdir)
    shapes = read_kaldi_map(workdir / "stats_out/train/speech_shape")
    assert len(shapes) == 20 and all(int(v.split(",")[0]) > 16000 for v in shapes.values())
    stats = np.load(workdir / "stats_out/train/feats_stats.npz")
    frames = sum((int(v) - 1) // 320 + 1 for v in shapes.values())
    assert stats["sum"].shape == (32,) and int(stats["count"]) == frames  # valid frames only

    run(["geolid.bin.lid_train", *common, "--output_dir", "exp/lid",
         "--train_shape_file", "stats/train/speech_shape", "--valid_shape_file", "stats/dev/speech_shape"],
        workdir)
    exp = workdir / "exp/lid"
    for name in ("valid.accuracy.best.pth", "2epoch.pth", "config.yaml"):
        assert (exp / name).is_file(), name
    dumped = yaml.safe_load((exp / "config.yaml").read_text())
    assert dumped["model"] == "upstream_condition" and dumped["max_epoch"] == 2

    (workdir / "inf").mkdir()
    run(["geolid.bin.lid_inference", "--output_dir", "inf", "--ngpu", "0",
         *[a.replace("--test_", "--") for a in data_args(workdir, "test", "test")],
         "--lid_train_config", "exp/lid/config.yaml", "--lid_model_file", "exp/lid/valid.accuracy.best.pth",
         "--valid_batch_size", "4", "--fix_duration", "false", "--extract_embd", "true",
         "--save_embd_per_utt", "true"],
        workdir)
    lids = read_kaldi_map(workdir / "inf/test_lids")
    ref = read_kaldi_map(workdir / "corpus/data/test/utt2lang")
    assert sorted(lids) == sorted(ref) and len(lids) == 15
    assert set(lids.values()) <= {"eng", "spa", "cmn", "swa", "hin"}
    topk = read_kaldi_map(workdir / "inf/test_lids_topk")
    assert sorted(topk) == sorted(ref) and all(topk[u].split()[0].split(":")[0] == lids[u] for u in topk)
    embds = np.load(workdir / "inf/test_utt_embds.npz")
    assert sorted(embds.files) == sorted(ref) and embds[sorted(ref)[0]].shape == (8,)
    np.testing.assert_allclose(np.linalg.norm(embds[sorted(ref)[0]]), 1.0, rtol=1e-5)
