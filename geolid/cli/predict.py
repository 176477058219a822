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
from geolid.cli.output_store import OutputStore
from geolid.inference.results import Prediction

EXIT_OK, EXIT_FAILED_INPUTS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with the command line or the files it names."""


def add_predict_parser(sub) -> None:
    from geolid.inference.hub import DEFAULT_MODEL

    p = sub.add_parser(
        "predict", help="language, top-k probabilities and location of audio files",
        description="Identify the language of audio files: top-k languages with probabilities, "
                    "the predicted geo vector decoded to a latitude/longitude, optional per-window "
                    "segments for long files. See docs/cli.md for the output schema.")
    p.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR",
                   help="audio files, or folders searched recursively for audio")
    p.add_argument("--scp", help="Kaldi wav.scp ('key path' per line) to read inputs from")
    p.add_argument("--model", default=os.environ.get("GEOLID_MODEL", DEFAULT_MODEL),
                   help="Hugging Face repo id, published-layout folder, experiment folder or .pth "
                        "(default: $GEOLID_MODEL or %(default)s)")
    p.add_argument("--revision", help="Hub revision of --model")
    p.add_argument("--top-k", type=int, default=5, help="languages to list per input (default 5)")
    p.add_argument("--format", choices=FORMATS,
                   help="output format (default: from --out's extension, else table)")
    p.add_argument("--out", help="write here instead of stdout; a .jsonl file is resumable "
                                 "(only our own records of the same model; see docs/cli.md)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out that is not resumable by this run (another "
                        "program's file, another model's results) instead of refusing")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="autocast dtype (auto: fp32 on CPU; bf16 on a GPU with bf16 support once a probe "
                        "agrees with fp32, else fp32; never fp16. See docs/cli.md)")
    p.add_argument("--quantize", choices=["none", "int8"], default="none",
                   help="int8: dynamic int8 encoder linear layers (CPU only; see docs/cli.md)")
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
    # --- vad / timeline options (docs/vad.md, docs/timeline.md)
    p.add_argument("--speech-detector", choices=["silero", "energy", "none"],
                   default=os.environ.get("GEOLID_SPEECH_DETECTOR", "silero"),
                   help="speech detector: inputs without speech are labelled zxx, every record "
                        "has speech_fraction (default: $GEOLID_SPEECH_DETECTOR or %(default)s)")
    p.add_argument("--timeline", action="store_true",
                   help="language timeline: short windows smoothed across time into segments "
                        "(start, end, language, probability) in the 'segments' field")
    p.add_argument("--timeline-window", type=float, default=1.5, metavar="S",
                   help="--timeline analysis window, seconds (default %(default)s)")
    p.add_argument("--timeline-hop", type=float, default=0.5, metavar="S",
                   help="--timeline hop between windows, seconds (default %(default)s)")
    p.add_argument("--switch-penalty", type=float, default=48.0, metavar="NATS",
                   help="--timeline cost of a change of language (default %(default)s)")
    # --- end vad
    p.add_argument("--reject-below", type=float, metavar="P",
                   help="label an input 'unknown' when its top (calibrated) probability is below P")
    # --- location prior hook (geolid.inference.prior) ---
    p.add_argument("--near", metavar="LAT,LON[,RADIUS_KM]",
                   help="the audio comes from near here: reweight languages by a location prior "
                        "(radius default 1000 km; write --near=-1.3,36.8 for a negative latitude; "
                        "see docs/enroll.md)")
    p.add_argument("--near-strength", type=float, default=None, metavar="S",
                   help="prior strength in [0, 1] (default 0.9: odds change at most 10x)")
    # --- end hook ---
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
    """``(key, path)`` for files and for audio found under folders (sorted)."""
    from geolid.audio import audio_extensions

    exts = audio_extensions()
    out: List[Tuple[str, str]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in exts)
            if not found:
                raise UsageError(f"{item}: folder holds no audio files ({', '.join(exts[:8])}, ...)")
            out.extend((f, f) for f in found)
        else:
            out.append((item, item))  # a missing file becomes an error record, not a crash
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
    out = []
    for key, value in rows.items():
        if not value:
            raise UsageError(f"{path}: key '{key}' has no path")
        out.append((key, value))
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
    pairs = (read_scp(args.scp) if args.scp else []) + expand_inputs(args.inputs)
    if not pairs:
        raise UsageError("nothing to do: give audio files/folders or --scp wav.scp")
    _check_unique(pairs)
    if args.top_k < 1:
        raise UsageError("--top-k must be >= 1")
    if args.reject_below is not None and not 0 <= args.reject_below <= 1:
        raise UsageError("--reject-below must be a probability in [0, 1]")
    _check_options(args)
    fmt = args.format or (format_for_path(args.out) if args.out else None) or "table"
    args.near_prior = None
    if args.near is not None or args.near_strength is not None:  # location prior hook
        from geolid.inference.prior import parse_near
        if args.near is None:
            raise UsageError("--near-strength needs --near LAT,LON[,RADIUS_KM]")
        try:
            args.near_prior = parse_near(args.near, args.near_strength)
        except ValueError as e:
            raise UsageError(f"--{e}") from None
    truth = _read_truth(args.utt2lang) if args.utt2lang else None

    identity = _model_identity(args)
    store = OutputStore(args.out, fmt, identity, overwrite=args.overwrite) if args.out else None
    done = store.open() if store else set()
    try:
        collected, failed, n_todo = _run_inputs(args, pairs, done, fmt, identity, store)
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


def _model_identity(args):
    """Name + weights sha256 of --model, before any heavy import (resume checks need it)."""
    from geolid.inference.hub import locate_model
    from geolid.inference.model_identity import model_identity

    files = locate_model(args.model, revision=args.revision)
    return model_identity(args.model, files.model)


def _run_inputs(args, pairs, done, fmt, identity, store):
    """Predict the inputs not yet ``done`` and write them; (kept, failed, n run)."""
    todo = [(k, v) for k, v in pairs if k not in done]
    if done:
        print(f"geolid: resuming: {len(pairs) - len(todo)} of {len(pairs)} inputs already in "
              f"{args.out}", file=sys.stderr)
    collected: List[Prediction] = []
    failed: List[Prediction] = []
    if not todo:
        return collected, failed, 0

    from geolid.inference.api import GeoLID, InferenceOptions  # torch + ESPnet: only now
    from geolid.inference.model_errors import ModelError

    try:
        model = GeoLID.from_pretrained(args.model, device=args.device, dtype=args.dtype,
                                       quantize=None if args.quantize == "none" else args.quantize,
                                       revision=args.revision)
    except ModelError:
        raise
    except ValueError as e:  # option combinations the model cannot run with
        raise UsageError(str(e)) from None
    options = InferenceOptions(window=args.window, overlap=args.overlap, vad=args.vad,
                               batch_size=args.batch_size,
                               speech_detector=args.speech_detector)  # vad hook
    if args.min_duration is not None:
        options.min_duration = args.min_duration
    out = store.stream() if store else sys.stdout
    writer = Writer(out, fmt, args.top_k, model=args.model, include_geo_vector=args.geo_vector)
    for chunk in _predictions(model, todo, args, options):
        for p in chunk:
            p.model = identity.to_dict()
        writer.write(chunk)
        if store:
            store.flush()
        failed.extend(p for p in chunk if p.error)
        if args.map or args.utt2lang:
            collected.extend(chunk)
    writer.close()
    return collected, failed, len(todo)


def _predictions(model, todo, args, options) -> Iterator[List[Prediction]]:
    """Predictions in chunks (so writers can flush per chunk), with a progress bar."""
    from tqdm import tqdm

    from geolid.inference.api import CHUNK_SOURCES

    bar = tqdm(total=len(todo), unit="file", desc="geolid predict", disable=args.quiet,
               file=sys.stderr)
    try:
        for start in range(0, len(todo), CHUNK_SOURCES):
            part = todo[start:start + CHUNK_SOURCES]
            bad = {k: _unsupported(v) for k, v in part if _unsupported(v)}
            runnable = [(k, v) for k, v in part if k not in bad]
            preds = {p.key: p for p in model.predict_iter(
                runnable, top_k=args.top_k, reject_below=args.reject_below,
                segments=args.segments, locate=not args.no_location, options=options,
                near=getattr(args, "near_prior", None))}
            preds.update({k: Prediction.failure(k, why, v) for k, v in part
                          for why in [bad.get(k)] if why})
            if args.timeline:  # vad hook: segments become the language timeline
                from geolid.inference.timeline import TimelineOptions, add_timelines

                topts = TimelineOptions(args.timeline_window, args.timeline_hop, args.switch_penalty,
                                        speech_detector=args.speech_detector)
                try:
                    topts.check()
                except ValueError as e:
                    raise UsageError(str(e)) from None
                add_timelines(model, preds.values(), topts)
            bar.update(len(part))
            yield [preds[k] for k, _ in part]
    finally:
        bar.close()


def _check_options(args) -> None:
    if not args.window > 0:
        raise UsageError(f"--window must be > 0 seconds, got {args.window}")
    if not args.vad and not 0 <= args.overlap < args.window:  # --vad windows do not overlap
        raise UsageError(f"--overlap must be >= 0 and below --window ({args.window}), got {args.overlap}")
    if args.min_duration is not None and args.min_duration < 0:
        raise UsageError(f"--min-duration must be >= 0 seconds, got {args.min_duration}")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")


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
    plot_locations(points, out_png, title="geolid: predicted language locations")
    print(f"geolid: map written to {out_png}", file=sys.stderr)
