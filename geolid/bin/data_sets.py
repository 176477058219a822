#!/usr/bin/env python3
"""Set names and derived sets of the staged recipe (``lid.sh`` stages 3, 6 and 8).

    python -m geolid.bin.data_sets check-labels --config CONF DATA_DIR...
    python -m geolid.bin.data_sets eval-set TEST TRAIN [--cross true|false]
    python -m geolid.bin.data_sets format-source SET
    python -m geolid.bin.data_sets min-samples-set DATA_FEATS SET
    python -m geolid.bin.data_sets combine OUT_DIR DATA_DIR SET...
    python -m geolid.bin.data_sets single-dataset DATA_DIR
    python -m geolid.bin.data_sets cross-sets DATA_FEATS TRAIN LANG2UTT TEST...
    python -m geolid.bin.data_sets subset-per-lang DATA_DIR N OUT_DIR

Each subcommand calls one function of :mod:`geolid.data.prepare` (the one owner of
set names and the combine/cross logic) or of this module.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import yaml
from espnet2.utils.types import str2bool


class RecipeError(RuntimeError):
    pass


def check_labels(config: Path, dirs: Sequence[Path]) -> None:
    """Every label of the training/validation sets must have the config's lang2vec vector.

    Run in stage 3, so an unknown code fails there and on the console, not in the
    stats jobs' logs of stage 4.
    """
    from geolid.data.datadir import read_data_dir
    from geolid.geo.lang2vec_targets import UnknownLanguageError, lang2vec_table

    conf = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    pre = conf.get("preprocessor_conf") or {}
    if not pre.get("use_lang2vec", False):
        return
    aliases = pre.get("lang2vec_aliases") or {}
    kind = pre.get("lang2vec_type", "geo")
    for d in dirs:
        langs = read_data_dir(d).languages
        try:
            lang2vec_table([aliases.get(x, x) for x in langs], kind)
        except UnknownLanguageError as e:
            raise RecipeError(
                f"{d}/utt2lang: languages without a URIEL '{kind}' vector (the geo target):\n"
                f"{e}\nFix the labels in the data preparation, or map them with "
                f"preprocessor_conf.lang2vec_aliases {{label: code}} in {config}") from None


def subset_per_lang(data_dir: Path, n: int, out_dir: Path) -> Path:
    """The first ``n`` utterances of each language (sorted ids), for the t-SNE plot."""
    from geolid.data.datadir import read_data_dir, write_data_dir
    from geolid.utils.fileio import read_kaldi_map, write_kaldi_map

    data = read_data_dir(data_dir)
    keep = [u for utts in data.lang2utt().values() for u in sorted(utts)[:n]]
    out = write_data_dir(out_dir, data.subset(keep))
    if (data_dir / "utt2num_samples").is_file():
        kept = set(keep)
        write_kaldi_map(out / "utt2num_samples", {u: v for u, v in read_kaldi_map(
            data_dir / "utt2num_samples").items() if u in kept})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    from geolid.data import prepare

    ap = argparse.ArgumentParser(prog="python -m geolid.bin.data_sets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check-labels"); p.add_argument("--config", type=Path, required=True)
    p.add_argument("dirs", type=Path, nargs="+")
    p = sub.add_parser("eval-set"); p.add_argument("test"); p.add_argument("train")
    p.add_argument("--cross", type=str2bool, default=True)
    p = sub.add_parser("format-source"); p.add_argument("set")
    p = sub.add_parser("min-samples-set"); p.add_argument("data_feats"); p.add_argument("set")
    p = sub.add_parser("combine"); p.add_argument("out"); p.add_argument("data_dir")
    p.add_argument("sets", nargs="*", default=list(prepare.TRAIN_SETS))
    p = sub.add_parser("single-dataset"); p.add_argument("data_dir", type=Path)
    p = sub.add_parser("cross-sets"); p.add_argument("data_feats"); p.add_argument("train")
    p.add_argument("train_lang2utt"); p.add_argument("tests", nargs="+")
    p = sub.add_parser("subset-per-lang"); p.add_argument("data_dir", type=Path)
    p.add_argument("n", type=int); p.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    from geolid.data.datadir import DataPrepError

    try:
        if args.cmd == "check-labels":
            check_labels(args.config, args.dirs)
        elif args.cmd == "eval-set":
            print(prepare.eval_set_name(args.test, args.train, args.cross))
        elif args.cmd == "format-source":
            print(prepare.format_source(args.set))
        elif args.cmd == "min-samples-set":
            prepare.make_min_samples_set(args.data_feats, args.set)
        elif args.cmd == "combine":
            prepare.make_combined(args.data_dir, args.out, args.sets)
        elif args.cmd == "single-dataset":
            prepare.write_single_dataset(args.data_dir)
        elif args.cmd == "cross-sets":
            prepare.make_cross_sets(args.data_feats, args.train, args.tests, args.train_lang2utt)
        elif args.cmd == "subset-per-lang":
            subset_per_lang(args.data_dir, args.n, args.out_dir)
    except (RecipeError, DataPrepError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
