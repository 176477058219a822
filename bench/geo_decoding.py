"""Benchmark: which decoder turns a URIEL geo vector into the best lat/lon?

Ground truth: every URIEL language with a location (7965), located exactly from its
clean vector (residual at the 4-decimal rounding level, see geolid/geo/location.py).
Learned decoders (nearest neighbour, k-NN, ridge) are scored with 5-fold
cross-validation over languages (held-out languages never seen in fitting);
trilateration has nothing to learn beyond the 299 fixed points.

Inputs: clean vectors; Gaussian noise std 0.02 and 0.05 (model predictions are
noisy); and "shrunk" vectors 0.5 * v + 0.5 * mean + noise 0.02 (an MSE regressor
pulls uncertain predictions towards the mean target).

Usage: python bench/geo_decoding.py [--folds 5] [--seed 0] [--max-langs N]
Prints one table: method x input, median / mean / 90th percentile error in km.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from geolid.geo.location import (GeoDecoder, from_unit, haversine_km, load_uriel_geo,
                                 located_languages, to_unit)


def knn_decode(train_x, train_xyz, test_x, k):
    """k nearest training languages in geo space; inverse-distance weighted mean
    of their unit vectors (k=1: plain nearest neighbour)."""
    d2 = (test_x ** 2).sum(1)[:, None] - 2 * test_x @ train_x.T + (train_x ** 2).sum(1)[None]
    idx = np.argpartition(d2, k - 1, axis=1)[:, :k] if k > 1 else np.argmin(d2, 1)[:, None]
    w = 1.0 / np.sqrt(np.maximum(np.take_along_axis(d2, idx, 1), 1e-8))
    xyz = (train_xyz[idx] * w[..., None]).sum(1)
    return from_unit(xyz)


def ridge_decode(train_x, train_xyz, test_x, alpha=1e-3):
    """Linear map to 3-D unit vectors, then back onto the sphere."""
    return from_unit(Ridge(alpha=alpha).fit(train_x, train_xyz).predict(test_x))


def scenarios(vecs, rng):
    mean = vecs.mean(0)
    return {
        "clean": vecs,
        "noise 0.02": vecs + rng.normal(0, 0.02, vecs.shape),
        "noise 0.05": vecs + rng.normal(0, 0.05, vecs.shape),
        "shrunk 0.5 + noise 0.02": 0.5 * vecs + 0.5 * mean + rng.normal(0, 0.02, vecs.shape),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-langs", type=int, default=0, help="subsample languages (0 = all)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    t0 = time.time()
    dec = GeoDecoder().fit()
    print(f"decoder fit: {time.time() - t0:.2f} s")
    langs, vecs, _ = load_uriel_geo()
    ok = np.nonzero(located_languages(vecs))[0]
    if args.max_langs:
        ok = np.sort(rng.choice(ok, args.max_langs, replace=False))
    clean = vecs[ok]
    true = np.stack(dec.decode(clean, mode="exact"), 1)
    true_xyz = to_unit(true[:, 0], true[:, 1])
    inputs = scenarios(clean, rng)

    learned = {"nearest neighbour": lambda a, b, c: knn_decode(a, b, c, 1),
               "5-NN weighted": lambda a, b, c: knn_decode(a, b, c, 5),
               "ridge -> xyz": ridge_decode}
    rows = []
    folds = KFold(args.folds, shuffle=True, random_state=args.seed)
    for name, fn in learned.items():
        for scen, x in inputs.items():
            pred = np.zeros((len(x), 2))
            for tr, te in folds.split(x):
                # train on clean vectors of the other languages, as a deployed
                # decoder would be fitted on URIEL itself
                lat, lon = fn(clean[tr], true_xyz[tr], x[te])
                pred[te] = np.stack([lat, lon], 1)
            rows.append((name, scen, haversine_km(pred[:, 0], pred[:, 1], true[:, 0], true[:, 1])))
    for mode in GeoDecoder.MODES:
        for scen, x in inputs.items():
            lat, lon = dec.decode(x, mode=mode)
            rows.append((f"trilateration ({mode})", scen, haversine_km(lat, lon, true[:, 0], true[:, 1])))

    print(f"\n{len(ok)} languages, {args.folds}-fold CV for learned decoders; error in km "
          "(median / mean / p90)\n")
    scen_names = list(inputs)
    print("| method | " + " | ".join(scen_names) + " |")
    print("|---" * (len(scen_names) + 1) + "|")
    for name in dict.fromkeys(r[0] for r in rows):
        cells = []
        for scen in scen_names:
            err = next(r[2] for r in rows if r[0] == name and r[1] == scen)
            cells.append(f"{np.median(err):.0f} / {err.mean():.0f} / {np.percentile(err, 90):.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\ntotal {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
