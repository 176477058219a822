#!/usr/bin/env python3
"""Recipe stage 7: fit the probability temperature on stage 6's validation posteriors.

    python -m geolid.bin.calibrate --model exp/lid_X_raw/valid.accuracy.best.pth \\
        --valid INFER/dev/dev_posteriors.npz --valid_ref dump/raw/dev/utt2lang \\
        [--eval test=INFER/test/test_posteriors.npz:dump/raw/test/utt2lang ...] \\
        [--apply INFER/test/test_posteriors.npz ...] [--plot exp/lid_X_raw/calibration/reliability.png]

Reads the full posteriors stage 6 wrote (``SET_posteriors.npz``, the model as
trained), fits one temperature T by minimising the validation NLL
(:mod:`geolid.inference.calibration`; no second inference pass) and the statistics of
the unknown-language score (``geolid predict --reject-unknown``;
:mod:`geolid.inference.open_set`), and puts both into
the model folder (``calibration.json`` beside ``config.yaml``, which stages 9-10
pack and every door applies: :mod:`geolid.model.head_state`). For every posteriors
file in ``--valid``, ``--eval`` and ``--apply`` it writes ``SET_lids_topk_calibrated``
beside it, in the format of ``SET_lids_topk``: the probabilities ``geolid predict``
gives with the calibrated model. Temperature scaling changes no argmax, so
``SET_lids`` and the accuracy do not change. Posteriors made by another model
(another weights file or enrolment) are refused: rerun stage 6.

Rerunning is deterministic: the same posteriors give the same T and the same files.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

CALIBRATED_SUFFIX = "_lids_topk_calibrated"


def read_posteriors(path: Path, folder):
    """(utts, :class:`~geolid.inference.calibration.Windowed`) of a stage-6 posteriors file of
    ``folder``'s model: every window's logits and weight, by utterance."""
    from geolid.inference.calibration import Windowed

    utts, data = read_stage6(path, folder)
    index = {u: i for i, u in enumerate(utts)}
    if "window_logits" not in data:
        raise ValueError(f"{path} holds no window logits (written by an older geolid); rerun stage 6")
    utt = np.array([index[str(k)] for k in data["window_keys"]], dtype=np.int64)
    return utts, Windowed(np.asarray(data["window_logits"], dtype=np.float64), utt,
                          np.asarray(data["window_weights"], dtype=np.float64))


def read_stage6(path: Path, folder) -> Tuple[List[str], Dict[str, np.ndarray]]:
    """(utts, every array) of a stage-6 posteriors file of ``folder``'s model."""
    from geolid.bin.model_check import MODEL_RECORD

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run stage 6 on that set first")
    set_name = path.name[: -len("_posteriors.npz")]
    record = path.parent / MODEL_RECORD.format(set=set_name)
    try:
        made_by = json.loads(record.read_text(encoding="utf-8"))["model"]
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{record}: cannot tell which model made {path} ({e}); rerun stage 6") from None
    if not folder.identity(include_calibration=False).same_model(made_by):
        raise ValueError(f"{path} was made by another model ({made_by.get('name')}, sha256 "
                         f"{str(made_by.get('sha256'))[:12]}) than {folder.weights}; rerun stage 6")
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    if list(arrays["languages"]) != list(folder.languages):
        raise ValueError(f"{path}: its class order differs from {folder.weights}'s; rerun stage 6")
    return [str(u) for u in arrays["utts"]], arrays


def fit_unknown(path: Path, folder, utt2lang: Path) -> Optional[Dict]:
    """The unknown-language score's statistics (:mod:`geolid.inference.open_set`) on the
    validation set's known-language utterances: mean/std of the max cosine and the embedding
    norm, and the threshold keeping 95% of the correctly identified ones. None if stage 6
    did not keep the logits and norms (posteriors of an older geolid)."""
    from geolid.inference.open_set import fit_unknown_score
    from geolid.utils.fileio import read_kaldi_map

    utts, data = read_stage6(path, folder)
    if "logits" not in data or "embedding_norms" not in data:
        return None
    ref = {u: v.split()[0] for u, v in read_kaldi_map(utt2lang).items() if v}
    index = {c: i for i, c in enumerate(folder.languages)}
    keep = np.array([ref.get(u) in index for u in utts])
    logits = np.asarray(data["logits"], dtype=np.float64)[keep]
    # stage 6 wrote the model's logits as trained (T = 1)
    signals = {"max_cosine": folder.head.cosines(logits, folder.head_scale, calibrated=False).max(axis=1),
               "embedding_norm": np.asarray(data["embedding_norms"], dtype=np.float64)[keep]}
    labels = np.array([index[ref[u]] for u, k in zip(utts, keep) if k])
    return fit_unknown_score(signals, correct=logits.argmax(axis=1) == labels)


def labelled(utts: List[str], windows, utt2lang: Path, languages):
    """(windows, label indices, skipped) of the utterances whose language the model knows."""
    from geolid.utils.fileio import read_kaldi_map

    ref = {u: v.split()[0] for u, v in read_kaldi_map(utt2lang).items() if v}
    index = {c: i for i, c in enumerate(languages)}
    keep = [i for i, u in enumerate(utts) if ref.get(u) in index]
    if not keep:
        raise ValueError(f"{utt2lang}: no utterance of a language the model knows")
    mask = np.zeros(len(utts), bool)
    mask[keep] = True
    return windows.subset(mask), np.array([index[ref[utts[i]]] for i in keep]), len(utts) - len(keep)


def write_calibrated(path: Path, utts: List[str], windows, languages, t: float, top_k: int) -> Path:
    from geolid.bin.lid_inference import write_topk

    set_name = path.name[: -len("_posteriors.npz")]
    out = path.parent / f"{set_name}{CALIBRATED_SUFFIX}"
    write_topk(out, utts, np.log(np.maximum(windows.probabilities(t), 1e-300)), languages, top_k)
    return out


def _eval_spec(spec: str) -> Tuple[str, Path, Path]:
    name, eq, rest = spec.partition("=")
    post, colon, ref = rest.rpartition(":") if eq else spec.rpartition(":")
    if not (eq and colon):
        raise argparse.ArgumentTypeError(f"expected NAME=POSTERIORS.npz:UTT2LANG, got '{spec}'")
    return name, Path(post), Path(ref)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.calibrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="experiment folder or .pth (the model stage 6 ran)")
    ap.add_argument("--valid", required=True, type=Path, help="stage 6's SET_posteriors.npz of the validation set")
    ap.add_argument("--valid_ref", required=True, type=Path, help="the validation set's utt2lang")
    ap.add_argument("--eval", action="append", default=[], type=_eval_spec,
                    metavar="NAME=POSTERIORS:UTT2LANG", help="also report ECE before/after (repeatable)")
    ap.add_argument("--apply", action="append", default=[], type=Path, metavar="POSTERIORS",
                    help="also write SET_lids_topk_calibrated for this set (repeatable)")
    ap.add_argument("--top_k", type=int, default=5)
    ap.add_argument("--plot", help="reliability diagram PNG (before/after, every labelled set)")
    ap.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    args = ap.parse_args(argv)

    from geolid.inference.calibration import fit_temperature, summarise
    from geolid.model.errors import ModelError, ModelNotFoundError
    from geolid.model.folder import ModelFolder

    try:
        folder = ModelFolder.open(args.model)
        valid_utts, valid_windows = read_posteriors(args.valid, folder)
        sets: Dict[str, Tuple] = {"valid": labelled(valid_utts, valid_windows, args.valid_ref, folder.languages)}
        posteriors = {args.valid: (valid_utts, valid_windows)}
        for name, post, ref in args.eval:
            utts, windows = read_posteriors(post, folder)
            sets[name] = labelled(utts, windows, ref, folder.languages)
            posteriors[post] = (utts, windows)
        for post in args.apply:
            if post not in posteriors:
                posteriors[post] = read_posteriors(post, folder)
    except (OSError, ValueError, ModelError, ModelNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    windows, labels, _ = sets["valid"]
    t = fit_temperature(windows, labels)
    print(f"temperature {t:.4f} (fitted on {args.valid}, {len(labels)} utterances)")
    print(f"{'set':<14} {'n':>5} {'ECE before':>10} {'ECE after':>10} {'NLL before':>10} "
          f"{'NLL after':>10} {'acc':>6} {'>0.9 wrong before/after':>24}")
    report = {}
    for name, (lg, lb, skipped) in sets.items():
        before, after = summarise(lg, lb, t)
        report[name] = {"before": before, "after": after, "skipped": skipped}
        print(f"{name:<14} {len(lb):>5} {before['ece']:>10.4f} {after['ece']:>10.4f} "
              f"{before['nll']:>10.4f} {after['nll']:>10.4f} {100 * after['accuracy']:>6.1f} "
              f"{before['wrong_above_0.9']:>12d}/{after['wrong_above_0.9']}")
    if args.dry_run:
        print(json.dumps(report))
        return 0
    if args.plot:
        from geolid.plots.reliability import plot_reliability

        curves = {}
        for name, (lg, lb, _) in sets.items():
            curves[f"{name}, T=1"] = (lg.probabilities(1.0), lb)
            curves[f"{name}, T={t:.2f}"] = (lg.probabilities(t), lb)
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot_reliability(curves, args.plot, title=f"{folder.exp.name}: reliability before/after "
                                                  "temperature scaling")
        print(f"reliability diagram: {args.plot}")
    from geolid.model.head_state import write_head_state

    unknown = fit_unknown(args.valid, folder, args.valid_ref)
    if unknown is not None:
        print(f"unknown-language score: threshold {unknown['threshold']:.3f} (z units; keeps 95% of "
              f"the correctly identified validation utterances)")
    head = folder.head.with_temperature(t, unknown=unknown, fitted_on=str(args.valid),
                                        n=int(len(labels)), report=report)
    written = write_head_state(folder.exp, head, folder.languages)
    for post, (utts, lp) in posteriors.items():
        print(f"wrote {write_calibrated(post, utts, lp, folder.languages, t, args.top_k)}")
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
