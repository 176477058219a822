"""Score one test set (recipe stage 7).

    python -m geolid.bin.score_lids --ref data/<set>/utt2lang \
        --hyp exp/.../<set>_lids --out DIR [--confusion-png FILE] [--name NAME]

Reads Kaldi ``utt iso3`` files, writes ``DIR/score.json`` and ``DIR/score.txt``
(see :mod:`geolid.scoring.report`) and prints the text summary.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from geolid.scoring.metrics import score_lids
from geolid.scoring.report import (format_score_text, read_label_file, write_espnet_results,
                                   write_score)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.score_lids",
                                 description="Score LID hypotheses against references.")
    ap.add_argument("--ref", required=True, help="reference 'utt iso3' file (utt2lang)")
    ap.add_argument("--hyp", required=True, help="hypothesis 'utt iso3' file (<set>_lids)")
    ap.add_argument("--out", required=True, help="folder for score.json and score.txt")
    ap.add_argument("--confusion-png", default=None, help="also draw the confusion matrix here")
    ap.add_argument("--name", default="", help="title for score.txt (default: the --out folder)")
    ap.add_argument("--top", type=int, default=20, help="how many confusions to list")
    ap.add_argument("--results", default=None,
                    help="also write ESPnet lid1's 'results' summary here (same lines as upstream)")
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        ref = read_label_file(args.ref)
        hyp = read_label_file(args.hyp)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not ref:
        print(f"error: {args.ref}: no utterances; check the data folder", file=sys.stderr)
        return 2
    result = score_lids(ref, hyp, top_confusions=args.top)
    name = args.name or args.out
    write_score(result, args.out, name)
    if args.results:
        write_espnet_results(args.out, args.results)
    if args.confusion_png:
        from geolid.plots.confusion import plot_confusion  # matplotlib only when asked
        plot_confusion(result, args.confusion_png, title=name)
    sys.stdout.write(format_score_text(result, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
