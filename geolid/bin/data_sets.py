#!/usr/bin/env python3
"""Set names and derived sets of the staged recipe (``lid.sh`` stages 3, 6 and 8).

    python -m geolid.bin.data_sets check-labels --config CONF DATA_DIR...
    python -m geolid.bin.data_sets check-train-valid --valid DIR [--config CONF] [--merged] TRAIN_DIR...
    python -m geolid.bin.data_sets eval-set TEST TRAIN [--cross true|false]
    python -m geolid.bin.data_sets format-source SET
    python -m geolid.bin.data_sets min-samples-set DATA_FEATS SET
    python -m geolid.bin.data_sets combine OUT_DIR DATA_DIR SET...
    python -m geolid.bin.data_sets single-dataset DATA_DIR
    python -m geolid.bin.data_sets cross-sets DATA_FEATS TRAIN LANG2UTT TEST...
    python -m geolid.bin.data_sets subset-per-lang DATA_DIR N OUT_DIR
    python -m geolid.bin.data_sets class-order --out FILE [--data data] [--ml_superb2 ROOT]
    python -m geolid.bin.data_sets filter-duration DATA_DIR --fs HZ [--min S] [--max S]
    python -m geolid.bin.data_sets stats-cost --config CONF --nj N [--allow true] DATA_DIR...

Each subcommand calls one function of :mod:`geolid.data.prepare` (the one owner of
set names and the combine/cross logic) or of this module.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from espnet2.utils.types import str2bool

from geolid.published import COMBINED_N_LANGUAGES


class RecipeError(RuntimeError):
    pass


def check_labels(config: Path, dirs: Sequence[Path]) -> None:
    """Every label of the training/validation sets must have the config's lang2vec vector.

    Run in stage 3, so an unknown code fails there and on the console, not in the
    stats jobs' logs of stage 4.
    """
    from geolid.data.datadir import read_data_dir
    from geolid.geo.lang2vec_targets import UnknownLanguageError, lang2vec_table

    conf = training_config(config)
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


def training_config(path: Path) -> dict:
    """The run's training config (``--lid_config``), read by the one config reader: a
    missing file, invalid YAML or a non-mapping is a :class:`RecipeError` naming it."""
    from geolid.model.errors import ModelError, read_config

    try:
        return read_config(path)
    except FileNotFoundError:
        raise RecipeError(f"{path} not found: check --lid_config") from None
    except ModelError as e:
        raise RecipeError(str(e)) from None


def _iterators(config: Optional[Path]) -> tuple:
    """(iterator_type, valid_iterator_type) of a config, with ESPnet's defaults."""
    conf = training_config(config) if config is not None else {}
    train = conf.get("iterator_type", "sequence")
    return train, conf.get("valid_iterator_type") or train


def check_train_valid(valid: Path, train: Sequence[Path], config: Optional[Path] = None,
                      merged: bool = False) -> None:
    """Stage 3, before formatting: what stage 5 would fail on, two stages (and hours) later.

    * ``category2utt`` must be next to ``utt2lang`` in every set ESPnet's category
      sampler iterates (the training set when the config's ``iterator_type`` is
      ``category``, the validation set likewise for ``valid_iterator_type``). A
      merged training set (``merged``: ``train`` are its parts) gets it from the merge.
    * every validation language must be a training language (a class of the model).
    """
    from geolid.data.datadir import read_data_dir

    train_iter, valid_iter = _iterators(config)
    needs = [(d, "iterator_type") for d in ([] if merged else list(train)[:1])
             if train_iter == "category"]
    needs += [(valid, "valid_iterator_type")] if valid_iter == "category" else []
    for d, key in needs:
        if not (Path(d) / "category2utt").is_file():
            raise RecipeError(
                f"{d}/category2utt not found: the config's {key}: category samples by it in "
                f"stage 5. It is a copy of lang2utt: `cp {d}/lang2utt {d}/category2utt` "
                "(the published preparation scripts make it), then re-run stage 3")
    train_langs = set()
    for d in train:
        train_langs.update(read_data_dir(d).languages)
    valid_langs = read_data_dir(valid).languages
    extra = [lang for lang in valid_langs if lang not in train_langs]
    if extra:
        what = " + ".join(str(d) for d in train)
        raise RecipeError(
            f"{valid}/utt2lang: {len(extra)} validation language(s) not in the training set "
            f"{what}: {' '.join(extra[:20])}{' ...' if len(extra) > 20 else ''}. The model has "
            "one class per training language, so stage 5 cannot score them: remove them from "
            "the validation set (e.g. `python -m geolid.bin.data_prep prepare cross "
            f"{valid} {list(train)[0]} <new dir>`) or choose another --valid_set")


def stats_cost(config: Path, dirs: Sequence[Path], nj: int, cores: Optional[int] = None,
               limit_hours: float = 1.0, allow: bool = False) -> str:
    """Stage 4 with ``--stats_with_model true``: what running the config's encoder over
    ``dirs`` (their ``utt2num_samples``) on CPU jobs costs, said before it starts.

    Returns the message (printed as a warning); raises :class:`RecipeError` with it
    when the estimate exceeds ``limit_hours`` of wall time here and ``allow`` is false.
    """
    import os

    from geolid.utils import encoder_cost

    conf = training_config(config)
    name, shape = encoder_cost.encoder_of(conf)
    if name is None:
        return ""
    files = [Path(d) / "utt2num_samples" for d in dirs]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise RecipeError(f"{missing[0]} not found: run stage 3 first")
    seconds = encoder_cost.audio_seconds(files)
    fix = ("--stats_with_model false takes the shape files from utt2num_samples in seconds "
           "(what run_voxlingua107_only.sh and run_combined.sh do)")
    if shape is None:
        return (f"WARNING: stage 4 runs the encoder '{name}' over {seconds / 3600:,.1f} h of "
                "audio in CPU jobs; its size is unknown here, so its cost is not estimated "
                f"(MMS-1B: {encoder_cost.MMS1B_S_PER_AUDIO_S * 1000:,.0f} hours per 1,000 h on "
                f"two cores, bench/stats_cost.py). {fix}")
    cores = cores or os.cpu_count() or 1
    est = encoder_cost.stats_cost(shape, seconds, cores, nj)
    msg = (f"stage 4 runs the encoder '{name}' ({shape.hidden} wide, {shape.layers} layers, "
           f"{shape.params / 1e6:,.0f} M parameters) over {est['audio_hours']:,.2f} h of audio "
           f"({', '.join(str(d) for d in dirs)}) in {nj} CPU job(s): about "
           f"{est['hours_per_1000h']:,.0f} hours per 1,000 h of audio on two cores "
           f"(measured at MMS-1B width, bench/stats_cost.py), so about "
           f"{est['two_core_hours']:,.2f} two-core hours, {est['wall_hours']:,.2f} h of wall "
           f"time on this machine's {cores} cores if they scaled perfectly, and "
           f"{est['memory_gb']:,.1f} GB of memory for the {nj} job(s).")
    if est["wall_hours"] > limit_hours and not allow:
        raise RecipeError(f"refused: {msg} Pass --stats_on_cpu_ok true to run it anyway; or "
                          f"{fix}")
    return "WARNING: " + msg if est["wall_hours"] > limit_hours else msg


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
    p = sub.add_parser("check-train-valid"); p.add_argument("--valid", type=Path, required=True)
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--merged", action="store_true", help="TRAIN_DIRs are parts of a merged set")
    p.add_argument("train", type=Path, nargs="+")
    p = sub.add_parser("eval-set"); p.add_argument("test"); p.add_argument("train")
    p.add_argument("--cross", type=str2bool, default=True)
    p = sub.add_parser("format-source"); p.add_argument("set")
    p = sub.add_parser("min-samples-set"); p.add_argument("data_feats"); p.add_argument("set")
    p = sub.add_parser("combine"); p.add_argument("out"); p.add_argument("data_dir")
    p.add_argument("sets", nargs="*", default=list(prepare.TRAIN_SETS))
    p = sub.add_parser("single-dataset"); p.add_argument("data_dir", type=Path)
    p = sub.add_parser("cross-sets"); p.add_argument("data_feats"); p.add_argument("train")
    p.add_argument("train_lang2utt"); p.add_argument("tests", nargs="+")
    p = sub.add_parser("class-order", help="the combined model's class order, from labels only")
    p.add_argument("--out", type=Path, required=True,
                   help="class-order file (the combined config names "
                        "dump/raw/train_all_no_filter_lang/lang2utt)")
    p.add_argument("--data", type=Path, default=Path("data"),
                   help="stage-1 data dirs whose training sets are used when present (default data)")
    p.add_argument("--ml_superb2", type=Path, default=None,
                   help="ML-SUPERB 2.0 local copy: its train/<language>/ folders give that "
                        "corpus's languages when data/train_ml_superb2_lang is absent")
    p = sub.add_parser("filter-duration", help="remove utterances outside (min, max) seconds")
    p.add_argument("data_dir", type=Path); p.add_argument("--fs", type=int, default=16000)
    p.add_argument("--min", type=float, default=None); p.add_argument("--max", type=float, default=None)
    p = sub.add_parser("stats-cost", help="stage 4: the cost of statistics through the model")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--nj", type=int, default=1)
    p.add_argument("--cores", type=int, default=None, help="default: this machine's")
    p.add_argument("--limit-hours", type=float, default=1.0,
                   help="refuse above this estimated wall time (default 1 h)")
    p.add_argument("--allow", type=str2bool, default=False, help="run even above the limit")
    p.add_argument("dirs", type=Path, nargs="+", help="formatted sets (utt2num_samples)")
    p = sub.add_parser("subset-per-lang"); p.add_argument("data_dir", type=Path)
    p.add_argument("n", type=int); p.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    from geolid.data.datadir import DataPrepError

    try:
        if args.cmd == "check-labels":
            check_labels(args.config, args.dirs)
        elif args.cmd == "check-train-valid":
            check_train_valid(args.valid, args.train, args.config, args.merged)
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
        elif args.cmd == "class-order":
            order, origin = prepare.combined_class_order(args.data, args.ml_superb2)
            for name, where in origin.items():
                print(f"{name}: {where}", file=sys.stderr)
            done = prepare.write_class_order(args.out, order)
            note = ""
            if len(order) != COMBINED_N_LANGUAGES:
                note = (f" (the published combined model has {COMBINED_N_LANGUAGES}: check that "
                        "the corpora are complete if it is the one to evaluate)")
            print(f"{args.out}: {done}, {len(order)} languages{note}", file=sys.stderr)
        elif args.cmd == "filter-duration":
            prepare.filter_by_duration(args.data_dir, args.fs, args.min, args.max)
            report = args.data_dir / "removed_by_duration"
            n = len(report.read_text(encoding="utf-8").splitlines()) if report.is_file() else 0
            print(f"{args.data_dir}: {n} utterance(s) outside ({args.min}, {args.max}) s removed"
                  + (f" (listed in {report})" if n else ""), file=sys.stderr)
        elif args.cmd == "stats-cost":
            msg = stats_cost(args.config, args.dirs, args.nj, args.cores, args.limit_hours,
                             args.allow)
            if msg:
                print(msg, file=sys.stderr)
        elif args.cmd == "subset-per-lang":
            subset_per_lang(args.data_dir, args.n, args.out_dir)
    except (RecipeError, DataPrepError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
