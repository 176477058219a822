"""Candidate-language lists (``--languages``) and "none of these" (issue 19 §2).

For each clip of the demo's test sets, ``--draws`` random candidate lists of 3
languages are drawn (seeded):

* *in-list*: the true language + 2 random other known languages. Reported: accuracy
  of the best allowed language (probabilities renormalised over the list,
  :func:`geolid.inference.candidates.restrict`) against no list, and how often
  "none of these" fires although the true language is listed (false alarms).
* *off-list*: 3 random known languages, none of them the true one. Reported: how
  often "none of these" fires (it should).
* *unknown*: clips of 12 languages the model never saw (bench/synth_unseen.py, 40
  each) with 3 random known languages allowed: "none of these" should fire.

"None of these" = the model's probability mass on the listed languages is below a
threshold. Threshold rule: the largest value that keeps false alarms at or below
``--max-false-alarm`` (5%) on the *dev* set's in-list trials (the model's held-out
data); everything else is reported on test / test_accent. Probabilities are the
calibrated ones (the folder's calibration.json, or T fitted on dev as the recipe's
calibration stage does, when the folder has none); the T = 1 threshold is also given.

    python bench/candidate_languages.py --demo /work/research_cache/r19/demo1 \\
        --work /work/research_cache/r19/unseen [--draws 20] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import model_outputs as mo  # noqa: E402
import synth_unseen as su  # noqa: E402


def trials(labels: np.ndarray, n_class: int, draws: int, rng, in_list: bool, size: int = 3):
    """(N * draws, size) candidate lists: the true class first when ``in_list``."""
    out = []
    for y in labels:
        others = np.array([c for c in range(n_class) if c != y])
        for _ in range(draws):
            if in_list:
                out.append(np.r_[y, rng.choice(others, size - 1, replace=False)])
            else:
                out.append(rng.choice(others, size, replace=False))
    return np.asarray(out)


def evaluate(probs: np.ndarray, labels, lists: np.ndarray, draws: int, threshold: float):
    """Accuracy of the restricted argmax, "none" rate, allowed masses, over all trials."""
    from geolid.inference.candidates import decide

    p = np.repeat(probs, draws, axis=0)
    best, mass = [], []
    for row, allowed in zip(p, lists):
        b, _, m = decide(row, allowed, min_allowed_mass=0.0)
        best.append(b)
        mass.append(m)
    best, mass = np.asarray(best), np.asarray(mass)
    none = mass < threshold
    y = None if labels is None else np.repeat(labels, draws)
    return {"mass": mass, "none_rate": float(none.mean()),
            "acc_forced": None if y is None else float(np.mean(best == y)),
            "acc_with_none": None if y is None else float(np.mean((best == y) & ~none))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", required=True)
    ap.add_argument("--models", default="lid_tiny_geo_raw,lid_tiny_baseline_raw")
    ap.add_argument("--work", required=True)
    ap.add_argument("--cache")
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--max-false-alarm", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    from geolid.inference.calibration import fit_temperature, softmax
    from geolid.inference.candidates import DEFAULT_MIN_ALLOWED_MASS
    from geolid.inference.open_set import threshold_at_acceptance

    demo, work = Path(args.demo), Path(args.work)
    cache = Path(args.cache) if args.cache else work / "cache"
    unseen = su.unseen_corpus(work)["test"]
    report = {}
    for model in args.models.split(","):
        mdir = demo / "exp" / model
        facts = mo.model_facts(mdir)
        langs, n = facts["languages"], len(facts["languages"])
        sets = {s: mo.outputs(mdir, s, mo.data_dir_items(demo / "dump/raw" / s), cache)
                for s in ("dev", "test", "test_accent")}
        sets["unknown"] = mo.outputs(mdir, "unseen_test", unseen, cache)
        raw = {s: d["logits"].astype(np.float64) * facts["temperature"] for s, d in sets.items()}
        y = {s: np.asarray([langs.index(lg) for lg in sets[s]["langs"]]) for s in ("dev", "test", "test_accent")}
        t_cal = facts["temperature"] if facts["temperature"] != 1.0 else fit_temperature(raw["dev"], y["dev"])
        out = {}
        for t_name, temp in (("calibrated", t_cal), ("T=1", 1.0)):
            probs = {s: softmax(z, temp) for s, z in raw.items()}
            rng = np.random.default_rng(args.seed)
            lists = {s: {"in": trials(y[s], n, args.draws, rng, True),
                         "off": trials(y[s], n, args.draws, rng, False)} for s in y}
            lists["unknown"] = {"off": trials(np.full(len(raw["unknown"]), -1), n, args.draws, rng, False)}
            dev_in = evaluate(probs["dev"], y["dev"], lists["dev"]["in"], args.draws, 0.0)
            # largest threshold with false alarms <= max on dev in-list trials
            thr = threshold_at_acceptance(dev_in["mass"], 1.0 - args.max_false_alarm)
            res = {"temperature": temp, "threshold": thr, "at_default": {}}
            for s in ("test", "test_accent"):
                res["at_default"][s] = {
                    "false_alarm": evaluate(probs[s], y[s], lists[s]["in"], args.draws,
                                            DEFAULT_MIN_ALLOWED_MASS)["none_rate"],
                    "none_off_list": evaluate(probs[s], y[s], lists[s]["off"], args.draws,
                                              DEFAULT_MIN_ALLOWED_MASS)["none_rate"]}
            for s in ("dev", "test", "test_accent"):
                no_list = float(np.mean(probs[s].argmax(1) == y[s]))
                ins = evaluate(probs[s], y[s], lists[s]["in"], args.draws, thr)
                off = evaluate(probs[s], y[s], lists[s]["off"], args.draws, thr)
                res[s] = {"n": int(len(y[s])), "acc_no_list": no_list, "acc_list": ins["acc_forced"],
                          "acc_list_with_none": ins["acc_with_none"], "false_alarm": ins["none_rate"],
                          "none_off_list": off["none_rate"]}
            unk = evaluate(probs["unknown"], None, lists["unknown"]["off"], args.draws, thr)
            res["unknown"] = {"n": int(len(raw["unknown"])), "none_rate": unk["none_rate"]}
            out[t_name] = res
        report[model] = out

        for t_name, res in out.items():
            print(f"\n## {model}, {t_name} probabilities (T = {res['temperature']:.3f}); "
                  f"'none of these' below allowed mass {res['threshold']:.3f} "
                  f"(<= {100 * args.max_false_alarm:.0f}% false alarms on dev); {args.draws} random lists a clip")
            print("| set | clips | accuracy, no list % | accuracy, true + 2 listed % | same, 'none' counted wrong % "
                  "| 'none' false alarms (true listed) % | 'none' when true not listed (3 wrong) % |")
            print("|---|---|---|---|---|---|---|")
            for s in ("dev", "test", "test_accent"):
                r = res[s]
                print(f"| {s}{' (threshold fit)' if s == 'dev' else ''} | {r['n']} | {100 * r['acc_no_list']:.1f} | "
                      f"{100 * r['acc_list']:.1f} | {100 * r['acc_list_with_none']:.1f} | "
                      f"{100 * r['false_alarm']:.1f} | {100 * r['none_off_list']:.1f} |")
            print(f"| unknown languages (3 known listed) | {res['unknown']['n']} | - | - | - | - | "
                  f"{100 * res['unknown']['none_rate']:.1f} |")
            print(f"at the shipped DEFAULT_MIN_ALLOWED_MASS = {DEFAULT_MIN_ALLOWED_MASS}: " + "; ".join(
                f"{s} false alarms {100 * r['false_alarm']:.1f}%, 'none' off-list {100 * r['none_off_list']:.1f}%"
                for s, r in res["at_default"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
