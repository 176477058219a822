"""The ``geolid`` console script.

    geolid predict FILE_OR_DIR... [--model M] [--top-k 5] [--format table|json|jsonl|tsv]
    geolid predict --scp wav.scp --out results.jsonl        # resumable
    geolid languages [--model M] [--format table|json|tsv]
    geolid enroll --model M --out DIR FOLDER                 # add languages from clips
    geolid download REPO_ID [--local-dir DIR]
    geolid export MODEL --out DIR [--quantize int8]          # ONNX Runtime on CPU
    geolid prepare ...                                       # corpus preparation
    geolid serve --model M [--port 8000]                     # HTTP service (docs/serve.md)

Start-up is kept light: this module and the parsers import neither torch nor
ESPnet; ``predict`` loads them only once the inputs are checked. Exit status: 0
success, 1 some inputs failed (listed on stderr), 2 usage/model errors.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import List, Optional, Tuple

from geolid.cli.output_store import OutputRefused
from geolid.cli.predict import EXIT_OK, EXIT_USAGE, UsageError, add_predict_parser


def _add_languages_parser(sub) -> None:
    import os

    from geolid.published import DEFAULT_MODEL

    p = sub.add_parser("languages", help="list the languages a model knows (class order)",
                       description="List a model's languages: class index, ISO 639-3 code, name.")
    p.add_argument("--model", default=os.environ.get("GEOLID_MODEL", DEFAULT_MODEL),
                   help="repo id or folder (default: $GEOLID_MODEL or %(default)s)")
    p.add_argument("--revision", help="Hub revision of --model")
    p.add_argument("--format", choices=("table", "json", "tsv"), default="table")
    p.set_defaults(func=run_languages)


def _add_download_parser(sub) -> None:
    p = sub.add_parser("download", help="fetch a published model from the Hugging Face Hub",
                       description="Download a model repository (config, weights, lang2utt) "
                                   "into the Hugging Face cache or --local-dir.")
    p.add_argument("repo_id", help="e.g. espnet/geolid_combined_shared_trainable")
    p.add_argument("--local-dir", help="download into this folder instead of the HF cache")
    p.add_argument("--revision", help="branch, tag or commit")
    p.set_defaults(func=run_download)


def run_languages(args) -> int:
    from geolid.model.folder import model_languages
    from geolid.inference.results import language_name

    # Published models list their shipped class order: no download, works offline.
    languages, origin = model_languages(args.model, revision=args.revision)
    rows = [(i, code, language_name(code)) for i, code in enumerate(languages)]
    if args.format == "json":
        json.dump({"model": args.model, "languages": [{"index": i, "code": c, "name": n}
                                                      for i, c, n in rows]},
                  sys.stdout, ensure_ascii=False, indent=1)
        print()
    elif args.format == "tsv":
        print("index\tcode\tname")
        for r in rows:
            print("\t".join(map(str, r)))
    else:
        for i, c, n in rows:
            print(f"{i:>4}  {c:<8} {n}")
        print(f"# {len(rows)} languages ({origin})", file=sys.stderr)
    return EXIT_OK


def run_download(args) -> int:
    from geolid.model.hub import download

    path = download(args.repo_id, revision=args.revision, local_dir=args.local_dir)
    print(path)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geolid", description="Geolocation-aware spoken language identification: "
                                   "which language is spoken, and where it is spoken.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_predict_parser(sub)
    from geolid.cli.enroll import add_enroll_parser  # enroll hook (geolid/cli/enroll.py)
    add_enroll_parser(sub)
    _add_languages_parser(sub)
    _add_download_parser(sub)
    from geolid.export.cli import add_export_parser  # import-light: onnx loads on use
    add_export_parser(sub)
    from geolid.cli.prepare import add_prepare_subcommands  # import-light: corpora load on use
    add_prepare_subcommands(sub)
    from geolid.cli.serve import add_serve_parser  # import-light: FastAPI/uvicorn load on use
    add_serve_parser(sub)
    return parser


def _version() -> str:
    from geolid import __version__

    return f"geolid {__version__}"


def _is_model_file_error(e: BaseException) -> bool:
    """A checkpoint error (a bad weights file, exit 2). Checked by module, so that
    commands which never load torch do not import it."""
    loaded = sys.modules.get("geolid.tasks.checkpoint")
    return loaded is not None and isinstance(e, loaded.CheckpointError)


def _verbose_anywhere(argv: List[str]) -> Tuple[List[str], bool]:
    """``-v``/``--verbose`` is accepted anywhere on the command line (errors say "details
    with -v" whatever the subcommand), not only before it."""
    rest = [a for a in argv if a not in ("-v", "--verbose")]
    return rest, len(rest) != len(argv)


def main(argv: Optional[List[str]] = None) -> int:
    argv, verbose = _verbose_anywhere(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    args.verbose = args.verbose or verbose
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "prepare":
        from geolid.cli.prepare import run_prepare

        return run_prepare(args)
    from geolid.audio import AudioError
    from geolid.model.errors import ModelError, ModelNotFoundError

    try:
        return args.func(args)
    except ModelError as e:
        if args.verbose:
            logging.getLogger("geolid").debug("details:\n%s", e.details or "", exc_info=True)
        print(f"geolid {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, ModelNotFoundError, AudioError, OutputRefused) as e:
        print(f"geolid {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as e:
        if not _is_model_file_error(e):
            raise
        print(f"geolid {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"geolid {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a disk that fills up, a folder that vanishes mid-run, ...
        if args.verbose:
            raise
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"geolid {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug: one line, the traceback with -v
        if args.verbose:
            raise
        first = (str(e).strip().splitlines() or [""])[0][:300]
        print(f"geolid {args.command}: internal error: {type(e).__name__}: {first} (rerun with -v "
              "for the traceback, and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
