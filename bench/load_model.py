"""Model loading time and memory: the old eager path vs the meta-device + mmap path.

Writes a published-layout model folder with an MMS-1B-shaped checkpoint (random
weights, ~3.9 GB, the published ``aamsoftmax_loss`` aliases included) under
``--workdir`` (default: a temporary folder in /tmp, deleted afterwards), then
measures, each in a fresh process, side by side:

* ``torch.load``: a plain ``torch.load(weights_only=True)`` of the file (the
  reference time);
* ``old``: build the model with random initialisation, then copy the loaded
  state dict into it (what ``build_model_from_args`` did before);
* ``new``: ``build_model_from_args``: parameters on the meta device, the file
  memory-mapped, its tensors assigned (``load_state_dict(assign=True)``).

Times exclude the imports (transformers' wav2vec2 module alone takes seconds),
which both paths pay once whatever the model size.
For ``old`` and ``new`` a 1 s forward pass follows the load, which touches every
weight: memory-mapped weights count in the resident set only once read, so the
peak after that forward is the honest memory figure. Targets (issue 9 section 3):
peak RSS <= 1.3x the checkpoint size, load time <= 1.5x plain ``torch.load``.

    python bench/load_model.py                 # MMS-1B shape: needs ~9 GB free for `old`
    python bench/load_model.py --shape mms-300m --skip-old
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PUBLISHED_CONFIG = REPO / "egs2/geolid/lid1/conf/combined/mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml"
SHAPES = {"mms-1b": ("facebook/mms-1b", [32, 36, 40, 44]),
          "mms-300m": ("facebook/mms-300m", [16, 18, 20, 22])}
N_LANGS = 107
EXP_REL = "exp_combined/lid_bench"


def write_model_folder(root: Path, shape: str) -> Path:
    """Published layout: ``<root>/exp_combined/lid_bench/{config.yaml, valid.accuracy.best.pth}``."""
    import torch
    import yaml

    from geolid.lid.espnet_model_upstream_condition import LOSS_ALIAS_PREFIX
    from geolid.tasks.build import build_on_meta

    encoder, layers = SHAPES[shape]
    conf = yaml.safe_load(PUBLISHED_CONFIG.read_text())
    conf["frontend_conf"]["frontend_conf"]["path_or_url"] = encoder
    conf["model_conf"]["lang2vec_conditioning_layers"] = layers
    conf["lang2utt"] = "data/lang2utt"
    conf["lang_num"] = N_LANGS
    (root / "data").mkdir(parents=True)
    (root / "data/lang2utt").write_text("".join(f"l{i:03d} u{i}\n" for i in range(N_LANGS)))
    exp = root / EXP_REL
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))
    build_conf = dict(conf, frontend_conf=dict(conf["frontend_conf"], load_pretrained_weights=False))
    model = build_on_meta(argparse.Namespace(**build_conf))  # shapes only, no memory
    gen = torch.Generator().manual_seed(0)
    params = dict(model.named_parameters(remove_duplicate=False))
    state = {}
    for name, t in model.state_dict().items():
        if name in params:
            state[name] = torch.randn(t.shape, generator=gen, dtype=t.dtype).mul_(0.02)
        elif name.endswith("running_var"):  # buffers: what a fresh build holds
            state[name] = torch.ones(t.shape, dtype=t.dtype)
        else:                               # running_mean, num_batches_tracked
            state[name] = torch.zeros(t.shape, dtype=t.dtype)
    for key in [k for k in state if k.startswith("loss.")]:  # as published: aliases of loss.*
        state[LOSS_ALIAS_PREFIX + key[len("loss."):]] = state[key]
    torch.save(state, exp / "valid.accuracy.best.pth")
    return exp / "valid.accuracy.best.pth"


# ----------------------------------------------------------------- children
def child(mode: str, root: Path) -> dict:
    import torch

    torch.set_num_threads(2)
    from geolid.model.folder import ModelFolder
    from geolid.tasks.build import build_model, build_model_from_args, load_state_dict_strict

    folder = ModelFolder.open(str(root))
    args = argparse.Namespace(**folder.resolved_config())
    # Imports are a fixed cost (~10 s here for transformers' wav2vec2 module), the
    # same for any model size and for both paths: done before the clock starts.
    t_import = time.perf_counter()
    from transformers import Wav2Vec2Model  # noqa: F401
    import_s = time.perf_counter() - t_import
    rss_start = _peak_rss_gb()
    t0 = time.perf_counter()
    if mode == "torch.load":
        state = torch.load(folder.weights, map_location="cpu", weights_only=True)
        return {"load_s": time.perf_counter() - t0, "rss_start_gb": rss_start,
                "peak_load_gb": _peak_rss_gb(), "n": len(state)}
    if mode == "old":
        args.frontend_conf = dict(args.frontend_conf, load_pretrained_weights=False)
        model = build_model(args)
        state = torch.load(folder.weights, map_location="cpu", weights_only=True)
        load_state_dict_strict(model, state, str(folder.weights))
        del state
    else:
        model, _ = build_model_from_args(args, folder.weights)
    load_s = time.perf_counter() - t0
    peak_load = _peak_rss_gb()
    model.eval()
    with torch.inference_mode():
        t1 = time.perf_counter()
        model.score(torch.randn(1, 16000), torch.tensor([16000]))
        forward_s = time.perf_counter() - t1
    return {"load_s": load_s, "import_s": import_s, "rss_start_gb": rss_start, "peak_load_gb": peak_load,
            "forward_s": forward_s, "peak_forward_gb": _peak_rss_gb()}


def _peak_rss_gb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would include the parent's
    peak from before the exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def run_child(mode: str, root: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--workdir", str(root)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(SHAPES), default="mms-1b")
    p.add_argument("--workdir", type=Path, help="keep the model folder here (default: temporary)")
    p.add_argument("--skip-old", action="store_true", help="skip the eager path (it needs 2x memory)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.workdir)))
        return
    tmp = None
    root = a.workdir
    if root is None:
        tmp = tempfile.mkdtemp(prefix="geolid_load_bench_", dir="/tmp")
        root = Path(tmp) / "model"
    try:
        if not (root / EXP_REL / "valid.accuracy.best.pth").is_file():
            t = time.perf_counter()
            write_model_folder(root, a.shape)
            print(f"wrote {a.shape}-shaped checkpoint in {time.perf_counter() - t:.1f} s", flush=True)
        size_gb = (root / EXP_REL / "valid.accuracy.best.pth").stat().st_size / 2**30
        modes = ["torch.load"] + ([] if a.skip_old else ["old"]) + ["new"]
        results = {}
        for mode in modes:
            results[mode] = run_child(mode, root)
            print(f"  {mode}: {json.dumps({k: round(v, 2) for k, v in results[mode].items()})}", flush=True)
        report(a.shape, size_gb, results)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def report(shape: str, size_gb: float, results: dict) -> None:
    ref = results["torch.load"]["load_s"]
    print(f"\n{shape}: checkpoint {size_gb:.2f} GiB; plain torch.load {ref:.2f} s, "
          f"peak RSS {results['torch.load']['peak_load_gb']:.2f} GB")
    print(f"{'path':<6} {'load s':>7} {'/torch.load':>12} {'peak RSS load':>14} {'/ckpt':>6} "
          f"{'peak RSS +forward':>18} {'/ckpt':>6}")
    for mode in ("old", "new"):
        if mode not in results:
            continue
        r = results[mode]
        print(f"{mode:<6} {r['load_s']:>7.2f} {r['load_s'] / ref:>11.2f}x {r['peak_load_gb']:>11.2f} GiB "
              f"{r['peak_load_gb'] / size_gb:>5.2f}x {r['peak_forward_gb']:>15.2f} GiB "
              f"{r['peak_forward_gb'] / size_gb:>5.2f}x")
    new = results["new"]
    ok_mem = new["peak_forward_gb"] / size_gb <= 1.3
    ok_time = new["load_s"] / ref <= 1.5
    print(f"targets: peak RSS <= 1.3x checkpoint: {'met' if ok_mem else 'NOT met'}; "
          f"load <= 1.5x torch.load: {'met' if ok_time else 'NOT met'}")


if __name__ == "__main__":
    main()
