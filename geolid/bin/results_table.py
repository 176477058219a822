"""Gather the ``score.json`` files of several systems into a markdown table.

    python -m geolid.bin.results_table --exp-dirs exp_a exp_b [--sets s1 s2 ...] \
        [--names s1=VL107 s2=Babel] --out RESULTS.md

Each experiment folder is one row (its folder name); each folder holding a
``score.json`` below it is one test set (column). ``macro`` = mean over the sets.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from geolid.scoring.report import gather_scores, results_table
from geolid.utils.fileio import atomic_write


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.results_table", description=__doc__.splitlines()[0])
    ap.add_argument("--exp-dirs", nargs="+", required=True, help="one folder per system")
    ap.add_argument("--sets", nargs="*", default=None, help="test sets (columns) in this order")
    ap.add_argument("--names", nargs="*", default=[], help="column renames: set=Title")
    ap.add_argument("--out", default=None, help="markdown file to write (default: stdout only)")
    args = ap.parse_args(argv)
    names = {}
    for item in args.names:
        key, sep, title = item.partition("=")
        if not sep:
            print(f"error: --names expects set=Title, got '{item}'", file=sys.stderr)
            return 2
        names[key] = title
    try:
        rows = gather_scores(args.exp_dirs)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    table = results_table(rows, columns=args.sets or None, column_names=names)
    if args.out:
        with atomic_write(args.out) as f:
            f.write(table)
    sys.stdout.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
