"""Resuming training (``--resume true``) reads checkpoint.pth as weights only, never code."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import yaml

from geolid.tasks.checkpoint import CheckpointError, UnsafeCheckpointError


class _RunsCommand:
    """Unpickling this calls os.system(command): what a hostile checkpoint does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _training_objects(seed: int):
    """Model, Adam, ESPnet's tristage scheduler, a reporter and a scaler, as lid_train builds them."""
    from espnet2.schedulers.tristage_lr import TristageLR
    from espnet2.train.reporter import Reporter

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    scheduler = TristageLR(optimizer, max_steps=20, warmup_ratio=0.1, hold_ratio=0.4,
                           decay_ratio=0.5, init_lr_scale=0.01, final_lr_scale=0.01)
    return model, optimizer, scheduler, Reporter(), torch.amp.GradScaler("cpu")


def _train(model, optimizer, scheduler, reporter, epochs=2):
    """Epochs as ESPnet's Trainer records them: weighted model stats (floats) and unweighted
    trainer stats (np.nanmean -> numpy.float64), and a timedelta per epoch and mode."""
    for epoch in range(1, epochs + 1):
        reporter.set_epoch(epoch)
        for mode in ("train", "valid"):
            with reporter.observe(mode) as sub:
                for _ in range(3):
                    loss = model(torch.randn(5, 4)).pow(2).mean()
                    if mode == "train":
                        loss.backward()
                        optimizer.step()
                        optimizer.zero_grad()
                        scheduler.step()
                        sub.register({"grad_norm": torch.tensor(1.5), "train_time": 0.01,
                                      "optim0_lr0": scheduler.get_last_lr()[0]})
                    sub.register({"loss": loss.detach(), "accuracy": 0.5}, weight=5)
                    sub.next()


def _save_like_espnet(path, model, reporter, optimizer, scheduler, scaler, **extra):
    """The dict espnet2/train/trainer.py (202511) saves as checkpoint.pth each epoch."""
    states = {"model": model.state_dict(), "reporter": reporter.state_dict(),
              "optimizers": [optimizer.state_dict()], "schedulers": [scheduler.state_dict()],
              "scaler": scaler.state_dict() if scaler is not None else None}
    states["reporter"].update(extra)
    torch.save(states, path)
    return path


def _resume(trainer, path, seed=1):
    model, optimizer, scheduler, reporter, scaler = _training_objects(seed)
    trainer.resume(checkpoint=path, model=model, reporter=reporter, optimizers=[optimizer],
                   schedulers=[scheduler], scaler=scaler, ngpu=0, strict=True)
    return model, optimizer, scheduler, reporter, scaler


def test_geolid_task_resumes_with_the_weights_only_trainer():
    from espnet2.train.lid_trainer import LIDTrainer

    from geolid.tasks.lid import GeoLIDTask
    from geolid.tasks.trainer import GeoLIDTrainer

    assert GeoLIDTask.trainer is GeoLIDTrainer and issubclass(GeoLIDTrainer, LIDTrainer)
    assert GeoLIDTrainer.resume is not LIDTrainer.resume


def test_resume_restores_what_espnet_restores(tmp_path):
    import numpy as np
    from espnet2.train.trainer import Trainer

    from geolid.tasks.trainer import GeoLIDTrainer

    model, optimizer, scheduler, reporter, scaler = _training_objects(0)
    _train(model, optimizer, scheduler, reporter)
    scaler.scale(torch.tensor(1.0))          # the scale exists once used
    scaler.update(1024.0)
    path = _save_like_espnet(tmp_path / "checkpoint.pth", model, reporter, optimizer, scheduler,
                             scaler)
    stats = reporter.state_dict()["stats"]
    assert isinstance(stats[2]["train"]["train_time"], np.float64)  # not only tensors in there

    ours = _resume(GeoLIDTrainer, path)
    espnets = _resume(Trainer, path)                      # ESPnet's own (pickle) resume
    for got in (ours, espnets):
        m, o, s, r, sc = got
        for k, v in model.state_dict().items():
            assert torch.equal(m.state_dict()[k], v), k
        assert r.get_epoch() == 2 and r.state_dict() == reporter.state_dict()
        assert o.state_dict()["state"][0]["step"] == 6
        torch.testing.assert_close(o.state_dict()["state"][0]["exp_avg"],
                                   optimizer.state_dict()["state"][0]["exp_avg"], rtol=0, atol=0)
        assert s.state_dict() == scheduler.state_dict() and s.last_epoch == 6
        assert sc.get_scale() == 1024.0
    # the reporter ESPnet goes on with after resuming: epoch 3, best epochs known
    assert ours[3].sort_epochs_and_values("valid", "accuracy", "max") == \
        espnets[3].sort_epochs_and_values("valid", "accuracy", "max")


def test_hostile_checkpoint_is_refused_before_anything_changes(tmp_path):
    from geolid.tasks.trainer import GeoLIDTrainer

    marker = tmp_path / "marker"
    model, optimizer, scheduler, reporter, scaler = _training_objects(0)
    _train(model, optimizer, scheduler, reporter, epochs=1)
    path = _save_like_espnet(tmp_path / "checkpoint.pth", model, reporter, optimizer, scheduler,
                             None, payload=_RunsCommand(f"touch {marker}"))
    fresh, opt, sch, rep, sc = _training_objects(1)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    with pytest.raises(UnsafeCheckpointError) as e:
        GeoLIDTrainer.resume(checkpoint=path, model=fresh, reporter=rep, optimizers=[opt],
                             schedulers=[sch], scaler=sc, ngpu=0, strict=True)
    msg = str(e.value)
    assert msg.startswith(f"{path}: refused to load") and "system" in msg and "\n" not in msg
    assert "--resume false" in msg
    assert not marker.exists()
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in before.items())
    assert rep.get_epoch() == 0


def test_types_beyond_espnets_reporter_are_refused(tmp_path):
    """Only the exact non-tensor types ESPnet writes are allowed, and only for that load."""
    import pathlib

    import numpy as np

    from geolid.tasks.checkpoint import load_training_state

    model, optimizer, scheduler, reporter, scaler = _training_objects(0)
    path = _save_like_espnet(tmp_path / "checkpoint.pth", model, reporter, optimizer, scheduler,
                             scaler, extra=np.float32(1.0))
    with pytest.raises(UnsafeCheckpointError, match="Float32DType"):
        load_training_state(path)
    path = _save_like_espnet(tmp_path / "checkpoint.pth", model, reporter, optimizer, scheduler,
                             scaler, extra=pathlib.PurePosixPath("exp"))
    with pytest.raises(UnsafeCheckpointError, match="pathlib"):
        load_training_state(path)
    # the allowance does not outlive the load: plain weights-only loading still refuses numpy
    torch.save({"t": np.float64(1.0)}, tmp_path / "np.pth")
    load_training_state(_save_like_espnet(tmp_path / "ok.pth", model, reporter, optimizer,
                                          scheduler, scaler))
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(tmp_path / "np.pth", weights_only=True)
    (tmp_path / "junk.pth").write_bytes(b"\xff" * 100)
    with pytest.raises(CheckpointError, match="junk.pth: not a readable PyTorch training checkpoint"):
        load_training_state(tmp_path / "junk.pth")
    torch.save({"model": {}}, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="partial.pth: not an ESPnet training checkpoint"):
        load_training_state(tmp_path / "partial.pth")


# ------------------------------------------------------------- a real lid_train run
DATA = ["--train_data_path_and_name_and_type", "corpus/data/train/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type", "corpus/data/train/utt2lang,lid_labels,text",
        "--valid_data_path_and_name_and_type", "corpus/data/dev/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type", "corpus/data/dev/utt2lang,lid_labels,text",
        "--train_shape_file", "stats/train/speech_shape", "--valid_shape_file", "stats/dev/speech_shape"]


# One process runs lid_train three times (ESPnet's imports cost ~20 s per process):
# train 1 epoch; resume to 2 epochs from a tampered checkpoint.pth (must be refused, exit 2);
# resume to 2 epochs from the real one.
DRIVER = r"""
import contextlib, io, json, os, sys, torch
from geolid.bin.lid_train import main

class RunsCommand:
    def __init__(self, command):
        self.command = command
    def __reduce__(self):
        return (os.system, (self.command,))

base, marker = json.loads(sys.argv[1]), sys.argv[2]
out = {}
main(base)
ckpt = "exp/lid/checkpoint.pth"
out["epoch1"] = open("exp/lid/1epoch.pth", "rb").read().hex()
out["unsafe_globals"] = torch.serialization.get_unsafe_globals_in_checkpoint(ckpt)
good = open(ckpt, "rb").read()
states = torch.load(ckpt, weights_only=False)          # our own file: trusted here
states["reporter"]["stats"][1]["train"]["time"] = RunsCommand("touch " + marker)
torch.save(states, ckpt)
err = io.StringIO()
with contextlib.redirect_stderr(err):
    try:
        main(base + ["--max_epoch", "2"])
        out["refused_rc"] = 0
    except SystemExit as e:
        out["refused_rc"] = e.code
out["refused_err"] = err.getvalue()
out["2epoch_after_refusal"] = os.path.exists("exp/lid/2epoch.pth")
open(ckpt, "wb").write(good)
main(base + ["--max_epoch", "2"])
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    import soundfile as sf

    from geolid_demo.corpus import make_demo_corpus
    from geolid_demo.tiny import make_tiny_wav2vec2, tiny_config
    from geolid.utils.fileio import read_kaldi_map

    root = tmp_path_factory.mktemp("resume")
    make_demo_corpus(root / "corpus", n_train_per_lang=3, n_dev_per_lang=1, n_test_per_lang=1,
                     languages=["eng", "spa", "cmn", "swa"], progress=False)
    for part in ("train", "dev"):
        shapes = {u: sf.info(p).frames
                  for u, p in read_kaldi_map(root / f"corpus/data/{part}/wav.scp").items()}
        (root / "stats" / part).mkdir(parents=True)
        (root / "stats" / part / "speech_shape").write_text("".join(f"{u} {n}\n" for u, n in shapes.items()))
    make_tiny_wav2vec2(root / "hf")
    conf = tiny_config("hf", "corpus/data/train/lang2utt", 4, layers=(1,), k_top=2)
    conf.update(optim="adam", optim_conf={"lr": 1e-3}, max_epoch=1, num_iters_per_epoch=2,
                scheduler="tristagelr", scheduler_conf=dict(max_steps=10, warmup_ratio=0.1,
                                                            hold_ratio=0.4, decay_ratio=0.5),
                batch_type="catpow", iterator_type="category", valid_iterator_type="sequence",
                valid_batch_type="sorted", valid_batch_size=4, batch_bins=64000, max_batch_size=4,
                min_batch_size=2, upsampling_factor=0.5, dataset_scaling_factor=1.2,
                keep_nbest_models=2, best_model_criterion=[["valid", "accuracy", "max"]],
                num_workers=0, use_tensorboard=False, use_matplotlib=False, seed=0)
    (root / "train.yaml").write_text(yaml.safe_dump(conf))
    return root


def test_lid_train_resumes_its_checkpoint_and_refuses_a_hostile_one(recipe, tmp_path):
    import json

    marker = tmp_path / "marker"
    base = ["--config", "train.yaml", "--ngpu", "0", *DATA, "--output_dir", "exp/lid",
            "--resume", "true"]
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(base), str(marker)],
                          cwd=recipe, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out["unsafe_globals"]                  # numpy scalars and timedelta besides tensors
    assert out["refused_rc"] == 2 and not out["2epoch_after_refusal"]
    lines = [x for x in out["refused_err"].splitlines() if x.startswith("lid_train: error:")]
    assert len(lines) == 1, out["refused_err"][-2000:]
    assert lines[0].startswith("lid_train: error: exp/lid/checkpoint.pth: refused to load") \
        and "--resume false" in lines[0], lines[0]
    assert not marker.exists()
    # the real checkpoint resumes: epoch 1 is kept as it was, epoch 2 is trained
    assert proc.stderr.count("The training was resumed using exp/lid/checkpoint.pth") == 1
    exp = recipe / "exp/lid"
    assert (exp / "2epoch.pth").is_file() and (exp / "1epoch.pth").read_bytes().hex() == out["epoch1"]
    from geolid.tasks.checkpoint import load_training_state

    assert sorted(load_training_state(exp / "checkpoint.pth")["reporter"]["stats"]) == [1, 2]
