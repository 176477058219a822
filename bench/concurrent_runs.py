"""Concurrent CPU inference processes, with and without the core share, side by side in one run.

Runs 1, 2 and 4 processes at once, each classifying the same generated clips
with the same random model (``--size``: the shapes of bench/inference_speed.py;
built with ``geolid_demo.tiny.make_experiment``), in two modes:

* ``default``: torch's own thread count (one intra-op thread per core, what
  every process does without coordination);
* ``share``: ``geolid.utils.threads.CoreShare`` (the process registers a slot;
  ``refresh()`` between batches sets ``torch.set_num_threads`` to
  ``cores // live processes``).

Every child loads the model and warms up first (one pass over the clips); the clock starts when all of
them are ready (a "go" line on their stdin) and stops when the last one is
done, so model loading is not timed. Reported per count k: the wall time of k
at once, and the ratio to k runs one after the other (k x the single run of the
same mode); 1.0 means concurrency costs nothing over running in turn, above 1.0
the processes slow each other down more than sharing the cores explains. Rounds
interleave the modes (``--rounds``); medians and the range are shown (on a
machine shared with other work, single runs vary a lot).

    python bench/concurrent_runs.py                      # small model, 16 clips of 1-4 s, 3 rounds
    python bench/concurrent_runs.py --size tiny --files 8 --rounds 1
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def child(args) -> None:
    """One inference process: load, warm up, say ready, wait for go, classify, report."""
    import torch  # noqa: F401  (imported before the share, so it sets torch's threads)

    from geolid.inference.api import GeoLID, InferenceOptions
    from geolid.utils.threads import CoreShare

    paths = json.loads(Path(args.paths).read_text())
    lid = GeoLID.from_pretrained(args.model, device="cpu", dtype="float32")
    options = InferenceOptions(batch_size=args.batch_size)
    share = CoreShare(folder=args.folder) if args.mode == "share" else None
    if share is not None:
        share.__enter__()
    try:
        lid.predict(paths, locate=False, options=options)  # warm-up: every shape once
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return
        t0 = time.perf_counter()
        seen = []
        for start in range(0, len(paths), args.batch_size):
            if share is not None:
                share.refresh()     # what geolid predict / the service do between batches
            seen.append(torch.get_num_threads())
            lid.predict(paths[start:start + args.batch_size], locate=False, options=options)
        print(json.dumps({"seconds": time.perf_counter() - t0, "threads": seen}), flush=True)
    finally:
        if share is not None:
            share.__exit__(None, None, None)


def run_group(k: int, mode: str, model: Path, paths_file: Path, folder: Path, batch_size: int):
    """Start k children, release them together; (wall seconds, threads each child used)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("GEOLID_THREADS", None)
    env.pop("OMP_NUM_THREADS", None)
    cmd = [sys.executable, __file__, "--child", mode, "--model", str(model), "--paths",
           str(paths_file), "--folder", str(folder), "--batch-size", str(batch_size)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(k)]
    try:
        for p in procs:
            line = p.stdout.readline().strip()
            if line != "ready":
                raise SystemExit(f"a {mode} child failed to start (said {line!r})")
        t0 = time.perf_counter()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = [json.loads(p.stdout.readline()) for p in procs]
        wall = time.perf_counter() - t0
        for p in procs:
            p.stdin.close()
            if p.wait(60) != 0:
                raise SystemExit(f"a {mode} child exited with {p.returncode}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return wall, [sorted(set(r["threads"])) for r in reports]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="small", help="model shape of bench/inference_speed.py "
                                                     "(tiny, small, base)")
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--min-s", type=float, default=1.0)
    ap.add_argument("--max-s", type=float, default=4.0)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", choices=["default", "share"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--paths", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.mode = args.child
        child(args)
        return 0

    sys.path.insert(0, str(BENCH))
    from inference_speed import build_model, make_files  # the shapes and clips of that bench

    from geolid.utils.threads import available_cores

    tmp = Path(tempfile.mkdtemp(prefix="geolid_concurrent_"))
    try:
        return _bench(args, tmp, build_model, make_files, available_cores)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _bench(args, tmp: Path, build_model, make_files, available_cores) -> int:
    print(f"building a random '{args.size}' model and {args.files} clips in {tmp} ...",
          file=sys.stderr)
    model = build_model(tmp, args.size)
    paths, audio_s = make_files(tmp / "audio", args.files, args.min_s, args.max_s)
    paths_file = tmp / "paths.json"
    paths_file.write_text(json.dumps(paths))
    folder = tmp / "cores"            # the bench's own slots: real runs elsewhere are not counted
    walls = {(m, k): [] for m in ("default", "share") for k in args.counts}
    threads = {}
    for r in range(args.rounds):
        for k in args.counts:
            for mode in (("default", "share") if r % 2 == 0 else ("share", "default")):
                wall, used = run_group(k, mode, model, paths_file, folder, args.batch_size)
                walls[mode, k].append(wall)
                threads[mode, k] = used
                print(f"  round {r + 1}: {k} x {mode:<7} {wall:7.2f} s  threads per process {used}",
                      file=sys.stderr, flush=True)
    med = {key: statistics.median(v) for key, v in walls.items()}
    best = {key: min(v) for key, v in walls.items()}
    print(f"\n{args.size} model, {args.files} clips ({audio_s:.0f} s of audio) per process, batch "
          f"{args.batch_size}, {available_cores()} cores, {args.rounds} round(s): median wall "
          "[fastest-slowest]; 'vs in turn' = median / (k x median of one process), 'thr' = "
          "intra-op threads each process used")
    print(f"{'processes':>9} | {'default threads':^34} | {'CoreShare':^34} | {'share/default':>13}")
    for k in args.counts:
        row = [f"{k:>9}"]
        for mode in ("default", "share"):
            single = med[mode, args.counts[0]] * k / args.counts[0]
            used = "/".join(str(t) for t in sorted({t for u in threads[mode, k] for t in u}))
            spread = f"[{best[mode, k]:.2f}-{max(walls[mode, k]):.2f}]"
            row.append(f"{med[mode, k]:6.2f} s {spread:>13} {med[mode, k] / single:5.2f}x thr {used}")
        row.append(f"{med['share', k] / med['default', k]:12.2f}x")
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
