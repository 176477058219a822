"""What does ``--near`` do on the demo's accent-shifted test set? (docs/enroll.md)

Each clip gets "the true region" in one of two ways:

* ``uriel``: the location URIEL gives its language (one point per language:
  English in England, Spanish in Spain, Portuguese in northern Spain/Portugal);
* ``accent``: where the clip's accent is spoken (en-us: the USA, es-419: Mexico
  City, pt-br: Brasilia, fr-be: Brussels, ...; from the voice in ``utt2voice``).

For several strengths and radii: accuracy, answers changed by the prior, wrong
answers it fixed and right answers it broke. Probabilities are those ``predict``
gives (calibrated when the model folder has ``calibration.json``).

    python bench/location_prior.py --model DEMO/exp/lid_tiny_geo_raw \
        --data DEMO/dump/raw/test_accent --voices DEMO/data/test_accent/utt2voice
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# Representative point of each accent voice's region (capital or centre).
ACCENT_REGIONS = {
    "en-us": (39.8, -98.6),            # geographic centre of the contiguous USA
    "en-gb-scotland": (55.95, -3.19),  # Edinburgh
    "fr-be": (50.85, 4.35),            # Brussels
    "fr-ch": (46.20, 6.14),            # Geneva
    "es-419": (19.43, -99.13),         # Mexico City
    "pt-br": (-15.79, -47.88),         # Brasilia
    "ru-lv": (56.95, 24.11),           # Riga
    "vi-vn-x-south": (10.82, 106.63),  # Ho Chi Minh City
    "vi-vn-x-central": (16.46, 107.59),  # Hue
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="accent-shifted test data dir (wav.scp, utt2lang)")
    ap.add_argument("--voices", help="utt2voice of that set (default: DATA/utt2voice)")
    ap.add_argument("--strengths", default="0.5,0.9,0.99")
    ap.add_argument("--radii", default="500,1000,2000")
    ap.add_argument("--cache", help="embeddings cache folder (shared with bench/enroll_curve.py)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    from geolid.bin.calibrate import data_dir_embeddings
    from geolid.inference.api import GeoLID
    from geolid.inference.calibration import softmax
    from geolid.inference.enroll import embedding_logits
    from geolid.inference.prior import Near, language_locations, language_weights, reweight
    from geolid.utils.fileio import read_kaldi_map

    lid = GeoLID.from_pretrained(args.model, device="cpu", dtype="float32")
    if args.cache:
        sys.path.insert(0, str(Path(__file__).parent))
        from enroll_curve import cached_embeddings

        utts, emb, labels = cached_embeddings(lid, args.data, Path(args.cache))
    else:
        utts, emb, labels, _ = data_dir_embeddings(lid, args.data)
    probs = softmax(embedding_logits(lid, emb))   # T applied if the model has one
    voices = read_kaldi_map(args.voices or Path(args.data) / "utt2voice")
    accent = [voices[u].split()[0].split("+")[0] for u in utts]
    locs = language_locations(lid.languages)
    truth = [lid.languages[i] for i in labels]
    regions = {"uriel": [locs[t] for t in truth], "accent": [ACCENT_REGIONS[a] for a in accent]}
    base_ok = probs.argmax(1) == labels
    print(f"{args.model} on {args.data}: {len(utts)} clips, accuracy without prior "
          f"{100 * base_ok.mean():.1f}% (temperature {lid.calibration.temperature:.3f})")
    head = ["region given", "radius km", "strength", "accuracy %", "changed", "fixed", "broken"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    rows = []
    for scenario, points in regions.items():
        for radius in [float(r) for r in args.radii.split(",")]:
            for s in [float(x) for x in args.strengths.split(",")]:
                after = np.stack([reweight(p, language_weights(Near(pt[0], pt[1], radius, s),
                                                               [locs[c] for c in lid.languages]))
                                  for p, pt in zip(probs, points)])
                ok = after.argmax(1) == labels
                changed = int((after.argmax(1) != probs.argmax(1)).sum())
                row = {"region": scenario, "radius_km": radius, "strength": s,
                       "accuracy": float(ok.mean()), "changed": changed,
                       "fixed": int((ok & ~base_ok).sum()), "broken": int((~ok & base_ok).sum())}
                rows.append(row)
                print(f"| {scenario} | {radius:.0f} | {s} | {100 * row['accuracy']:.1f} | {changed} | "
                      f"{row['fixed']} | {row['broken']} |")
    per_accent = {}
    for a in sorted(set(accent)):
        m = np.array([x == a for x in accent])
        per_accent[a] = {"n": int(m.sum()), "acc": float(base_ok[m].mean())}
    print("per accent, no prior: " + ", ".join(f"{a} {100 * v['acc']:.0f}% ({v['n']})"
                                               for a, v in per_accent.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"base": float(base_ok.mean()), "rows": rows,
                                               "per_accent": per_accent}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
