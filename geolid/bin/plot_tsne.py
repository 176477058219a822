#!/usr/bin/env python3
"""t-SNE plots of language embeddings written by inference (``SET_lang_to_embds.npz``).

    python -m geolid.bin.plot_tsne --embeddings SET_lang_to_embds.npz --out tsne.png \
        [--out-avg tsne_avg.png] [--max-per-lang 200] [--perplexity 30] [--max-iter 1000] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.plot_tsne", description=__doc__)
    ap.add_argument("--embeddings", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--out-avg", type=Path, default=None)
    ap.add_argument("--max-per-lang", type=int, default=200, help="subsample for speed")
    ap.add_argument("--perplexity", type=float, default=30.0)
    ap.add_argument("--max-iter", type=int, default=1000, help="t-SNE iterations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--title", default=None)
    args = ap.parse_args(argv)
    if not args.embeddings.is_file():
        print(f"error: {args.embeddings} not found: run inference with --extract_embd true", file=sys.stderr)
        return 2
    from geolid.plots.tsne import plot_language_averages, plot_tsne

    rng = np.random.default_rng(args.seed)
    data = {}
    for lang, e in np.load(args.embeddings).items():
        if len(e):
            keep = rng.permutation(len(e))[: args.max_per_lang]
            data[lang] = np.asarray(e)[np.sort(keep)]
    if not data:
        print(f"error: {args.embeddings} holds no embeddings", file=sys.stderr)
        return 2
    plot_tsne(data, args.out, seed=args.seed, perplexity=args.perplexity, title=args.title,
              max_iter=args.max_iter)
    if args.out_avg is not None and len(data) > 2:
        plot_language_averages(data, args.out_avg, seed=args.seed, perplexity=args.perplexity,
                               title=args.title and f"{args.title} (language averages)",
                               max_iter=args.max_iter)
    print(f"wrote {args.out}" + (f" and {args.out_avg}" if args.out_avg else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
