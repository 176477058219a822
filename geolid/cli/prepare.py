"""``geolid prepare ...``: corpus preparation commands, one per plain function.

Each command mirrors one function of :mod:`geolid.data` (Lhotse-style: the corpus
preparation is a library of plain functions, the CLI only parses arguments):

    geolid prepare voxlingua107 ROOT OUT       geolid.data.corpora.voxlingua107.prepare_voxlingua107
    geolid prepare fleurs ROOT OUT             geolid.data.corpora.fleurs.prepare_fleurs
    geolid prepare ml_superb2 ROOT OUT         geolid.data.corpora.ml_superb2.prepare_ml_superb2
    geolid prepare voxpopuli ROOT OUT          geolid.data.corpora.voxpopuli.prepare_voxpopuli
    geolid prepare babel ROOT OUT              geolid.data.corpora.babel.prepare_babel
    geolid prepare combine OUT DIR...          geolid.data.datadir.combine_data_dirs
    geolid prepare cross TEST TRAIN OUT        geolid.data.datadir.filter_to_languages
    geolid prepare validate DIR...             geolid.data.datadir.validate_data_dir

``python -m geolid.bin.data_prep prepare ...`` (the recipe's entry point) mounts the
same parsers. Import-light: the library modules load when a command runs.
"""
from __future__ import annotations

import argparse
import sys


def _voxlingua107(args) -> None:
    from geolid.data.corpora.voxlingua107 import prepare_voxlingua107
    _report(prepare_voxlingua107(args.root, args.out))


def _fleurs(args) -> None:
    from geolid.data.corpora.fleurs import prepare_fleurs
    _report(prepare_fleurs(args.root, args.out, languages=args.languages,
                           download=args.download, revision=args.revision))


def _ml_superb2(args) -> None:
    from geolid.data.corpora.ml_superb2 import prepare_ml_superb2
    _report(prepare_ml_superb2(args.root, args.out, download=args.download,
                               splits=args.splits, revision=args.revision))


def _voxpopuli(args) -> None:
    from geolid.data.corpora.voxpopuli import prepare_voxpopuli
    _report(prepare_voxpopuli(args.root, args.out, languages=args.languages,
                              quoting=args.quoting))


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
    p.add_argument("--splits", nargs="+", choices=["train", "dev", "dev_dialect"],
                   help="default: those the local copy has (all three with --download)")
    p.add_argument("--download", action="store_true",
                   help="fetch missing splits from the Hugging Face Hub (espnet/ml_superb_hf; "
                        "needs pyarrow)")
    p.add_argument("--revision", help="Hub revision to download")
    p = corpus("voxpopuli", _voxpopuli, "VoxPopuli -> train/dev/test _voxpopuli_lang",
               "folder holding _transcribed_data/<lang>/asr_{train,dev}.tsv")
    p.add_argument("--languages", nargs="+", metavar="LANG", help="VoxPopuli codes (default: 16)")
    p.add_argument("--quoting", choices=("default", "none"), default="default",
                   help="TSV quoting: default (csv's default, as the published pandas.read_csv) "
                        "or none (every line one row; an unclosed quote cannot swallow rows)")
    p = corpus("babel", _babel, "Babel -> train/dev _babel_lang (the >= 10 s sets are made "
                                 "after formatting, by lid.sh stage 3)",
               "folder holding BABEL_<id>/conversational/{training,dev}")
    p.add_argument("--min-duration", type=float, default=None,
                   help="early cut on the time marks, in seconds (default none; the published "
                        "10 s rule is applied to the 16 kHz sample count after formatting)")
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


def run_prepare(args) -> int:
    """Run a parsed ``prepare`` command; data errors print one line and return 1."""
    from geolid.data.datadir import DataPrepError
    from geolid.utils.jobs import KaldiFileError

    try:
        return args.func(args) or 0
    except (DataPrepError, KaldiFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
