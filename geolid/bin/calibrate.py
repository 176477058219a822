#!/usr/bin/env python3
"""Fit the probability temperature of a trained model on its validation set (scoring stage).

    python -m geolid.bin.calibrate --model exp/lid_X_raw/valid.accuracy.best.pth \
        --data dump/raw/dev [--eval test=dump/raw/test ...] \
        [--plot exp/lid_X_raw/calibration/reliability.png]

Runs the model the way ``geolid predict`` does on every utterance of ``--data``
(Kaldi ``wav.scp`` + ``utt2lang``), fits one temperature by minimising the NLL
(:mod:`geolid.inference.calibration`), writes ``calibration.json`` beside the
model's ``config.yaml`` (``GeoLID`` and ``geolid predict`` then apply it) and
prints ECE / NLL / accuracy before and after, for ``--data`` and every ``--eval``
set. Any existing calibration is ignored while fitting. Utterances of languages
the model does not know are skipped (counted in the output).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np


def data_dir_embeddings(lid, data_dir, progress: bool = False
                        ) -> Tuple[List[str], np.ndarray, np.ndarray, int]:
    """(utts, embeddings (N, D), label indices (N,), skipped) of a Kaldi data dir;
    utterances of languages the model does not know are skipped."""
    from geolid.utils.fileio import read_kaldi_map

    data_dir = Path(data_dir)
    for name in ("wav.scp", "utt2lang"):
        if not (data_dir / name).is_file():
            raise FileNotFoundError(f"{data_dir / name} not found (a Kaldi data dir needs wav.scp and utt2lang)")
    wavs = read_kaldi_map(data_dir / "wav.scp")
    langs = {u: v.split()[0] for u, v in read_kaldi_map(data_dir / "utt2lang").items() if v}
    index = {c: i for i, c in enumerate(lid.languages)}
    utts = [u for u in sorted(wavs) if langs.get(u) in index]
    skipped = len(wavs) - len(utts)
    if not utts:
        raise ValueError(f"{data_dir}: no utterance of a language the model knows")
    from geolid.inference.api import InferenceOptions

    # Every utterance of a recipe set is speech and is scored by stage 6, so no
    # minimum duration and no speech detector here (as stage 6).
    options = InferenceOptions(min_duration=0.0, speech_detector="none")
    emb = []
    step = 64
    for s in range(0, len(utts), step):
        emb.append(lid.embed([wavs[u] for u in utts[s:s + step]], options=options))
        if progress:
            print(f"  {data_dir.name}: {min(s + step, len(utts))}/{len(utts)}", file=sys.stderr)
    labels = np.array([index[langs[u]] for u in utts])
    return utts, np.concatenate(emb), labels, skipped


def data_dir_logits(lid, data_dir, progress: bool = False) -> Tuple[List[str], np.ndarray, np.ndarray, int]:
    """(utts, uncalibrated logits (N, C), label indices (N,), skipped) of a Kaldi data dir."""
    from geolid.inference.enroll import logits_from_embeddings

    utts, emb, labels, skipped = data_dir_embeddings(lid, data_dir, progress)
    return utts, logits_from_embeddings(lid, emb, calibrated=False), labels, skipped


def _named(spec: str) -> Tuple[str, str]:
    name, eq, path = spec.partition("=")
    return (name, path) if eq else (Path(spec).name, spec)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.calibrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="experiment folder or .pth (as for geolid predict)")
    ap.add_argument("--data", required=True, help="validation data dir (wav.scp, utt2lang)")
    ap.add_argument("--eval", action="append", default=[], metavar="[NAME=]DIR",
                    help="also report ECE before/after on this data dir (repeatable)")
    ap.add_argument("--plot", help="reliability diagram PNG (before/after, every set)")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    ap.add_argument("--dry-run", action="store_true", help="report only; do not write calibration.json")
    args = ap.parse_args(argv)

    from geolid.inference.api import GeoLID
    from geolid.inference.calibration import fit_temperature, save_calibration, softmax, summarise

    try:
        lid = GeoLID.from_pretrained(args.model, device=args.device)  # same dtype as predict
        sets = [("valid", args.data)] + [_named(s) for s in args.eval]
        results: Dict[str, Tuple[np.ndarray, np.ndarray, int]] = {}
        for name, path in sets:
            _, logits, labels, skipped = data_dir_logits(lid, path, progress=True)
            results[name] = (logits, labels, skipped)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logits, labels, _ = results["valid"]
    t = fit_temperature(logits, labels)
    report = {}
    print(f"temperature {t:.4f} (fitted on {args.data}, {len(labels)} utterances)")
    print(f"{'set':<14} {'n':>5} {'ECE before':>10} {'ECE after':>10} {'NLL before':>10} "
          f"{'NLL after':>10} {'acc':>6} {'>0.9 wrong before/after':>24}")
    for name, (lg, lb, skipped) in results.items():
        before, after = summarise(lg, lb, t)
        report[name] = {"before": before, "after": after, "skipped": skipped}
        print(f"{name:<14} {len(lb):>5} {before['ece']:>10.4f} {after['ece']:>10.4f} "
              f"{before['nll']:>10.4f} {after['nll']:>10.4f} {100 * after['accuracy']:>6.1f} "
              f"{before['wrong_above_0.9']:>12d}/{after['wrong_above_0.9']}")
    if args.plot:
        from geolid.plots.reliability import plot_reliability

        curves = {}
        for name, (lg, lb, _) in results.items():
            curves[f"{name}, T=1"] = (softmax(lg), lb)
            curves[f"{name}, T={t:.2f}"] = (softmax(lg, t), lb)
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot_reliability(curves, args.plot, title=f"{args.model}: reliability before/after "
                                                  "temperature scaling")
        print(f"reliability diagram: {args.plot}")
    if not args.dry_run:
        path = save_calibration(Path(lid.files.config).parent, t, fitted_on=str(args.data),
                                n=int(len(labels)), report=report)
        print(f"wrote {path}")
    else:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
