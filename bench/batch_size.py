#!/usr/bin/env python3
"""Batch size: same answers, and what batching saves, side by side in one run.

    python bench/batch_size.py --model egs2/geolid/demo1/exp/lid_tiny_geo_raw \
        --scp egs2/geolid/demo1/dump/raw/test/wav.scp \
        --utt2lang egs2/geolid/demo1/dump/raw/test/utt2lang [--sizes 1 8] [--threads 2]

For each batch size: accuracy (through geolid.scoring), top-1 agreement with
the first size, the largest probability difference, and wall time relative to
the first size (GeoLID.predict over the whole set, windows batched by length).
"""
from __future__ import annotations

import argparse
import time
from typing import List, Optional

import numpy as np


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="experiment folder, published layout or .pth")
    ap.add_argument("--scp", required=True, help="wav.scp of the test set")
    ap.add_argument("--utt2lang", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs per size (best is kept)")
    args = ap.parse_args(argv)

    import torch

    from geolid.inference.api import GeoLID
    from geolid.scoring.metrics import score_lids
    from geolid.utils.fileio import read_kaldi_map

    torch.set_num_threads(args.threads)
    keyed = sorted(read_kaldi_map(args.scp).items())
    truth = {k: v.split()[0] for k, v in read_kaldi_map(args.utt2lang).items()}
    lid = GeoLID.from_pretrained(args.model, device=args.device, dtype="float32")
    lid.predict([p for _, p in keyed[:2]], locate=False)  # warm-up
    print(f"{lid}, {len(keyed)} files, {args.threads} threads")
    print(f"{'batch':>5} {'accuracy %':>10} {'agree %':>8} {'max |dp|':>9} {'time s':>7} {'vs first':>8}")
    first = None
    for size in args.sizes:
        best, preds = float("inf"), None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            preds = list(lid.predict_iter(keyed, locate=False, top_k=len(lid.languages),
                                          batch_size=size))
            best = min(best, time.perf_counter() - t0)
        hyp = {p.key: p.language for p in preds}
        probs = {p.key: {s.code: s.probability for s in p.top_k} for p in preds}
        acc = score_lids({k: truth[k] for k in hyp if k in truth}, hyp)["accuracy"]
        if first is None:
            first = (hyp, probs, best)
        agree = np.mean([hyp[k] == first[0][k] for k in hyp])
        dp = max(abs(probs[k][c] - first[1][k][c]) for k in probs for c in probs[k])
        print(f"{size:>5} {100 * acc:>10.1f} {100 * agree:>8.1f} {dp:>9.2e} {best:>7.2f} "
              f"{first[2] / best:>7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
