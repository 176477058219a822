"""Data-directory jobs of the recipe: corpus preparation, perturbation, format, job splits.

``prepare`` is ``geolid prepare`` (parsers and runner in :mod:`geolid.cli.prepare`,
mounted here unchanged). Usage (standalone)::

    python -m geolid.bin.data_prep prepare voxlingua107 ROOT OUT
    python -m geolid.bin.data_prep prepare fleurs ROOT OUT [--languages en_us ...] [--download]
    python -m geolid.bin.data_prep prepare ml_superb2 ROOT OUT [--splits ...] [--download]
    python -m geolid.bin.data_prep prepare voxpopuli ROOT OUT [--languages de ...]
    python -m geolid.bin.data_prep prepare babel ROOT OUT [--min-duration S] [--sph2pipe PATH]
    python -m geolid.bin.data_prep prepare combine OUT DIR [DIR ...] [--names NAME ...]
    python -m geolid.bin.data_prep prepare cross TEST_DIR TRAIN OUT
    python -m geolid.bin.data_prep prepare validate DIR [DIR ...] [--check-audio]
    python -m geolid.bin.data_prep speed-perturb SRC DST [--factors 0.9 1.0 1.1]
    python -m geolid.bin.data_prep format SRC DST [--audio-dir D] [--fs 16000]
                                     [--audio-format wav|flac] [--nj N] [--skip-bad]
                                     [--multi-columns-input true|false]
                                     [--multi-columns-output true|false]
    python -m geolid.bin.data_prep split-scp SCP N OUT_DIR
    python -m geolid.bin.data_prep merge FILE [FILE ...] --out OUT
    python -m geolid.bin.data_prep split-data DATA_DIR N OUT_DIR
    python -m geolid.bin.data_prep is-subset DATA_DIR LANG2UTT     # exit 1: extra languages

Each subcommand calls exactly one library function; nothing heavy is imported
until a subcommand runs.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from geolid.cli.prepare import add_prepare_subcommands, run_prepare


def str2bool(value: str) -> bool:
    """ESPnet's ``str2bool``, imported when an option is parsed (this module stays light)."""
    from espnet2.utils.types import str2bool as espnet_str2bool

    return espnet_str2bool(value)


def _report(paths) -> None:
    for p in paths:
        print(p)


def _speed_perturb(args) -> None:
    from geolid.data.speed_perturb import speed_perturb_data_dir
    _report([speed_perturb_data_dir(args.src, args.dst, factors=args.factors)])


def _format(args) -> None:
    from geolid.data.format import format_data_dir
    _report([format_data_dir(args.src, args.dst, audio_dir=args.audio_dir, sample_rate=args.fs,
                             audio_format=args.audio_format, nj=args.nj,
                             progress=not args.no_progress, skip_bad=args.skip_bad,
                             multi_columns_input=args.multi_columns_input,
                             multi_columns_output=args.multi_columns_output)])


def _split_scp(args) -> None:
    from geolid.utils.jobs import split_scp
    _report(split_scp(args.scp, args.n, args.out_dir))


def _merge(args) -> None:
    from geolid.utils.jobs import merge_kaldi_files
    _report([merge_kaldi_files(args.files, args.out)])


def _split_data(args) -> None:
    from geolid.data.split import split_data_dir
    _report(split_data_dir(args.data_dir, args.n, args.out_dir))


def languages_of(path) -> List[str]:
    """Languages of a data dir (its utt2lang) or of a lang2utt file, in order."""
    from pathlib import Path

    from geolid.languages import read_class_order
    from geolid.utils.fileio import read_kaldi_lines

    path = Path(path)
    if path.is_dir():
        return sorted({lang for _, _, lang in read_kaldi_lines(path / "utt2lang")})
    return read_class_order(path)


def _is_subset(args) -> int:
    extra = sorted(set(languages_of(args.data_dir)) - set(languages_of(args.lang2utt)))
    if extra:
        print(f"{args.data_dir}: languages not in training: {' '.join(extra)}", file=sys.stderr)
        return 1
    return 0


def add_dump_subcommands(subparsers) -> None:
    """Register ``speed-perturb``, ``format``, ``split-scp`` and ``merge`` (recipe stages 2-3
    and job splitting); each leaf parser sets ``func``."""
    p = subparsers.add_parser("speed-perturb", help="stage 2: speed-perturbed copies of a data dir",
                              description="Copy every utterance once per speed factor; ids get "
                                          "_sp<factor> (factor 1.0 keeps the id). The audio is "
                                          "changed later, by `format`.")
    p.add_argument("src", help="input data directory")
    p.add_argument("dst", help="output data directory (e.g. data/<set>_sp)")
    p.add_argument("--factors", nargs="+", type=float, default=[0.9, 1.0, 1.1], metavar="F",
                   help="speed factors (default: 0.9 1.0 1.1)")
    p.set_defaults(func=_speed_perturb)

    p = subparsers.add_parser("format", help="stage 3: write mono 16-bit audio + utt2num_samples",
                              description="Resolve segments, downmix, resample and write one "
                                          "audio file per utterance; resumable.")
    p.add_argument("src", help="input data directory (wav.scp, optional segments)")
    p.add_argument("dst", help="output data directory (e.g. dump/raw/<set>)")
    p.add_argument("--audio-dir", help="where the audio files go (default: DST/data)")
    p.add_argument("--fs", type=int, default=16000, help="sample rate in Hz (default 16000)")
    p.add_argument("--audio-format", choices=["wav", "flac"], default="wav")
    p.add_argument("--nj", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--skip-bad", action="store_true",
                   help="leave unreadable utterances out (listed in DST/format_errors) instead "
                        "of failing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--multi-columns-input", type=str2bool, default=False, metavar="true|false",
                   help="wav.scp values list one file per channel group (utt a.wav b.wav), "
                        "concatenated along channels, as ESPnet's format_wav_scp")
    p.add_argument("--multi-columns-output", type=str2bool, default=False, metavar="true|false",
                   help="keep the channels, one mono file each (<utt>-CH<c>.wav), listed as "
                        "wav.scp columns, as ESPnet's format_wav_scp (default: downmix to mono)")
    p.set_defaults(func=_format)

    p = subparsers.add_parser("split-scp", help="split a Kaldi file into N contiguous parts",
                              description="Write OUT_DIR/keys.1.scp .. keys.N.scp (fewer when "
                                          "the file has fewer lines) and print their paths.")
    p.add_argument("scp", help="Kaldi file (key value per line)")
    p.add_argument("n", type=int, help="number of parts")
    p.add_argument("out_dir", help="output folder")
    p.set_defaults(func=_split_scp)

    p = subparsers.add_parser("merge", help="merge per-job Kaldi files (sorted, unique keys)")
    p.add_argument("files", nargs="+", help="input files")
    p.add_argument("--out", required=True, help="merged output file")
    p.set_defaults(func=_merge)

    p = subparsers.add_parser("split-data", help="split a data dir into N per-job data dirs",
                              description="Write OUT_DIR/<k>/<set>/{wav.scp,utt2lang,...} for "
                                          "k = 1..N (parallel inference) and print them.")
    p.add_argument("data_dir", help="data directory (wav.scp, utt2lang)")
    p.add_argument("n", type=int, help="number of jobs")
    p.add_argument("out_dir", help="output folder")
    p.set_defaults(func=_split_data)

    p = subparsers.add_parser("is-subset", help="exit 1 if a data dir has languages a model lacks",
                              description="Compare a data dir's languages with a training "
                                          "lang2utt; list the extra ones on stderr.")
    p.add_argument("data_dir", help="data directory (its utt2lang)")
    p.add_argument("lang2utt", help="training lang2utt (class order)")
    p.set_defaults(func=_is_subset)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m geolid.bin.data_prep",
                                     description="geolid corpus preparation")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    add_prepare_subcommands(sub)
    add_dump_subcommands(sub)
    return parser


def run(args) -> int:
    """Run a parsed command; data errors print a message and return 1."""
    return run_prepare(args)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
