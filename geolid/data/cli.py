"""``prepare`` subcommands: one per corpus function, plus combine, cross, validate.

Usage (standalone)::

    python -m geolid.data.cli prepare voxlingua107 ROOT OUT
    python -m geolid.data.cli prepare fleurs ROOT OUT [--languages en_us ...] [--download]
    python -m geolid.data.cli prepare ml_superb2 ROOT OUT [--splits ...] [--download]
    python -m geolid.data.cli prepare voxpopuli ROOT OUT [--languages de ...]
    python -m geolid.data.cli prepare babel ROOT OUT [--min-duration 10] [--sph2pipe PATH]
    python -m geolid.data.cli prepare combine OUT DIR [DIR ...] [--names NAME ...]
    python -m geolid.data.cli prepare cross TEST_DIR TRAIN OUT
    python -m geolid.data.cli prepare validate DIR [DIR ...] [--check-audio]

Each subcommand calls exactly one library function; nothing heavy is imported
until a subcommand runs.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional


def _voxlingua107(args) -> None:
    from geolid.data.corpora.voxlingua107 import prepare_voxlingua107
    _report(prepare_voxlingua107(args.root, args.out))


def _fleurs(args) -> None:
    from geolid.data.corpora.fleurs import prepare_fleurs
    _report(prepare_fleurs(args.root, args.out, languages=args.languages,
                           download=args.download, revision=args.revision))


def _ml_superb2(args) -> None:
    from geolid.data.corpora.ml_superb2 import SPLITS, prepare_ml_superb2
    _report(prepare_ml_superb2(args.root, args.out, download=args.download,
                               splits=args.splits or tuple(SPLITS), revision=args.revision))


def _voxpopuli(args) -> None:
    from geolid.data.corpora.voxpopuli import prepare_voxpopuli
    _report(prepare_voxpopuli(args.root, args.out, languages=args.languages))


def _babel(args) -> None:
    from geolid.data.corpora.babel import prepare_babel
    _report(prepare_babel(args.root, args.out, min_duration=args.min_duration,
                          sph2pipe=args.sph2pipe, babel_ids=args.ids))


def _combine(args) -> None:
    from geolid.data.datadir import combine_data_dirs
    _report([combine_data_dirs(args.dirs, args.out, dataset_names=args.names)])


def _cross(args) -> None:
    from geolid.data.datadir import filter_to_languages
    _report([filter_to_languages(args.test_dir, args.out, args.train)])


def _validate(args) -> None:
    from geolid.data.datadir import validate_data_dir
    for d in args.dirs:
        data = validate_data_dir(d, check_audio=args.check_audio)
        print(f"{d}: OK ({len(data.utt2lang)} utterances, {len(data.languages)} languages)")


def _report(paths) -> None:
    for p in paths:
        print(p)


def add_prepare_subcommands(subparsers) -> argparse.ArgumentParser:
    """Register ``prepare <corpus|combine|cross|validate>`` on an argparse subparsers object.

    Each leaf parser sets ``func`` (called with the parsed args). Returns the
    ``prepare`` parser.
    """
    prep = subparsers.add_parser("prepare", help="corpus preparation (Kaldi data dirs)",
                                 description="Prepare Kaldi-style data directories.")
    sub = prep.add_subparsers(dest="prepare_command", metavar="{voxlingua107,fleurs,"
                              "ml_superb2,voxpopuli,babel,combine,cross,validate}")
    sub.required = True

    def corpus(name, func, help_, root_help):
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("root", help=root_help)
        p.add_argument("out", help="folder the data directories are written into (e.g. data)")
        p.set_defaults(func=func)
        return p

    corpus("voxlingua107", _voxlingua107,
           "VoxLingua107 -> train_voxlingua107_lang, dev_voxlingua107_lang",
           "VoxLingua107 folder: ROOT/<lang>/*.wav and ROOT/dev/<lang>/*.wav")
    p = corpus("fleurs", _fleurs, "FLEURS -> train_fleurs_lang, test_fleurs_lang",
               "raw FLEURS copy: ROOT/<id>/{train,test}.tsv, ROOT/<id>/audio/<split>/*.wav")
    p.add_argument("--languages", nargs="+", metavar="ID", help="FLEURS ids (default: all found)")
    p.add_argument("--download", action="store_true",
                   help="fetch missing languages from the Hugging Face Hub (google/fleurs)")
    p.add_argument("--revision", help="Hub revision to download")
    p = corpus("ml_superb2", _ml_superb2,
               "ML-SUPERB 2.0 -> train/dev/dev_dialect _ml_superb2_lang",
               "local copy: ROOT/<split>/<language>/<id>.wav")
    p.add_argument("--splits", nargs="+", choices=["train", "dev", "dev_dialect"])
    p.add_argument("--download", action="store_true",
                   help="fetch missing splits from the Hugging Face Hub (espnet/ml_superb_hf; "
                        "needs pyarrow)")
    p.add_argument("--revision", help="Hub revision to download")
    p = corpus("voxpopuli", _voxpopuli, "VoxPopuli -> train_voxpopuli_lang, test_voxpopuli_lang",
               "folder holding _transcribed_data/<lang>/asr_{train,dev}.tsv")
    p.add_argument("--languages", nargs="+", metavar="LANG", help="VoxPopuli codes (default: 16)")
    p = corpus("babel", _babel, "Babel -> train/dev _babel_over_10s_lang",
               "folder holding BABEL_<id>/conversational/{training,dev}")
    p.add_argument("--min-duration", type=float, default=10.0,
                   help="keep segments at least this long, in seconds (default 10)")
    p.add_argument("--sph2pipe", help="sph2pipe binary: write piped wav.scp commands "
                                      "(needed for shorten-compressed .sph)")
    p.add_argument("--ids", nargs="+", metavar="ID", help="Babel ids, e.g. 101 (default: all)")

    p = sub.add_parser("combine", help="merge data dirs, writing utt2dataset/dataset2utt")
    p.add_argument("out", help="output data directory (e.g. data/train_all_no_filter_lang)")
    p.add_argument("dirs", nargs="+", help="input data directories")
    p.add_argument("--names", nargs="+", help="dataset names (default: folder names)")
    p.set_defaults(func=_combine)

    p = sub.add_parser("cross", help="cut a test set down to a training set's languages")
    p.add_argument("test_dir", help="test data directory")
    p.add_argument("train", help="training data directory (or its lang2utt file)")
    p.add_argument("out", help="output data directory (<test>_cross_<train>)")
    p.set_defaults(func=_cross)

    p = sub.add_parser("validate", help="check data directories")
    p.add_argument("dirs", nargs="+", help="data directories")
    p.add_argument("--check-audio", action="store_true",
                   help="also check that every audio file exists and is readable")
    p.set_defaults(func=_validate)
    return prep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m geolid.data.cli",
                                     description="geolid corpus preparation")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    add_prepare_subcommands(sub)
    return parser


def run(args) -> int:
    """Run a parsed ``prepare`` command; data errors print a message and return 1."""
    from geolid.data.datadir import DataPrepError

    try:
        args.func(args)
    except DataPrepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
