"""How well can the model tell a language it does not know? (issue 19 §3)

Known languages: the demo's own test sets, ``dump/raw/test`` (240 clips, 12
languages) and ``dump/raw/test_accent`` (120 clips, 6 languages, accent-shifted
voices), plus a control set of the 12 known languages spoken by espeak-ng speaker
variants the demo never used (``newvoice``, 120 clips, bench/synth_unseen.py).
Unknown languages: 12 espeak-ng languages the demo models never saw
(bench/synth_unseen.py: deu jpn ara amh gug ita tur ind fin pol nld kor), 40
``test`` clips each (480), plus 24 ``enrol`` clips each used only for fitting.

Signals (geolid.inference.open_set.signals; all "higher = known"): top probability
and energy (logsumexp) at T = 1 and at the calibrated T, cosine to the nearest
sub-centre, cosine margin, embedding norm, and (geo model) minus the RMS distance
between the predicted geo vector and the predicted language's URIEL geo vector.
Combinations: z-scored sums (z-scores from known dev clips only) and a logistic
regression over all signals.

Protocol. Fitting half: the model's dev set (120 known clips, the recipe's own
held-out data) plus a random half of test and of test_accent (stratified by
language), and the ``enrol`` clips of 6 of the 12 unknown languages (only the
logistic regression uses unknown clips). Evaluation half: the other halves of
test and test_accent, all of newvoice, against the ``test`` clips of the *other*
6 unknown languages. ``--partitions`` random 6/6 partitions of the unknown
languages, each used both ways (20 evaluations), each with its own known split.
Threshold rule: keep ``--accept`` (95%) of the known fitting clips the model
identifies correctly (a wrong answer on a known language may be rejected: it is
wrong anyway); reported on the evaluation half: the false-accept rate (FAR) of
unknown-language clips at that threshold, the correct known answers kept, and the
wrong known answers rejected. The shipped default is the same rule fitted on all
known clips; its FAR is over all 480 unknown clips (never used in any fit).

Choice rule (fixed before the first run): the method with the best mean held-out AUROC
over test and test_accent on the geo model; a parameter-free single signal within
0.01 of it is preferred (it transfers to other models without refitting).

    python bench/unknown_languages.py --demo /work/research_cache/r19/demo1 \\
        --work /work/research_cache/r19/unseen [--partitions 10] [--json out.json]

The calibrated T: the folder's calibration.json if present, else fitted on dev
(geolid.inference.calibration.fit_temperature), as the recipe's calibration stage does.
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

SINGLE = ("max_prob_T1", "max_prob", "energy_T1", "energy", "max_cosine", "cosine_margin",
          "embedding_norm", "geo_agreement")
ZSUMS = (("max_cosine", "embedding_norm"), ("max_cosine", "geo_agreement"),
         ("max_cosine", "embedding_norm", "geo_agreement"), ("energy", "geo_agreement"))
LR_FEATURES = ("max_prob", "energy", "max_cosine", "cosine_margin", "embedding_norm", "geo_agreement")


def model_signals(model_dir, demo: Path, work: Path, cache: Path):
    from geolid.inference.calibration import fit_temperature
    from geolid.inference.open_set import signals

    facts = mo.model_facts(model_dir)
    langs = facts["languages"]
    unseen = su.unseen_corpus(work)
    sets = {n: mo.outputs(model_dir, n, mo.data_dir_items(demo / "dump/raw" / n), cache)
            for n in ("dev", "test", "test_accent")}
    sets["newvoice"] = mo.outputs(model_dir, "known_newvoice", su.known_new_voices(work), cache)
    sets["unk_enrol"] = mo.outputs(model_dir, "unseen_enrol", unseen["enrol"], cache)
    sets["unk_test"] = mo.outputs(model_dir, "unseen_test", unseen["test"], cache)
    t_folder = facts["temperature"]
    raw = {n: s["logits"].astype(np.float64) * t_folder for n, s in sets.items()}
    if t_folder != 1.0:
        temp, t_src = t_folder, "calibration.json"
    else:
        y = np.asarray([langs.index(lg) for lg in sets["dev"]["langs"]])
        temp, t_src = fit_temperature(raw["dev"], y), "fitted on dev"
    sig = {}
    for n, s in sets.items():
        pred = raw[n].argmax(1)
        geo = s["geo"] if s["geo"].size else None
        sig[n] = signals(raw[n] / temp, s["embeddings"], facts["weight"], facts["K"], facts["scale"],
                         geo_vectors=geo, predicted_codes=[langs[i] for i in pred], temperature=temp)
        sig[n]["_lang"] = np.asarray(s["langs"])
        if n not in ("unk_enrol", "unk_test"):
            sig[n]["_correct"] = pred == np.asarray([langs.index(lg) for lg in s["langs"]])
    return sig, temp, t_src, facts


def _half(langs: np.ndarray, rng) -> np.ndarray:
    """A boolean mask selecting half of each language's clips (random)."""
    mask = np.zeros(len(langs), bool)
    for lg in np.unique(langs):
        idx = rng.permutation(np.nonzero(langs == lg)[0])
        mask[idx[:len(idx) // 2]] = True
    return mask


def _take(d, mask):
    return {k: v[mask] for k, v in d.items()}


def _concat(ds):
    return {k: np.concatenate([d[k] for d in ds]) for k in ds[0]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", required=True, help="demo root with exp/<model> and dump/raw/{dev,test,test_accent}")
    ap.add_argument("--models", default="lid_tiny_geo_raw,lid_tiny_baseline_raw")
    ap.add_argument("--work", required=True, help="folder for the synthesised clips (reused)")
    ap.add_argument("--cache", help="model-output cache (default WORK/cache)")
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--accept", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    from sklearn.linear_model import LogisticRegression

    from geolid.inference.open_set import (ZScoreCombination, auroc, false_accept_rate,
                                           threshold_at_acceptance)

    demo, work = Path(args.demo), Path(args.work)
    cache = Path(args.cache) if args.cache else work / "cache"
    rng = np.random.default_rng(args.seed)
    parts = []
    for _ in range(args.partitions):
        perm = list(rng.permutation(su.UNSEEN))
        g1, g2 = sorted(perm[:6]), sorted(perm[6:])
        parts += [(g1, g2), (g2, g1)]
    report = {}
    for model in args.models.split(","):
        sig, temp, t_src, facts = model_signals(demo / "exp" / model, demo, work, cache)
        has_geo = "geo_agreement" in sig["dev"]
        methods = {}
        for s in SINGLE:
            if s in sig["dev"]:
                methods[s] = ("single", s)
        for combo in ZSUMS:
            if all(c in sig["dev"] for c in combo):
                methods["z(" + "+".join(combo) + ")"] = ("zsum", combo)
        feats = [f for f in LR_FEATURES if f in sig["dev"]]
        methods["logreg(" + ",".join(feats) + ")"] = ("logreg", feats)
        # one known-clip split per evaluation (same for every method): half of test and
        # of test_accent, stratified by language, joins dev as the fitting half
        split_rng = np.random.default_rng(args.seed + 1)
        known_halves = [{n: _half(sig[n]["_lang"], split_rng) for n in ("test", "test_accent")}
                        for _ in parts]

        rows = {}
        for name, (kind, what) in methods.items():
            res = {k: [] for k in ("auroc_test", "auroc_accent", "auroc_newvoice", "far", "acc_test",
                                   "acc_accent", "acc_newvoice", "rej_wrong", "threshold")}
            for (fit_langs, eval_langs), halves in zip(parts, known_halves):
                fit = _concat([sig["dev"], _take(sig["test"], halves["test"]),
                               _take(sig["test_accent"], halves["test_accent"])])
                ev = {"test": _take(sig["test"], ~halves["test"]),
                      "test_accent": _take(sig["test_accent"], ~halves["test_accent"]),
                      "newvoice": sig["newvoice"],
                      "unk": _take(sig["unk_test"], np.isin(sig["unk_test"]["_lang"], eval_langs))}
                if kind == "single":
                    def score(d, what=what):
                        return d[what]
                elif kind == "zsum":
                    zc = ZScoreCombination(what).fit(fit)

                    def score(d, zc=zc):
                        return zc(d)
                else:
                    unk_fit = _take(sig["unk_enrol"], np.isin(sig["unk_enrol"]["_lang"], fit_langs))
                    xa = np.concatenate([np.stack([fit[f] for f in what], 1),
                                         np.stack([unk_fit[f] for f in what], 1)])
                    ya = np.r_[np.ones(len(fit["max_cosine"])), np.zeros(len(unk_fit["max_cosine"]))]
                    mu, sd = xa.mean(0), xa.std(0) + 1e-12
                    lr = LogisticRegression(C=1.0, max_iter=2000).fit((xa - mu) / sd, ya)

                    def score(d, lr=lr, mu=mu, sd=sd, what=what):
                        return lr.decision_function((np.stack([d[f] for f in what], 1) - mu) / sd)
                unk = score(ev["unk"])
                thr = threshold_at_acceptance(score(fit)[fit["_correct"]], args.accept)
                res["threshold"].append(thr)
                res["far"].append(false_accept_rate(unk, thr))
                for n, key in (("test", "test"), ("test_accent", "accent"), ("newvoice", "newvoice")):
                    res["auroc_" + key].append(auroc(score(ev[n]), unk))
                    res["acc_" + key].append(float(np.mean(score(ev[n])[ev[n]["_correct"]] >= thr)))
                wrong = np.concatenate([score(ev[n])[~ev[n]["_correct"]] for n in ("test", "test_accent")])
                res["rej_wrong"].append(float(np.mean(wrong < thr)))
            row = {k: float(np.mean(v)) for k, v in res.items()}
            row.update({k + "_sd": float(np.std(v)) for k, v in res.items()})
            row["threshold_median"] = float(np.median(res["threshold"]))
            if kind == "single":        # parameter-free: also on the full pools
                allu = sig["unk_test"][what]
                row["full_auroc_test"] = auroc(sig["test"][what], allu)
                row["full_auroc_accent"] = auroc(sig["test_accent"][what], allu)
            row["kind"], row["what"] = kind, list(what) if kind != "single" else what
            rows[name] = row
        acc = {n: float(np.mean(sig[n]["_correct"])) for n in ("dev", "test", "test_accent", "newvoice")}
        report[model] = {"temperature": temp, "temperature_source": t_src, "rows": rows, "accuracy": acc,
                         "has_geo": has_geo, "_sig": sig}

        print(f"\n## {model}: T = {temp:.3f} ({t_src}); accuracy dev {100 * acc['dev']:.1f}%, test "
              f"{100 * acc['test']:.1f}%, test_accent {100 * acc['test_accent']:.1f}%, newvoice "
              f"{100 * acc['newvoice']:.1f}%")
        print(f"AUROC known vs unknown (known = positive); held-out halves: mean ± sd over "
              f"{len(parts)} evaluations (6 unknown languages each); threshold: {100 * args.accept:.0f}% "
              f"of the correctly identified known fitting clips kept")
        print("| method | AUROC test | AUROC test_accent | AUROC newvoice | full-pool AUROC test / accent "
              "| threshold (median) | FAR unknown % | correct kept % test / accent / newvoice "
              "| wrong known rejected % |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, r in rows.items():
            full = (f"{r['full_auroc_test']:.3f} / {r['full_auroc_accent']:.3f}" if "full_auroc_test" in r else "-")
            print(f"| {name} | {r['auroc_test']:.3f} ± {r['auroc_test_sd']:.3f} | {r['auroc_accent']:.3f} ± "
                  f"{r['auroc_accent_sd']:.3f} | {r['auroc_newvoice']:.3f} | {full} | {r['threshold_median']:.4g} | "
                  f"{100 * r['far']:.1f} ± {100 * r['far_sd']:.1f} | {100 * r['acc_test']:.1f} / "
                  f"{100 * r['acc_accent']:.1f} / {100 * r['acc_newvoice']:.1f} | {100 * r['rej_wrong']:.0f} |")

    first = args.models.split(",")[0]
    geo = report[first]["rows"]
    mean_auc = {n: (r["auroc_test"] + r["auroc_accent"]) / 2 for n, r in geo.items()}
    best = max(mean_auc, key=mean_auc.get)
    singles = {n: a for n, a in mean_auc.items() if geo[n]["kind"] == "single"}
    best_single = max(singles, key=singles.get)
    chosen = best_single if mean_auc[best] - singles[best_single] <= 0.01 else best
    print(f"\nbest by mean held-out AUROC (test, test_accent) on {first}: {best} ({mean_auc[best]:.3f}); "
          f"best single signal: {best_single} ({singles[best_single]:.3f}); chosen: {chosen}")
    # the shipped default: the chosen score's statistics and threshold fitted on all known
    # clips (dev + test + test_accent; the rule as above); its FAR on all 480 unknown clips,
    # which no fit has seen
    shipped = {}
    for model in args.models.split(","):
        sig = report[model].pop("_sig")
        fit = _concat([sig["dev"], sig["test"], sig["test_accent"]])
        for name in dict.fromkeys([chosen, best_single]):
            kind, what = geo[name]["kind"], geo[name]["what"]
            if not all(w in sig["dev"] for w in ([what] if kind == "single" else what)) or kind == "logreg":
                continue
            zc = ZScoreCombination(what).fit(fit) if kind == "zsum" else None
            score = (lambda d, zc=zc: zc(d)) if zc else (lambda d, what=what: d[what])
            thr = threshold_at_acceptance(score(fit)[fit["_correct"]], args.accept)
            unk = score(sig["unk_test"])
            per = {lg: false_accept_rate(unk[sig["unk_test"]["_lang"] == lg], thr) for lg in su.UNSEEN}
            shipped.setdefault(model, {})[name] = {
                "threshold": thr, "far": false_accept_rate(unk, thr), "per_language_far": per,
                "stats": {"mean": zc.mean, "std": zc.std} if zc else None}
            print(f"{model}: {name} fitted on all known clips: threshold {thr:.4f}"
                  + (f", stats mean {zc.mean}, std {zc.std}" if zc else "")
                  + f" -> FAR {100 * false_accept_rate(unk, thr):.1f}% of the 480 unknown-language clips; "
                  + "per language: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in per.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"report": report, "chosen": chosen, "shipped": shipped},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
