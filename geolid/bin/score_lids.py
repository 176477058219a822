"""Score one test set (recipe stage 7).

    python -m geolid.bin.score_lids --ref data/<set>/utt2lang \
        --hyp exp/.../<set>_lids --out DIR [--confusion-png FILE] [--name NAME] \
        [--results FILE] [--overall published|test-languages] [--missing error|count] \
        [--results-top N] [--results-incorrect true|false]

Reads Kaldi ``utt iso3`` files, writes ``DIR/score.json`` and ``DIR/score.txt``
(see :mod:`geolid.scoring.report`) and prints the text summary.

Defaults are the published scorer's (ESPnet ``egs2/TEMPLATE/lid1/local/score.py``):
the hypotheses must cover exactly the reference's utterances (a missing or an extra
one is an error naming the file and the utterance), overall precision counts every
wrong hypothesis as a false positive (so it equals accuracy), and ``results`` lists
every error pair and every incorrect utterance. Ours, as options:
``--missing count`` scores a missing hypothesis as an error (label ``<missing>``) and
ignores extra ones; ``--overall test-languages`` takes overall P/R/F1 over the test
set's languages only; ``--results-top N`` / ``--results-incorrect false`` shorten
``results`` for very large sets.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from geolid.scoring.metrics import score_lids
from geolid.scoring.report import (format_score_text, read_label_file, write_espnet_results,
                                   write_score)


def _bool(value: str) -> bool:
    from espnet2.utils.types import str2bool

    return str2bool(value)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.score_lids",
                                 description="Score LID hypotheses against references.")
    ap.add_argument("--ref", required=True, help="reference 'utt iso3' file (utt2lang)")
    ap.add_argument("--hyp", required=True, help="hypothesis 'utt iso3' file (<set>_lids)")
    ap.add_argument("--out", required=True, help="folder for score.json and score.txt")
    ap.add_argument("--confusion-png", default=None, help="also draw the confusion matrix here")
    ap.add_argument("--name", default="", help="title for score.txt (default: the --out folder)")
    ap.add_argument("--top", type=int, default=20, help="how many confusions score.txt lists")
    ap.add_argument("--results", default=None,
                    help="also write ESPnet lid1's 'results' summary here (upstream's lines)")
    ap.add_argument("--overall", choices=("published", "test-languages"), default="published",
                    help="overall P/R/F1: published (every wrong hypothesis is a false positive "
                         "of its label: precision = accuracy) or test-languages (micro over "
                         "the test set's languages)")
    ap.add_argument("--missing", choices=("error", "count"), default="error",
                    help="error (published): hypotheses must cover exactly the reference's "
                         "utterances; count: a missing hypothesis is a wrong answer, extra "
                         "ones are ignored")
    ap.add_argument("--results-top", type=int, default=None, metavar="N",
                    help="results: only the N most frequent error pairs (default: all, published)")
    ap.add_argument("--results-incorrect", type=_bool, default=True, metavar="true|false",
                    help="results: list every incorrect utterance (default true, published)")
    return ap


def check_keys(ref: dict, hyp: dict, ref_path: str, hyp_path: str) -> Optional[str]:
    """Upstream's rule (the keys of both files must match), with the utterance named."""
    missing = [u for u in ref if u not in hyp]
    extra = [u for u in hyp if u not in ref]
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append(f"{hyp_path} has no hypothesis for {len(missing)} utterance(s) of "
                     f"{ref_path}, the first '{missing[0]}'")
    if extra:
        parts.append(f"{hyp_path} has {len(extra)} utterance(s) that {ref_path} lacks, the "
                     f"first '{extra[0]}'")
    return ("; ".join(parts) + ". Re-run inference for the set (stage 6, --force_rerun true), "
            "or pass --missing count to score a missing hypothesis as a wrong answer")


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
    if args.missing == "error":
        problem = check_keys(ref, hyp, args.ref, args.hyp)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    result = score_lids(ref, hyp, top_confusions=args.top,
                        overall=args.overall.replace("-", "_"))
    name = args.name or args.out
    write_score(result, args.out, name)
    if args.results:
        write_espnet_results(args.out, args.results, top_errors=args.results_top,
                             incorrect=args.results_incorrect)
    if args.confusion_png:
        from geolid.plots.confusion import plot_confusion  # matplotlib only when asked
        plot_confusion(result, args.confusion_png, title=name)
    sys.stdout.write(format_score_text(result, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
