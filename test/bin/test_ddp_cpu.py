"""Two-process DDP training on the CPU (gloo), through ESPnet's trainer and our task.

Each rank is launched as its own process with ESPnet's distributed options (the
way a Slurm or torchrun launcher starts them). Both ranks must finish training;
DDP's gradient all-reduce needs every rank at every step, so rank 0 cannot finish
alone. Each rank also reports its world size and rank from inside the training
process (through the log of the pre-hook the test installs).
"""
import os
import socket
import subprocess
import sys

import pytest
import soundfile as sf
import yaml

from geolid_demo.tiny import make_tiny_wav2vec2, tiny_config
from geolid_demo.corpus import make_demo_corpus
from geolid.utils.fileio import read_kaldi_map

PROBE = r'''
import sys, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from geolid.bin import lid_train
seen = []
orig = DDP.forward
def forward(self, *a, **k):
    if not seen:
        seen.append(1)
        print(f"DDP-RANK {dist.get_rank()} OF {dist.get_world_size()} BACKEND {dist.get_backend()}", flush=True)
    return orig(self, *a, **k)
DDP.forward = forward
lid_train.main(sys.argv[1:])
print("RANK-DONE", dist.get_rank() if dist.is_initialized() else "n/a", flush=True)
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    make_demo_corpus(root / "corpus", n_train_per_lang=4, n_dev_per_lang=2, n_test_per_lang=1,
                     languages=["eng", "spa", "cmn", "hin"], progress=False)
    for part in ("train", "dev"):
        shapes = {u: sf.info(p).frames for u, p in read_kaldi_map(root / f"corpus/data/{part}/wav.scp").items()}
        (root / f"{part}_shape").write_text("".join(f"{u} {n}\n" for u, n in shapes.items()))
    make_tiny_wav2vec2(root / "hf")
    conf = tiny_config("hf", "corpus/data/train/lang2utt", 4, layers=(1,), k_top=2)
    conf.update(optim="adam", optim_conf={"lr": 1e-3}, max_epoch=1, num_iters_per_epoch=4,
                batch_type="sorted", batch_size=4, valid_batch_size=4, keep_nbest_models=1,
                num_workers=0, use_tensorboard=False, use_matplotlib=False, seed=0,
                unused_parameters=True)
    (root / "train.yaml").write_text(yaml.safe_dump(conf))
    return root


def test_two_cpu_ranks_train_together(setup):
    root = setup
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), OMP_NUM_THREADS="1")
    procs = []
    for rank in (0, 1):
        args = ["--config", "train.yaml", "--output_dir", "exp", "--ngpu", "0",
                "--train_data_path_and_name_and_type", "corpus/data/train/wav.scp,speech,sound",
                "--train_data_path_and_name_and_type", "corpus/data/train/utt2lang,lid_labels,text",
                "--valid_data_path_and_name_and_type", "corpus/data/dev/wav.scp,speech,sound",
                "--valid_data_path_and_name_and_type", "corpus/data/dev/utt2lang,lid_labels,text",
                "--train_shape_file", "train_shape", "--valid_shape_file", "dev_shape",
                "--dist_backend", "gloo", "--dist_init_method", "env://", "--dist_world_size", "2",
                "--dist_rank", str(rank), "--local_rank", str(rank)]
        procs.append(subprocess.Popen([sys.executable, "-c", PROBE, *args], cwd=root, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        outs.append(out)
        assert p.returncode == 0, out[-3000:]
    for rank, out in enumerate(outs):
        assert f"DDP-RANK {rank} OF 2 BACKEND gloo" in out, out[-2000:]
        assert f"RANK-DONE {rank}" in out
    dumped = yaml.safe_load((root / "exp/config.yaml").read_text())
    assert dumped["distributed"] is True and dumped["dist_world_size"] == 2
    assert (root / "exp/1epoch.pth").is_file()
