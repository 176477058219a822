"""Files per second: one process vs the Ray Data stage with 1 and 2 actors, same files, one run.

On a random MMS-shaped model (``--size``, as bench/inference_speed.py builds it) and
generated files, it times, interleaved over ``--repeats`` rounds (median reported):

* ``single``: a fresh Python process that imports geolid, loads the model and runs
  ``predict_iter`` over the files, torch on all ``--cpus`` cores (what ``geolid predict``
  does);
* ``ray x1`` / ``ray x2``: ``predict_dataset`` on a local Ray instance of ``--cpus``
  CPUs with 1 / 2 actors (threads per actor: the cores divided among them), the whole
  Ray Data job: actor processes start, import geolid, load the model, score, send the
  rows back. ``ray.init`` is not timed (a cluster is up before a job starts).

Two figures per engine: the **whole job** on all the files, and the **marginal** rate,
``(N - N/2) / (T(N) - T(N/2))`` from a second job on the first half of the files, which
cancels what a job costs once (process start, imports, model load; Ray's scheduling
start-up), for the single process and 1 actor (with 2 actors the half job is not "fixed
cost + half the work": its batches may all go to the actor that loaded first). Ray's
overhead is reported on both. Rows are checked equal to the single
process's (language, probability within 1e-5).

    python bench/ray_stage.py --size base --files 32 --min-s 2 --max-s 6 --cpus 2
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inference_speed import build_model, make_files  # noqa: E402

SINGLE = """
import json, sys, torch
from geolid.inference.api import GeoLID
from geolid.inference.options import PredictOptions
exp, cpus, detector, listing = sys.argv[1:5]
torch.set_num_threads(int(cpus))
paths = open(listing).read().split()
lid = GeoLID.from_pretrained(exp, device="cpu")
preds = lid.predict_iter([(p, p) for p in paths], options=PredictOptions(speech_detector=detector))
print(json.dumps({p.key: [p.language, p.probability] for p in preds}))
"""


def run_single(exp: str, paths, detector: str, cpus: int, tmp: Path):
    listing = tmp / "paths.txt"
    listing.write_text("\n".join(paths))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", SINGLE, exp, str(cpus), detector, str(listing)],
                       capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, {k: tuple(v) for k, v in json.loads(r.stdout).items()}


def run_ray(exp: str, paths, options, actors: int, batch: int):
    import ray

    from geolid.integrations.ray import predict_dataset

    t0 = time.perf_counter()
    ds = ray.data.from_items([{"path": p} for p in paths],
                             override_num_blocks=max(actors, -(-len(paths) // batch)))
    rows = {}
    for t in predict_dataset(ds, exp, options, actors=actors, batch_size=batch).iter_batches(
            batch_format="pyarrow", batch_size=None):
        for r in t.select(["key", "language", "probability"]).to_pylist():
            rows[r["key"]] = (r["language"], r["probability"])
    return time.perf_counter() - t0, rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="small", choices=("tiny", "small", "base"))
    ap.add_argument("--files", type=int, default=48)
    ap.add_argument("--min-s", type=float, default=2.0)
    ap.add_argument("--max-s", type=float, default=6.0)
    ap.add_argument("--cpus", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--batch", type=int, default=8, help="rows per Ray batch")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--speech-detector", default="silero", choices=("silero", "energy", "none"))
    args = ap.parse_args(argv)

    import logging

    import ray

    from geolid.inference.options import PredictOptions

    options = PredictOptions(speech_detector=args.speech_detector)
    names = ("single", "ray x1", "ray x2")
    whole = {n: [] for n in names}
    half = {n: [] for n in names}
    answers = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exp = str(build_model(tmp / "model", args.size))
        paths, seconds = make_files(tmp / "wav", args.files, args.min_s, args.max_s)
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level=logging.WARNING)
        ray.data.DataContext.get_current().enable_progress_bars = False
        for handler in logging.getLogger("ray.data").handlers:     # its console, not its log file
            if not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.ERROR)
        try:
            run_single(exp, paths[:2], args.speech_detector, args.cpus, tmp)   # warm caches
            for _ in range(args.repeats):
                for name in names:
                    for subset, times in ((paths, whole), (paths[:len(paths) // 2], half)):
                        if name == "single":
                            t, rows = run_single(exp, subset, args.speech_detector, args.cpus, tmp)
                        else:
                            t, rows = run_ray(exp, subset, options, int(name[-1]), args.batch)
                        times[name].append(t)
                        if subset is paths:
                            answers[name] = rows
        finally:
            ray.shutdown()
    ref = answers["single"]
    agree = {name: rows.keys() == ref.keys() and all(
        rows[k][0] == ref[k][0] and abs(rows[k][1] - ref[k][1]) <= 1e-5 for k in ref)
        for name, rows in answers.items()}
    med = {n: statistics.median(whole[n]) for n in names}
    # marginal rate: single and ray x1 only. With 2 actors the half job's batches may all go
    # to the actor that loaded first, so T(N/2) is not "fixed cost + half the work"
    rate = {n: (args.files - args.files // 2) / (med[n] - statistics.median(half[n]))
            for n in names[:2]}
    print(f"{args.files} files, {seconds:.0f} s of audio, model size {args.size}, {args.cpus} CPUs, "
          f"speech detector {args.speech_detector}, {args.batch} rows per Ray batch, median of "
          f"{args.repeats}")
    print(f"{'engine':<8} {'job s':>7} {'job files/s':>12} {'marginal files/s':>17}  rows equal")
    for n in names:
        marginal = f"{rate[n]:17.2f}" if n in rate else f"{'-':>17}"
        print(f"{n:<8} {med[n]:7.2f} {args.files / med[n]:12.2f} {marginal}  {agree[n]}")
    print(f"Ray overhead at 1 actor (target <= 10%): whole job {100 * (med['ray x1'] / med['single'] - 1):+.1f}%, "
          f"marginal {100 * (rate['single'] / rate['ray x1'] - 1):+.1f}%")
    print(f"2 actors vs single: whole job {med['single'] / med['ray x2']:.2f}x")
    return 0 if all(agree.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
