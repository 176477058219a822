#!/usr/bin/env python3
"""Synthesise the espeak-ng multilingual demo corpus (see :mod:`geolid_demo.corpus`).

    python -m geolid_demo.make_corpus OUT [--n-train N] [--n-dev N] [--n-test N]
                                         [--languages eng,fra,...] [--small] [--quiet]
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from geolid_demo.corpus import (DEMO_LANGUAGES, SMALL_LANGUAGES, SMALL_SIZES, VOICE_PLANS,
                                make_demo_corpus)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m geolid_demo.make_corpus OUT [--n-train N] [--n-dev N] [--n-test N] ...``"""
    parser = argparse.ArgumentParser(
        prog="python -m geolid_demo.make_corpus",
        description="Synthesise the espeak-ng multilingual demo corpus (Kaldi data dirs).")
    parser.add_argument("out", help="output folder (wav/ and data/ are created inside)")
    parser.add_argument("--n-train", type=int, default=None, help="train clips per language (60)")
    parser.add_argument("--n-dev", type=int, default=None, help="dev clips per language (10)")
    parser.add_argument("--n-test", type=int, default=None,
                        help="test (and accent test) clips per language (20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--languages", default=None,
                        help=f"comma-separated ISO 639-3 codes (default: {','.join(DEMO_LANGUAGES)}; "
                             f"also available: {','.join(sorted(set(VOICE_PLANS) - set(DEMO_LANGUAGES)))})")
    parser.add_argument("--small", action="store_true",
                        help=f"CI size: {','.join(SMALL_LANGUAGES)} with "
                             f"{'/'.join(str(n) for n in SMALL_SIZES.values())} train/dev/test clips each")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    sizes = dict(SMALL_SIZES) if args.small else \
        {"n_train_per_lang": 60, "n_dev_per_lang": 10, "n_test_per_lang": 20}
    for key, value in (("n_train_per_lang", args.n_train), ("n_dev_per_lang", args.n_dev),
                       ("n_test_per_lang", args.n_test)):
        if value is not None:
            sizes[key] = value
    languages = args.languages.split(",") if args.languages else \
        (list(SMALL_LANGUAGES) if args.small else None)
    try:
        summary = make_demo_corpus(args.out, seed=args.seed, languages=languages,
                                   progress=not args.quiet, **sizes)
    except ValueError as e:
        parser.error(str(e))
    print(json.dumps({k: summary[k] for k in ("out_dir", "num_utts", "synthesized", "skipped",
                                              "seconds", "seconds_per_clip", "audio_seconds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
