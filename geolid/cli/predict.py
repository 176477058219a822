"""``geolid predict``: inputs -> predictions, in a chosen format, resumable to JSONL.

Inputs are files, folders (searched recursively for audio) or a Kaldi ``wav.scp``.
With ``--out results.jsonl`` each record is appended and flushed as its chunk of
inputs finishes; a rerun skips the keys already there. What is resumed, repaired
or refused, and the lock against concurrent runs: :mod:`geolid.cli.output_store`.
Bad inputs are recorded (``error``),
the run goes on, and they are listed on stderr at the end (exit status 1).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from geolid.cli.formats import FORMATS, Writer, format_for_path
from geolid.cli.model_options import add_model_options, add_runtime_options
from geolid.cli.output_store import OutputStore
from geolid.inference.results import Prediction
from geolid.model.errors import ModelError, ModelNotFoundError

EXIT_OK, EXIT_FAILED_INPUTS, EXIT_USAGE = 0, 1, 2
ENGINES = ("single", "ray")
RAY_FLAGS = (("actors", "--actors"), ("ray_address", "--ray-address"),
             ("gpus_per_actor", "--gpus-per-actor"), ("cpus_per_actor", "--cpus-per-actor"))


class UsageError(Exception):
    """A problem with the command line or the files it names."""


def add_predict_parser(sub) -> None:

    p = sub.add_parser(
        "predict", help="language, top-k probabilities and location of audio files",
        description="Identify the language of audio files: top-k languages with probabilities, "
                    "the predicted geo vector decoded to a latitude/longitude, optional per-window "
                    "segments for long files. See docs/cli.md for the output schema.")
    p.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR",
                   help="audio files, or folders searched recursively for audio")
    p.add_argument("--scp", help="Kaldi wav.scp ('key path' per line) to read inputs from")
    p.add_argument("--manifest", metavar="FILE",
                   help="Parquet file/folder or JSONL file with a 'path' column (and optionally "
                        "'key') to read inputs from")
    add_model_options(p)
    p.add_argument("--top-k", type=int, default=5, help="languages to list per input (default 5)")
    p.add_argument("--format", choices=FORMATS,
                   help="output format (default: from --out's extension, else table)")
    p.add_argument("--out", help="write here instead of stdout; a .jsonl file and a .parquet dataset "
                                 "(a folder of part files) are resumable (only our own records of "
                                 "the same model and options; see docs/cli.md)")
    p.add_argument("--embedding", action="store_true",
                   help="include the language embedding (Parquet output: an 'embedding' column)")
    p.add_argument("--engine", choices=ENGINES, default="single",
                   help="single: this process; ray: a Ray Data stage, one model per actor, on a "
                        "local Ray instance or the cluster at --ray-address (docs/ray.md)")
    p.add_argument("--actors", type=int, default=None, metavar="N",
                   help="--engine ray: model copies (actors) scoring in parallel (default 1)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="--engine ray: join this Ray cluster ('auto', 'ray://head:10001', "
                        "'head:6379') instead of starting a local instance")
    p.add_argument("--gpus-per-actor", type=float, default=None, metavar="G",
                   help="--engine ray: GPUs each actor reserves (default: 1 when the cluster has "
                        "that many, a share when fewer, 0 without GPUs or with --device cpu)")
    p.add_argument("--cpus-per-actor", type=float, default=None, metavar="C",
                   help="--engine ray: CPUs each actor reserves in Ray's accounting (default 1); "
                        "torch threads are the node's CPUs divided among the actors on it")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out that is not resumable by this run (another "
                        "program's file, another model's results) instead of refusing")
    p.add_argument("--quantize", choices=["none", "int8"], default="none",
                   help="int8: dynamic int8 encoder linear layers (CPU only; see docs/cli.md)")
    add_runtime_options(p)
    p.add_argument("--batch-size", type=int, default=None,
                   help="windows per batch (default: 1 on CPU, where batching pays only for small "
                        "models; on GPU as many as fit in 240 s of padded audio); outputs do not "
                        "depend on it (docs/batching.md)")
    p.add_argument("--window", type=float, default=30.0,
                   help="seconds; longer files are split into windows (default 30)")
    p.add_argument("--overlap", type=float, default=5.0, help="window overlap, seconds (default 5)")
    p.add_argument("--vad", action="store_true",
                   help="cut long files at pauses (found by --speech-detector) instead of fixed "
                        "overlapping windows")
    p.add_argument("--min-duration", type=float, default=None, metavar="S",
                   help="inputs shorter than S seconds get an error record instead of a guess "
                        "(default: the measured minimum, see docs/cli.md; 0 turns it off)")
    p.add_argument("--segments", action="store_true", help="report each window's language")
    p.add_argument("--budget", type=float, metavar="S",
                   help="long files: analyse at most S seconds of detected speech, in windows spread "
                        "over the whole file, stopping once the answer settles; the record's "
                        "'analysed' field says what was looked at (docs/budget.md)")
    p.add_argument("--timeline", action="store_true",
                   help="language timeline: short windows smoothed across time into segments "
                        "(start, end, language, probability) in the 'segments' field")
    p.add_argument("--timeline-window", type=float, default=1.5, metavar="S",
                   help="--timeline analysis window, seconds (default %(default)s)")
    p.add_argument("--timeline-hop", type=float, default=0.5, metavar="S",
                   help="--timeline hop between windows, seconds (default %(default)s)")
    p.add_argument("--switch-penalty", type=float, default=48.0, metavar="NATS",
                   help="--timeline cost of a change of language (default %(default)s)")
    p.add_argument("--reject-below", type=float, metavar="P",
                   help="label an input 'unknown' when its top (calibrated) probability is below P")
    p.add_argument("--reject-unknown", action="store_true",
                   help="label an input 'unknown' when the measured unknown-language score says the "
                        "model does not know its language (fitted by the recipe's stage 7; "
                        "docs/open_set.md)")
    p.add_argument("--languages", metavar="CODES",
                   help="candidate languages, e.g. eng,fra,deu: probabilities renormalised over them, "
                        "and 'none' when the model puts most of its mass elsewhere (docs/open_set.md)")
    p.add_argument("--near", metavar="LAT,LON[,RADIUS_KM]",
                   help="the audio comes from near here: reweight languages by a location prior "
                        "(radius default 1000 km; write --near=-1.3,36.8 for a negative latitude; "
                        "see docs/enroll.md)")
    p.add_argument("--near-strength", type=float, default=None, metavar="S",
                   help="prior strength in [0, 1] (default 0.9: odds change at most 10x)")
    p.add_argument("--no-location", action="store_true", help="skip decoding the geo vector")
    p.add_argument("--geo-vector", action="store_true",
                   help="include the 299-d geo vector in json/jsonl output")
    p.add_argument("--map", metavar="PNG", help="draw the predicted locations on a world map")
    p.add_argument("--utt2lang", help="Kaldi utt2lang with true languages: drawn on --map, and "
                                      "accuracy printed to stderr")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_predict)


# ------------------------------------------------------------------- inputs
def expand_inputs(inputs: List[str]) -> List[Tuple[str, str]]:
    """``(key, path)`` for files and for audio found under folders (sorted).

    A path that cannot be examined (under a folder this user may not search) and a
    subfolder that cannot be listed become inputs of their own, which then get an
    error record naming them: nothing is skipped silently, and the batch goes on.
    """
    from geolid.audio import audio_extensions

    exts = audio_extensions()
    out: List[Tuple[str, str]] = []
    for item in inputs:
        try:
            is_dir = Path(item).is_dir()
        except OSError:           # e.g. a file under a folder without search permission
            is_dir = False
        if not is_dir:
            out.append((item, item))  # a missing or unreachable file becomes an error record
            continue
        found, unreadable = [], []
        for top, dirs, files in os.walk(item, onerror=lambda e: unreadable.append(e.filename)):
            dirs.sort()
            found += [os.path.join(top, f) for f in files if Path(f).suffix.lower() in exts]
        if not found and not unreadable:
            raise UsageError(f"{item}: folder holds no audio files ({', '.join(exts[:8])}, ...)")
        out.extend((f, f) for f in sorted(found) + sorted(unreadable))
    return out


def read_scp(path: str) -> List[Tuple[str, str]]:
    """``(key, path)`` pairs of a wav.scp; piped or ark entries are kept and fail later."""
    from geolid.utils.fileio import read_kaldi_map

    if not Path(path).is_file():
        raise UsageError(f"--scp {path}: file not found")
    try:
        rows = read_kaldi_map(path)
    except ValueError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"--scp {path}: cannot read it ({e.strerror}); check its permissions") from None
    out = []
    for key, value in rows.items():
        if not value:
            raise UsageError(f"{path}: key '{key}' has no path")
        out.append((key, value))
    return out


def read_manifest(path: str) -> List[Tuple[str, str]]:
    """``(key, path)`` pairs of a Parquet (file or dataset folder) or JSONL manifest with a
    ``path`` column and an optional ``key`` column (default: the path)."""
    import json

    where = Path(path)
    if not where.exists():
        raise UsageError(f"--manifest {path}: not found")
    if where.is_dir() or where.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise UsageError("--manifest: reading Parquet needs pyarrow (pip install "
                             "'geolid-espnet[scale]')") from None
        try:
            names = pq.read_schema(path).names if where.is_file() else \
                pq.ParquetDataset(path).schema.names
            if "path" not in names:
                raise UsageError(f"--manifest {path}: no 'path' column (columns: {', '.join(names)})")
            table = pq.read_table(path, columns=[c for c in ("key", "path") if c in names])
        except UsageError:
            raise
        except Exception as e:   # pyarrow's ArrowInvalid and OSError
            raise UsageError(f"--manifest {path}: not a readable Parquet file "
                             f"({str(e).splitlines()[0][:200]})") from None
        rows = table.to_pylist()
    elif where.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        rows = []
        try:
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        raise UsageError(f"--manifest {path}: line {lineno} is not JSON") from None
                    if not isinstance(obj, dict) or "path" not in obj:
                        raise UsageError(f"--manifest {path}: line {lineno} has no 'path' field")
                    rows.append(obj)
        except OSError as e:
            raise UsageError(f"--manifest {path}: cannot read it ({e.strerror})") from None
    else:
        raise UsageError(f"--manifest {path}: give a .parquet or .jsonl manifest (for a Kaldi "
                         "wav.scp use --scp)")
    out = []
    for i, row in enumerate(rows, 1):
        if not row.get("path"):
            raise UsageError(f"--manifest {path}: row {i} has no path")
        key = row.get("key")
        out.append((str(key) if key not in (None, "") else str(row["path"]), str(row["path"])))
    return out


def _unsupported(value: str) -> Optional[str]:
    if value.rstrip().endswith("|"):
        return ("piped wav.scp commands are not supported; write the audio to files first "
                "(e.g. with `ffmpeg ... out.wav`) and list the files")
    if ".ark:" in value:
        return "Kaldi ark entries are not supported; list audio files instead"
    return None


# ------------------------------------------------------------------- running
def run_predict(args) -> int:
    _check_engine_args(args)
    pairs = ((read_scp(args.scp) if args.scp else []) + (read_manifest(args.manifest) if args.manifest
                                                          else []) + expand_inputs(args.inputs))
    if not pairs:
        raise UsageError("nothing to do: give audio files/folders, --scp wav.scp or --manifest FILE")
    _check_unique(pairs)
    options = options_from_args(args)
    fmt = args.format or (format_for_path(args.out) if args.out else None) or "table"
    _check_format(args, fmt)
    truth = _read_truth(args.utt2lang) if args.utt2lang else None
    if args.map:
        _check_png(args.map)

    from geolid.model.folder import ModelFolder

    folder = ModelFolder.open(args.model, revision=args.revision, allow_outside=args.allow_outside_paths)
    _check_model_options(options, folder)
    identity = folder.identity(args.model)
    if fmt == "parquet":
        from geolid.cli.parquet_store import ParquetStore

        store = ParquetStore(args.out, identity, options.result_key(), overwrite=args.overwrite)
    else:
        store = (OutputStore(args.out, fmt, identity, overwrite=args.overwrite,
                             options=options.result_key()) if args.out else None)
    done = store.open() if store else set()
    try:
        with _core_share(args):
            collected, failed, n_todo = _run_inputs(args, pairs, done, fmt, identity, store, options)
    except BaseException:
        if store:
            store.close(failed=True)
        raise
    if store:
        store.close()
    if truth is not None:
        _report_accuracy(collected, truth)
    if args.map:
        _draw_map(collected, truth, args.map)
    if failed:
        print(f"geolid: {len(failed)} of {n_todo} input(s) failed:", file=sys.stderr)
        for p in failed:
            print(f"  {p.key}: {p.error}", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


_FLAG_OF = {"window": "--window", "overlap": "--overlap", "speech_detector": "--speech-detector",
            "min_duration": "--min-duration", "batch_size": "--batch-size", "top_k": "--top-k",
            "reject_below": "--reject-below", "timeline_window": "--timeline-window",
            "timeline_hop": "--timeline-hop", "switch_penalty": "--switch-penalty", "budget": "--budget"}


def options_from_args(args):
    """The run's :class:`PredictOptions`; a bad value is a one-line usage error naming the flag."""
    from geolid.inference.options import PredictOptions, TimelineOptions

    near = None
    if args.near is not None or args.near_strength is not None:
        from geolid.inference.prior import parse_near

        if args.near is None:
            raise UsageError("--near-strength needs --near LAT,LON[,RADIUS_KM]")
        try:
            near = parse_near(args.near, args.near_strength)
        except ValueError as e:
            raise UsageError(f"--{e}") from None
    timeline = (TimelineOptions(args.timeline_window, args.timeline_hop, args.switch_penalty)
                if args.timeline else None)
    kwargs = dict(window=args.window, overlap=args.overlap, vad=args.vad,
                  speech_detector=args.speech_detector, batch_size=args.batch_size,
                  top_k=args.top_k, reject_below=args.reject_below, near=near,
                  reject_unknown=args.reject_unknown, budget=args.budget,
                  languages=tuple(args.languages.split(",")) if args.languages else None,
                  locate=not args.no_location, segments=args.segments, timeline=timeline)
    if args.min_duration is not None:
        kwargs["min_duration"] = args.min_duration
    try:
        return PredictOptions(**kwargs)
    except ValueError as e:
        name, _, rest = str(e).partition(" ")
        raise UsageError(f"{_FLAG_OF[name]} {rest}" if name in _FLAG_OF else str(e)) from None


def _check_engine_args(args) -> None:
    """Ray flags need ``--engine ray``; Ray itself must be installed for it."""
    if args.engine != "ray":
        given = [flag for name, flag in RAY_FLAGS if getattr(args, name) is not None]
        if given:
            raise UsageError(f"{given[0]} needs --engine ray")
        return
    if args.actors is not None and args.actors < 1:
        raise UsageError(f"--actors must be an integer >= 1, got {args.actors}")
    for name, flag in RAY_FLAGS[2:]:
        v = getattr(args, name)
        if v is not None and not v >= 0:
            raise UsageError(f"{flag} must be >= 0, got {v}")
    import importlib.util

    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("pyarrow") is None:
        raise UsageError("--engine ray needs Ray Data and pyarrow: pip install 'geolid-espnet[scale]' "
                         "(tools/install.sh installs them)")


def _check_format(args, fmt: str) -> None:
    if fmt == "parquet":
        if not args.out:
            raise UsageError("--format parquet writes a dataset folder: give --out results.parquet")
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise UsageError("--out *.parquet needs pyarrow: pip install 'geolid-espnet[scale]'")
    elif args.embedding:
        raise UsageError("--embedding is written to Parquet output only: give --out results.parquet")


def _core_share(args):
    """The run's share of the CPU cores (geolid/utils/threads.py): concurrent ``geolid predict``
    runs split the cores instead of oversubscribing them."""
    from geolid.utils.threads import CoreShare

    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    try:
        return CoreShare(threads=args.threads)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _check_model_options(options, folder) -> None:
    """Options that depend on the model, checked before any audio is read."""
    if options.languages is not None:
        from geolid.inference.candidates import CandidateError, parse_languages

        try:
            parse_languages(options.languages, folder.languages)
        except CandidateError as e:
            raise UsageError(f"--languages: {e}") from None
    if options.reject_unknown and folder.head.unknown is None:
        raise UsageError(f"--reject-unknown: {folder.exp} has no fitted unknown-language score; the "
                         "recipe's stage 7 (python -m geolid.bin.calibrate) fits it, or use "
                         "--reject-below P")


def _run_inputs(args, pairs, done, fmt, identity, store, options):
    """Predict the inputs not yet ``done`` and write them; (kept, failed, n run)."""
    todo = [(k, v) for k, v in pairs if k not in done]
    if done:
        print(f"geolid: resuming: {len(pairs) - len(todo)} of {len(pairs)} inputs already in "
              f"{args.out}", file=sys.stderr)
    collected: List[Prediction] = []
    failed: List[Prediction] = []
    if not todo:
        return collected, failed, 0

    chunks = (_ray_chunks(args, todo, identity, options, fmt) if args.engine == "ray"
              else _single_chunks(args, todo, identity, options, fmt))
    writer = None
    if fmt != "parquet":
        out = store.stream() if store else sys.stdout
        writer = Writer(out, fmt, options.top_k, model=args.model, include_geo_vector=args.geo_vector)
    for chunk, table in chunks:
        if writer is None:
            store.write(table)
        else:
            writer.write(chunk)
            if store:
                store.flush()
        failed.extend(p for p in chunk if p.error)
        if args.map or args.utt2lang:
            collected.extend(chunk)
    if writer is not None:
        writer.close()
    return collected, failed, len(todo)


def _split_unsupported(todo):
    """``(runnable pairs, failure records of piped/ark entries)``."""
    bad = {k: why for k, v in todo for why in [_unsupported(v)] if why}
    return ([(k, v) for k, v in todo if k not in bad],
            [Prediction.failure(k, bad[k], v) for k, v in todo if k in bad])


def _single_chunks(args, todo, identity, options, fmt):
    """This process: ``(predictions, Parquet table or None)`` per chunk of inputs."""
    from geolid.inference.api import GeoLID  # torch + ESPnet: only now

    try:
        model = GeoLID.from_pretrained(args.model, device=args.device, dtype=args.dtype,
                                       quantize=None if args.quantize == "none" else args.quantize,
                                       revision=args.revision, allow_outside=args.allow_outside_paths)
    except (ModelError, ModelNotFoundError):
        raise
    except ValueError as e:  # option combinations the model cannot run with
        raise UsageError(str(e)) from None
    key = options.result_key()
    for chunk, embeddings in _predictions(model, todo, args, options):
        for p in chunk:
            p.model = identity.to_dict()
            p.options = key
        table = None
        if fmt == "parquet":
            from geolid.integrations.records import predictions_table

            table = predictions_table(chunk, embeddings if args.embedding else None, args.geo_vector)
        yield chunk, table


def _predictions(model, todo, args, options) -> Iterator[Tuple[List[Prediction], List]]:
    """Predictions (and embeddings) in chunks (so writers can flush per chunk), with a
    progress bar."""
    from tqdm import tqdm

    from geolid.inference.api import CHUNK_SOURCES

    bar = tqdm(total=len(todo), unit="file", desc="geolid predict", disable=args.quiet,
               file=sys.stderr)
    from geolid.utils.threads import CoreShare

    share = CoreShare.active()
    try:
        for start in range(0, len(todo), CHUNK_SOURCES):
            if share is not None:
                share.refresh()   # a run that started or ended meanwhile changes our share
            part = todo[start:start + CHUNK_SOURCES]
            runnable, bad = _split_unsupported(part)
            if args.embedding:   # predict_iter, with each input's scored utterance beside it
                preds = {p.key: (p, u.embedding if p.ok else None)
                         for p, u in model.predict_scored(runnable, options=options)}
            else:
                preds = {p.key: (p, None) for p in model.predict_iter(runnable, options=options)}
            preds.update({p.key: (p, None) for p in bad})
            bar.update(len(part))
            yield [preds[k][0] for k, _ in part], [preds[k][1] for k, _ in part]
    finally:
        bar.close()


def _ray_chunks(args, todo, identity, options, fmt):
    """The Ray stage (geolid.integrations.ray): ``(predictions, result table)`` per batch
    as it finishes. Rows of a key already given (a retried batch) are dropped, rows of
    other weights refused, and every input must come back."""
    import pyarrow as pa

    from geolid.integrations.ray import score_pairs
    from geolid.integrations.records import predictions_table, prediction_from_row

    runnable, bad = _split_unsupported(todo)
    for p in bad:
        p.model, p.options = identity.to_dict(), options.result_key()
    if bad:
        yield bad, predictions_table(bad) if fmt == "parquet" else None
    if not runnable:
        return
    wanted = {k for k, _ in runnable}
    seen: set = set()
    blocks = score_pairs(runnable, args.model, options, name=args.model, actors=args.actors or 1,
                         address=args.ray_address, gpus_per_actor=args.gpus_per_actor,
                         ordered=fmt != "parquet",
                         cpus_per_actor=args.cpus_per_actor or 1.0, quiet=args.quiet,
                         device=args.device, dtype=args.dtype,
                         quantize=None if args.quantize == "none" else args.quantize,
                         revision=args.revision, allow_outside=args.allow_outside_paths,
                         include_embedding=args.embedding, include_geo_vector=args.geo_vector)
    try:
        for table in blocks:
            rows = table.to_pylist()
            for r in rows:
                if not identity.same_model(r["model"]):
                    raise UsageError(
                        f"a Ray actor loaded other weights for --model {args.model} (sha256 "
                        f"{str((r['model'] or {}).get('sha256'))[:12]}, this run "
                        f"{identity.sha256[:12]}); every node must see the same model files")
            fresh = [i for i, r in enumerate(rows) if r["key"] in wanted and r["key"] not in seen]
            if not fresh:
                continue
            if len(fresh) < len(rows):
                table = table.take(pa.array(fresh))
            seen.update(rows[i]["key"] for i in fresh)
            yield [prediction_from_row(rows[i]) for i in fresh], table if fmt == "parquet" else None
    except UsageError:
        raise
    except Exception as e:
        if not type(e).__module__.startswith("ray"):
            raise
        import logging

        logging.getLogger("geolid").debug("the Ray job failed", exc_info=True)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise UsageError(f"the Ray job failed: {first} (rerun with -v for details; a rerun resumes "
                         "from what --out holds)") from e
    missing = wanted - seen
    if missing:
        raise UsageError(f"the Ray job returned no result for {len(missing)} input(s) (e.g. "
                         f"{sorted(missing)[0]}); rerun to score them (--out resumes)")


def _check_png(path: str) -> None:
    """``--map``: refuse, before any work, a PNG that cannot be written."""
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise UsageError(f"--map {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--map {path}: cannot write in {parent} (permission denied)")


def _check_unique(pairs: List[Tuple[str, str]]) -> None:
    seen: Dict[str, str] = {}
    for k, v in pairs:
        if k in seen:
            raise UsageError(f"input key '{k}' appears twice ({seen[k]} and {v}); keys must be unique")
        seen[k] = v


def _read_truth(path: str) -> Dict[str, str]:
    from geolid.utils.fileio import read_kaldi_map

    if not Path(path).is_file():
        raise UsageError(f"--utt2lang {path}: file not found")
    try:
        return {k: v.split()[0] for k, v in read_kaldi_map(path).items() if v}
    except ValueError as e:
        raise UsageError(str(e)) from None


def _true_language(p: Prediction, truth: Dict[str, str]) -> Optional[str]:
    """The utt2lang entry for a key, or for the file's name without extension."""
    if p.key in truth:
        return truth[p.key]
    return truth.get(Path(p.key).stem)


def _report_accuracy(preds: List[Prediction], truth: Dict[str, str]) -> None:
    """Accuracy by the recipe's scorer (geolid.scoring), so both report the same
    number; a failed input counts as an error (missing), as in the recipe."""
    from geolid.scoring.metrics import score_lids

    ref = {p.key: t for p in preds for t in [_true_language(p, truth)] if t is not None}
    if not ref:
        print("geolid: no prediction has an utt2lang entry; accuracy not computed", file=sys.stderr)
        return
    hyp = {p.key: p.top_k[0].code for p in preds if p.ok and p.key in ref}  # top-1, before rejection
    result = score_lids(ref, hyp)
    missing = f", {result['n_missing']} failed" if result["n_missing"] else ""
    print(f"geolid: top-1 accuracy {100 * result['accuracy']:.1f}% (macro "
          f"{100 * result['macro_accuracy']:.1f}%) on {result['n_utts']} input(s) with a true "
          f"language{missing}", file=sys.stderr)


def _draw_map(preds: List[Prediction], truth: Optional[Dict[str, str]], out_png: str) -> None:
    from geolid.plots.world_map import plot_locations

    points = []
    for p in preds:
        if p.location is None:
            continue
        label = Path(p.key).name
        points.append({"lat": p.location.lat, "lon": p.location.lon, "label": label,
                       "kind": "predicted"})
        t = _true_language(p, truth) if truth else None
        if t:
            try:
                from geolid.geo.location import language_coordinates

                lat, lon = language_coordinates(t)
            except KeyError:
                continue
            points.append({"lat": lat, "lon": lon, "label": label, "kind": "true"})
    if not points:
        print("geolid: no locations to draw (geo vectors unavailable?); map not written",
              file=sys.stderr)
        return
    try:
        plot_locations(points, out_png, title="geolid: predicted language locations")
    except (OSError, ValueError) as e:
        print(f"geolid: map not written: {e}", file=sys.stderr)
        return
    if Path(out_png).is_file():
        print(f"geolid: map written to {out_png}", file=sys.stderr)
    else:
        print(f"geolid: map not written ({out_png} was not created)", file=sys.stderr)
