"""``geolid predict``: inputs -> predictions, in a chosen format, resumable to JSONL.

Inputs are files, folders (searched recursively for audio) or a Kaldi ``wav.scp``.
With ``--out results.jsonl`` each record is appended and flushed as its chunk of
inputs finishes; a rerun skips the keys already there (a half-written last line
from an interrupted run is cut off first). Bad inputs are recorded (``error``),
the run goes on, and they are listed on stderr at the end (exit status 1).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

from geolid.cli.formats import FORMATS, Writer, format_for_path
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
    p.add_argument("--out", help="write here instead of stdout; a .jsonl file is resumable")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="autocast dtype (auto: bf16 on GPU, fp32 on CPU)")
    p.add_argument("--quantize", choices=["none", "int8"], default="none",
                   help="int8: dynamic int8 encoder linear layers (CPU only; see docs/cli.md)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="windows per batch (default: 1 on CPU, where batching does not pay; on GPU "
                        "as many as fit in 240 s of padded audio)")
    p.add_argument("--window", type=float, default=30.0,
                   help="seconds; longer files are split into windows (default 30)")
    p.add_argument("--overlap", type=float, default=5.0, help="window overlap, seconds (default 5)")
    p.add_argument("--vad", action="store_true",
                   help="cut long files at pauses (energy VAD) instead of fixed overlapping windows")
    p.add_argument("--segments", action="store_true", help="report each window's language")
    p.add_argument("--reject-below", type=float, metavar="P",
                   help="label an input 'unknown' when its top probability is below P")
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
    from geolid.inference.audio import audio_extensions

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


# ------------------------------------------------------------------ resuming
def load_done(path: Path) -> Set[str]:
    """Keys already in a JSONL results file; a truncated last line is removed."""
    done: Set[str] = set()
    if not path.exists():
        return done
    good_end = 0
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # written halfway when the run was stopped
            try:
                done.add(json.loads(raw)["key"])
            except (ValueError, KeyError):
                break
            good_end += len(raw)
    if good_end < path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good_end)
        print(f"geolid: {path}: cut an incomplete record from the end (interrupted run)",
              file=sys.stderr)
    return done


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
    fmt = args.format or (format_for_path(args.out) if args.out else None) or "table"
    truth = _read_truth(args.utt2lang) if args.utt2lang else None

    resume = bool(args.out) and fmt == "jsonl"
    done = load_done(Path(args.out)) if resume else set()
    todo = [(k, v) for k, v in pairs if k not in done]
    if done:
        print(f"geolid: resuming: {len(pairs) - len(todo)} of {len(pairs)} inputs already in "
              f"{args.out}", file=sys.stderr)
    if not todo:
        return EXIT_OK

    from geolid.inference.api import GeoLID, InferenceOptions  # torch + ESPnet: only now

    model = GeoLID.from_pretrained(args.model, device=args.device, dtype=args.dtype,
                                   quantize=None if args.quantize == "none" else args.quantize,
                                   revision=args.revision)
    options = InferenceOptions(window=args.window, overlap=args.overlap, vad=args.vad,
                               batch_size=args.batch_size)
    collected: List[Prediction] = []
    failed: List[Prediction] = []
    with _open_out(args.out, fmt, resume) as out:
        writer = Writer(out, fmt, args.top_k, model=args.model, include_geo_vector=args.geo_vector,
                        header=not (resume and done))
        for chunk in _predictions(model, todo, args, options):
            writer.write(chunk)
            if resume:
                out.flush()
                os.fsync(out.fileno())
            failed.extend(p for p in chunk if p.error)
            if args.map or truth is not None:
                collected.extend(chunk)
        writer.close()
    if truth is not None:
        _report_accuracy(collected, truth)
    if args.map:
        _draw_map(collected, truth, args.map)
    if failed:
        print(f"geolid: {len(failed)} of {len(todo)} input(s) failed:", file=sys.stderr)
        for p in failed:
            print(f"  {p.key}: {p.error}", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


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
                segments=args.segments, locate=not args.no_location, options=options)}
            preds.update({k: Prediction.failure(k, why, v) for k, v in part
                          for why in [bad.get(k)] if why})
            bar.update(len(part))
            yield [preds[k] for k, _ in part]
    finally:
        bar.close()


class _open_out:
    """stdout, or the --out file (appended to when resuming, else written atomically)."""

    def __init__(self, path: Optional[str], fmt: str, resume: bool):
        self.path, self.resume = path, resume
        self._ctx = None

    def __enter__(self):
        if self.path is None:
            return sys.stdout
        if self.resume:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.path, "a", encoding="utf-8")
            return self._f
        from geolid.utils.fileio import atomic_write

        self._ctx = atomic_write(self.path)
        return self._ctx.__enter__()

    def __exit__(self, *exc):
        if self.path is None:
            return False
        if self.resume:
            self._f.close()
            return False
        return self._ctx.__exit__(*exc)


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
    scored = [(p, _true_language(p, truth)) for p in preds if p.ok]
    scored = [(p, t) for p, t in scored if t is not None]
    if not scored:
        print("geolid: no prediction has an utt2lang entry; accuracy not computed", file=sys.stderr)
        return
    top1 = sum(p.top_k[0].code == t for p, t in scored) / len(scored)
    print(f"geolid: top-1 accuracy {100 * top1:.1f}% on {len(scored)} input(s) with a true "
          "language", file=sys.stderr)


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
