#!/usr/bin/env python3
"""Accuracy and confidence against input duration: where short inputs stop being answerable.

Cuts each test clip of a data dir to a fixed duration (centred: the middle of
the utterance, where the speech is), predicts with the minimum-duration check
off, and prints, per duration: clips, top-1 accuracy, median top-1 probability
and the median probability of the *wrong* answers. The default minimum of
``geolid predict`` (geolid/inference/short_inputs.py) is set from this table.

    python bench/short_input_accuracy.py --model /work/demo_ref/exp/lid_tiny_geo_raw \
        --data /work/demo_ref/dump/raw/test [--durations 0.1 0.2 ...] [--json out.json]

Clips shorter than a duration are left out of that row (n says how many remain).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

DURATIONS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="Kaldi dir with wav.scp and utt2lang")
    ap.add_argument("--durations", type=float, nargs="+", default=DURATIONS)
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args()

    import soundfile as sf

    from geolid.inference.api import GeoLID
    from geolid.inference.options import PredictOptions
    from geolid.utils.fileio import read_kaldi_map

    data = Path(args.data)
    scp = read_kaldi_map(data / "wav.scp")
    truth = {k: v.split()[0] for k, v in read_kaldi_map(data / "utt2lang").items()}
    waves = {}
    for key, path in scp.items():
        x, sr = sf.read(path, dtype="float32")
        assert sr == 16000 and x.ndim == 1, (path, sr, x.shape)
        waves[key] = x
    lid = GeoLID.from_pretrained(args.model, device="cpu", dtype="float32")
    options = PredictOptions(min_duration=0.0)
    rows = []
    for d in [None, *args.durations]:
        n = None if d is None else int(round(d * 16000))
        keyed = []
        for key, x in waves.items():
            if n is None:
                keyed.append((key, (x, 16000)))
            elif len(x) >= n:
                start = (len(x) - n) // 2
                keyed.append((key, (x[start:start + n], 16000)))
        preds = list(lid.predict_iter(keyed, top_k=1, locate=False, options=options))
        right = np.array([p.language == truth[p.key] for p in preds])
        prob = np.array([p.probability for p in preds])
        rows.append({"duration": d, "n": len(preds), "accuracy": float(right.mean()),
                     "median_prob": float(np.median(prob)),
                     "median_prob_wrong": float(np.median(prob[~right])) if (~right).any() else None})
        r = rows[-1]
        label = "full" if d is None else f"{d:.2f}"
        wrong = "-" if r["median_prob_wrong"] is None else f"{r['median_prob_wrong']:.3f}"
        print(f"{label:>6} s  n={r['n']:4d}  accuracy {100 * r['accuracy']:5.1f}%  "
              f"median top-1 prob {r['median_prob']:.3f}  (wrong answers: {wrong})", flush=True)
    print(f"chance: {100 / len(lid.languages):.1f}% ({len(lid.languages)} languages)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
