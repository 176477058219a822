"""Enrolling new languages: accuracy vs clips, and what it costs the known ones (docs/enroll.md).

Model: a trained demo model (``egs2/geolid/demo1``). New languages: 6 pairs of
espeak-ng languages the model never saw (bench/synth_unseen.py; pairs fixed
before any run): deu+amh (the issue's pair), ara+jpn, gug+kor, ita+tur, ind+fin,
pol+nld; 24 enrolment clips and 40 test clips a language, disjoint sentences.
For each count (3, 6, 12, 24 clips a language) ``--draws`` random draws of the
enrolment clips (one draw at 24 = all of them); a pair is enrolled together.
Reported: accuracy on each new language's test clips, and on the demo's own test
sets (``test``, ``test_accent``) with the two new classes added, against the
model without enrolment.

Methods, all scored in numpy from cached embeddings
(geolid.inference.enrolment_method.class_logits: scale * max cosine + offset):

* ``mean``, ``kmeans``: today's ``geolid enroll`` (centres from
  geolid.inference.enroll.centres_from_embeddings, no offsets);
* ``offset``: geolid.inference.enrolment_method.enrol without reference clips
  (leave-one-out offsets, never above 0);
* ``offset+ref:s=S``: the same with the demo's dev set (120 clips of the known
  languages) as reference clips and safety S logits (default 1);
* ``oracle offsets``: mean centres, the two offsets chosen on the *test* data itself
  (grid -6..10 step 0.5) to maximise the worse new language's accuracy with the
  in-variant test set within 2 points: an upper bound for any offset rule, not a method.

A consistency check compares the numpy scores with ``GeoLID.enroll`` (method mean)
+ ``embedding_logits`` on one draw.

    python bench/enroll_curve.py --demo /work/research_cache/r19/demo1 \\
        --work /work/research_cache/r19/unseen [--draws 5] [--png docs/enroll_curve.png] \\
        [--dialect test_accent] [--ceiling] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import model_outputs as mo  # noqa: E402
import synth_unseen as su  # noqa: E402

PAIRS = (("deu", "amh"), ("ara", "jpn"), ("gug", "kor"), ("ita", "tur"), ("ind", "fin"), ("pol", "nld"))
COUNTS = (3, 6, 12, 24)
BOUND = 0.02          # the known languages may lose at most 2 points (in-variant test)
TARGET = 0.80         # each enrolled language


def accuracy(logits: np.ndarray, truth) -> float:
    return float(np.mean(np.asarray(logits).argmax(1) == np.asarray(truth)))


def method_rows(method: str, embs, w, k, scale, seed, ref):
    """(rows, offsets) for one enrolment: rows (N*K, D), offsets (C + N,)."""
    from geolid.inference.enroll import centres_from_embeddings
    from geolid.inference.enrolment_method import enrol

    n_known = w.shape[0] // k
    if method in ("mean", "kmeans"):
        rows = np.concatenate([centres_from_embeddings(e, k, method, seed=seed) for e in embs])
        return rows, np.zeros(n_known + len(embs))
    if method == "offset":
        res = enrol(embs, w, k, scale)
    elif method.startswith("offset+ref"):
        res = enrol(embs, w, k, scale, known_embeddings=ref[0], known_labels=ref[1],
                    safety=float(method.split("s=")[1]))
    else:
        raise ValueError(method)
    return res.rows, res.offsets


def oracle(embs, w, k, scale, tests, known_x, known_y, base):
    from geolid.inference.enrolment_method import class_logits

    n_known = w.shape[0] // k
    rows = np.concatenate([np.repeat(e.mean(0, keepdims=True) / np.linalg.norm(e.mean(0)), k, 0) for e in
                           [x / np.linalg.norm(x, axis=1, keepdims=True) for x in embs]])
    w2 = np.concatenate([w / np.linalg.norm(w, axis=1, keepdims=True), rows])
    zk = class_logits(known_x, w2, k, scale)
    zn = [class_logits(t, w2, k, scale) for t in tests]
    grid = np.arange(-6, 10.01, 0.5)
    best = (-1.0, 0.0, 0.0)
    for b1 in grid:
        for b2 in grid:
            off = np.r_[np.zeros(n_known), b1, b2]
            if base - accuracy(zk + off, known_y) > BOUND + 1e-9:
                continue
            worst = min(accuracy(z + off, np.full(len(z), n_known + j)) for j, z in enumerate(zn))
            if worst > best[0]:
                best = (worst, b1, b2)
    return rows, np.r_[np.zeros(n_known), best[1], best[2]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", required=True, help="demo root with exp/<model> and dump/raw/{dev,test,test_accent}")
    ap.add_argument("--model", default="lid_tiny_geo_raw")
    ap.add_argument("--work", required=True, help="folder for the synthesised clips (reused)")
    ap.add_argument("--cache", help="model-output cache (default WORK/cache)")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--methods", default="mean,kmeans,offset,offset+ref:s=0,offset+ref:s=1,offset+ref:s=2,oracle")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--png", help="draw the curve here (e.g. docs/enroll_curve.png)")
    ap.add_argument("--dialect", help="also: enrol half of this demo set (e.g. test_accent) as extra "
                                      "centres of its own languages, test on the other half")
    ap.add_argument("--ceiling", action="store_true",
                    help="also: per new language, the best any centre / classifier reaches at 1%% of the "
                         "known test clips taken (oracle thresholds; uses the demo's train set)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    from geolid.inference.enrolment_method import class_logits

    t0 = time.time()
    demo, work = Path(args.demo), Path(args.work)
    cache = Path(args.cache) if args.cache else work / "cache"
    mdir = demo / "exp" / args.model
    facts = mo.model_facts(mdir)
    langs, w, k, scale = facts["languages"], facts["weight"].astype(np.float64), facts["K"], facts["scale"]
    n_known = len(langs)
    unseen = su.unseen_corpus(work)
    enr = mo.outputs(mdir, "unseen_enrol", unseen["enrol"], cache)
    tst = mo.outputs(mdir, "unseen_test", unseen["test"], cache)
    known = {}
    for name in ("dev", "test", "test_accent"):
        d = mo.outputs(mdir, name, mo.data_dir_items(demo / "dump/raw" / name), cache)
        known[name] = (d["embeddings"].astype(np.float64), np.asarray([langs.index(lg) for lg in d["langs"]]))
    base = {n: accuracy(class_logits(x, w, k, scale), y) for n, (x, y) in known.items()}
    methods = args.methods.split(",")
    rng = np.random.default_rng(args.seed)
    results = {m: {n: {p: [] for p in PAIRS} for n in COUNTS} for m in methods}
    for pair in PAIRS:
        pools = [np.nonzero(enr["langs"] == lg)[0] for lg in pair]
        tests = [tst["embeddings"][tst["langs"] == lg].astype(np.float64) for lg in pair]
        for n in COUNTS:
            for draw in range(args.draws if n < 24 else 1):
                picks = [rng.choice(p, size=n, replace=False) for p in pools]
                embs = [enr["embeddings"][p].astype(np.float64) for p in picks]
                for m in methods:
                    if m == "oracle":
                        rows, off = oracle(embs, w, k, scale, tests, *known["test"], base["test"])
                    else:
                        rows, off = method_rows(m, embs, w, k, scale, draw, known["dev"])
                    w2 = np.concatenate([w / np.linalg.norm(w, axis=1, keepdims=True), rows])
                    row = {lg: accuracy(class_logits(t, w2, k, scale, off), np.full(len(t), n_known + j))
                           for j, (lg, t) in enumerate(zip(pair, tests))}
                    for name in ("test", "test_accent"):
                        row[name] = accuracy(class_logits(known[name][0], w2, k, scale, off), known[name][1]) \
                            - base[name]
                    row["offsets"] = [float(v) for v in off[n_known:]]
                    results[m][n][pair].append(row)
    check = consistency_check(mdir, unseen, enr, w, k, scale, langs)
    dialect = ({m: _dialect(mo.load(mdir), known, args.dialect, k, m) for m in ("mean", "kmeans")}
               if args.dialect else None)
    ceiling = _ceiling(demo, mdir, cache, langs, w, k, scale, enr, tst, known) if args.ceiling else None

    # ---------------------------------------------------------------- report
    def agg(m, n, pair):
        rs = results[m][n][pair]
        return {key: float(np.mean([r[key] for r in rs])) for key in list(pair) + ["test", "test_accent"]}

    print(f"Model {mdir}: {n_known} languages; base accuracy test {100 * base['test']:.1f}%, "
          f"test_accent {100 * base['test_accent']:.1f}%, dev {100 * base['dev']:.1f}%")
    print(f"pairs {', '.join('+'.join(p) for p in PAIRS)}; {len(tests[0])} test clips a language; mean over "
          f"{args.draws} draws (1 at 24); seed {args.seed}\n")
    print("| method | clips/lang | new langs % (mean) | worst new lang % | pairs meeting target "
          "| known test Δ (mean / worst pair) | accent Δ (mean / worst) |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for m in methods:
        for n in COUNTS:
            a = [agg(m, n, p) for p in PAIRS]
            new = [r[lg] for r, p in zip(a, PAIRS) for lg in p]
            ok = sum(min(r[p[0]], r[p[1]]) >= TARGET and r["test"] >= -BOUND - 1e-9 for r, p in zip(a, PAIRS))
            kt = [r["test"] for r in a]
            ka = [r["test_accent"] for r in a]
            summary.setdefault(m, {})[n] = {"new_mean": float(np.mean(new)), "new_worst": float(np.min(new)),
                                           "pairs_ok": ok, "test_mean": float(np.mean(kt)),
                                           "test_worst": float(np.min(kt)), "accent_mean": float(np.mean(ka)),
                                           "accent_worst": float(np.min(ka)), "pairs": a}
            s = summary[m][n]
            print(f"| {m} | {n} | {100 * s['new_mean']:.1f} | {100 * s['new_worst']:.1f} | {ok}/{len(PAIRS)} | "
                  f"{100 * s['test_mean']:+.1f} / {100 * s['test_worst']:+.1f} | "
                  f"{100 * s['accent_mean']:+.1f} / {100 * s['accent_worst']:+.1f} |")
    for n in (12, 24):
        print(f"\nper pair, {n} clips a language: new-language accuracy % (each) and known test / accent Δ points")
        print("| method | " + " | ".join("+".join(p) for p in PAIRS) + " |")
        print("|---|" + "---|" * len(PAIRS))
        for m in methods:
            cells = []
            for r, p in zip(summary[m][n]["pairs"], PAIRS):
                cells.append(f"{100 * r[p[0]]:.0f}/{100 * r[p[1]]:.0f} ({100 * r['test']:+.1f} / "
                             f"{100 * r['test_accent']:+.1f})")
            print(f"| {m} | " + " | ".join(cells) + " |")
    print(f"\nconsistency: GeoLID.enroll (mean) + embedding_logits vs numpy class_logits: "
          f"max |diff| {check:.2e} logits")
    print(f"total {time.time() - t0:.0f} s")
    if args.png:
        plot(summary, methods, base, Path(args.png))
    if args.json:
        Path(args.json).write_text(json.dumps({"base": base, "summary": summary, "consistency": check,
                                               "dialect": dialect, "ceiling": ceiling}, indent=1, default=str))
    return 0


def consistency_check(mdir, unseen, enr, w, k, scale, langs) -> float:
    """The API's own enrolment (mean, 12 clips of the first pair) scored by the API's
    embedding_logits vs this bench's numpy scoring of the same centres."""
    from geolid.inference.enroll import centres_from_embeddings, embedding_logits
    from geolid.inference.enrolment_method import class_logits

    from geolid import GeoLID

    lid = GeoLID.from_pretrained(str(mdir), device="cpu")   # its own copy: enrolment changes it
    pair = PAIRS[0]
    picks = {lg: [p for u, p, lgg in unseen["enrol"] if lgg == lg][:12] for lg in pair}
    lid.enroll(picks, method="mean")
    probe = enr["embeddings"][:20]
    api = embedding_logits(lid, probe, calibrated=False)
    rows = np.concatenate([centres_from_embeddings(enr["embeddings"][np.nonzero(enr["langs"] == lg)[0][:12]], k,
                                                   "mean") for lg in pair])
    ours = class_logits(probe, np.concatenate([w / np.linalg.norm(w, axis=1, keepdims=True), rows]), k, scale)
    return float(np.abs(api - ours).max())


def _dialect(lid, known, name, k, method):
    """Known languages, new accents: even clips of each language in ``name`` become
    extra centres of their own language (the API's extra-centres table), odd clips are
    the test; the other demo sets show the cost."""
    from geolid.inference.enroll import centres_from_embeddings, embedding_logits

    emb, labels = known[name]
    enrol = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        enrol[np.nonzero(labels == c)[0][::2]] = True
    classes, rows = [], []
    for c in np.unique(labels):
        cen = centres_from_embeddings(emb[enrol & (labels == c)], 1 if method == "mean" else k, method)
        classes += [int(c)] * len(cen)
        rows.append(cen)
    out = {}
    for label, table in (("before", None), ("after", (np.asarray(classes), np.concatenate(rows)))):
        lid.model.head.install(lid.model.head.temperature.item(), *(table or (None, None)))
        out[label] = {n: accuracy(embedding_logits(lid, e, calibrated=False)[~enrol], y[~enrol])
                      if n == name else accuracy(embedding_logits(lid, e, calibrated=False), y)
                      for n, (e, y) in known.items() if n != "dev"}
    lid.model.head.install(lid.model.head.temperature.item())
    print(f"\ndialect adaptation ({method}): {int(enrol.sum())} clips of {name} enrolled as extra centres of their "
          f"own languages ({len(classes)} centres); held-out half of {name}: "
          f"{100 * out['before'][name]:.1f}% -> {100 * out['after'][name]:.1f}%; " +
          ", ".join(f"{n}: {100 * out['before'][n]:.1f}% -> {100 * out['after'][n]:.1f}%"
                    for n in out["before"] if n != name))
    return out


def _ceiling(demo, mdir, cache, langs, w, k, scale, enr, tst, known, budget=0.01):
    """How separable is each new language from the known ones in this embedding?

    All 24 enrolment clips of one language; the threshold of each rule is set on the
    test data itself (an oracle) so that at most ``budget`` of the correctly identified
    known test clips are taken. Rules: the known classifier plus one new class made of
    (a) the mean, (b) 3 k-means centres, (c) every clip, (d) the mean whitened with the
    clips' own scatter (shrinkage 0.3), (e) the mean minus 0.6 x its projection on the
    nearest known centre, each with its best offset; and two classifiers trained with
    the known languages' own clips (train + dev sets, 840) against the 24: (f) logistic
    regression (C=10), (g) RBF-SVM (C=10, gamma=1) on unit embeddings.
    """
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    from geolid.inference.enrolment_method import class_logits

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    train = mo.outputs(mdir, "train", mo.data_dir_items(demo / "dump/raw/train"), cache)
    ref = np.concatenate([unit(train["embeddings"].astype(np.float64)), unit(known["dev"][0])])
    xk, yk = unit(known["test"][0]), known["test"][1]
    zk = class_logits(xk, w, k, scale)
    ok = zk.argmax(1) == yk
    kmax = zk.max(1)
    wu = unit(w)

    def at_budget(score_known, score_new):
        """share of new clips above the threshold that takes <= budget of the correct known ones"""
        thr = np.quantile(score_known[ok], 1 - budget, method="higher")
        return float(np.mean(score_new > thr))

    out = {}
    for lg in su.UNSEEN:
        e = unit(enr["embeddings"][enr["langs"] == lg].astype(np.float64))
        x = unit(tst["embeddings"][tst["langs"] == lg].astype(np.float64))
        xmax = class_logits(x, w, k, scale).max(1)
        mu = e.mean(0)
        dev = e - mu
        sw = dev.T @ dev / len(e)
        sl = 0.7 * sw + 0.3 * np.eye(len(mu)) * np.trace(sw) / len(mu)
        near = wu[np.argmax(wu @ unit(mu))]
        centres = {"mean": mu[None], "kmeans3": KMeans(3, n_init=10, random_state=0).fit(e).cluster_centers_,
                   "every clip": e, "whitened": np.linalg.solve(sl, mu)[None],
                   "minus nearest": (unit(mu) - 0.6 * (near @ unit(mu)) * near)[None]}
        row = {}
        for name, c in centres.items():
            c = unit(c)
            # new class wins iff scale*max cos(new centres) + b > best known logit
            row[name] = at_budget(scale * (xk @ c.T).max(1) - kmax, scale * (x @ c.T).max(1) - xmax)
        xs, ys = np.concatenate([ref, e]), np.r_[np.zeros(len(ref)), np.ones(len(e))]
        for name, clf in (("logreg", LogisticRegression(C=10, max_iter=5000, class_weight="balanced")),
                          ("rbf-svm", SVC(C=10, gamma=1.0, class_weight="balanced"))):
            clf.fit(xs, ys)
            row[name] = at_budget(clf.decision_function(xk), clf.decision_function(x))
        out[lg] = row
    names = list(next(iter(out.values())))
    print(f"\nceiling: new-language accuracy % when at most {100 * budget:.0f}% of the correct known test clips "
          "are taken (thresholds set on the test data; 24 enrolment clips)")
    print("| language | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for lg, row in out.items():
        print(f"| {lg} | " + " | ".join(f"{100 * row[n]:.0f}" for n in names) + " |")
    return out


def plot(summary, methods, base, out_png: Path) -> None:
    from geolid.plots.figure import save_png
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    for m in methods:
        xs = sorted(summary[m])
        style = dict(marker="o", linestyle="--" if m == "oracle" else "-")
        label = "oracle offsets (tuned on test: a bound)" if m == "oracle" else m
        ax1.plot(xs, [100 * summary[m][n]["new_mean"] for n in xs], label=label, **style)
        ax2.plot(xs, [100 * (base["test"] + summary[m][n]["test_mean"]) for n in xs], label=label, **style)
    ax1.axhline(100 * TARGET, color="grey", lw=0.8)
    ax1.text(3, 100 * TARGET + 0.5, "target 80% (each language)", fontsize=7, color="grey")
    ax2.axhline(100 * (base["test"] - BOUND), color="grey", lw=0.8)
    ax2.text(3, 100 * (base["test"] - BOUND) + 0.05, "bound: -2 points", fontsize=7, color="grey")
    ax2.axhline(100 * base["test"], color="black", lw=0.8)
    ax2.text(3, 100 * base["test"] + 0.05, "no enrolment", fontsize=7)
    for ax, title in ((ax1, "new languages: accuracy (mean of the 12, 6 pairs)"),
                      (ax2, "known languages: demo test set (mean over the 6 pairs)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(summary[methods[0]]))
        ax.set_xticklabels([str(n) for n in sorted(summary[methods[0]])])
        ax.set_xlabel("enrolment clips per language")
        ax.set_ylabel("accuracy %")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="lower left")
    save_png(fig, out_png)


if __name__ == "__main__":
    sys.exit(main())
