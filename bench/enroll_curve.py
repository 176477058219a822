"""How many clips does enrolling a new language need? (docs/enroll.md)

Model: a trained demo model (``egs2/geolid/demo1``; it never saw German or Amharic).
New languages: espeak-ng German and Amharic made by the project's synth code
(:func:`geolid.demo.corpus.make_demo_corpus`: varied speaker variants, rates
and pitches; enrolment and test sentences disjoint). For each number of enrolment
clips (1, 3, 6, 12, 24) and each method, ``--draws`` random draws of the
enrolment clips from the 24 available; reported: accuracy on the new languages'
test clips and on the demo's own test set(s) with the two new classes added.

Embeddings do not depend on the classifier, so each clip is embedded once and the
classifier is rebuilt per draw from the embeddings (:func:`logits_from_embeddings`,
the scoring ``predict`` uses). One end-to-end check (``GeoLID.enroll`` -> ``save`` ->
``from_pretrained`` -> ``predict`` on files) confirms that shortcut.

    python bench/enroll_curve.py --model /work/demo_ref/exp/lid_tiny_geo_raw \
        --demo-data /work/demo_ref/dump/raw/test --demo-data /work/demo_ref/dump/raw/test_accent \
        --work /tmp/enroll_bench [--draws 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NEW = ("deu", "amh")
COUNTS = (1, 3, 6, 12, 24)


def synth_new_languages(work: Path, n_train: int, n_test: int, seed: int):
    from geolid.demo.corpus import make_demo_corpus
    from geolid.utils.fileio import read_kaldi_map

    summary = make_demo_corpus(work / "synth", n_train_per_lang=n_train, n_dev_per_lang=0,
                               n_test_per_lang=n_test, seed=seed, languages=list(NEW), progress=False)
    out = {}
    for split in ("train", "test"):
        d = Path(summary["data_dirs"][split])
        wavs, langs = read_kaldi_map(d / "wav.scp"), read_kaldi_map(d / "utt2lang")
        out[split] = [(u, wavs[u], langs[u]) for u in sorted(wavs)]
    return out


def cached_embeddings(lid, data_dir, cache_dir: Path):
    """:func:`data_dir_embeddings`, kept in ``cache_dir`` per (model file, data dir)."""
    import hashlib

    from geolid.bin.calibrate import data_dir_embeddings

    key = hashlib.sha1(f"{Path(lid.files.model).resolve()}|{Path(data_dir).resolve()}".encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"emb_{Path(data_dir).name}_{key}.npz"
    if path.is_file():
        z = np.load(path)
        return list(z["utts"]), z["emb"], z["labels"]
    utts, emb, labels, _ = data_dir_embeddings(lid, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, utts=np.asarray(utts), emb=emb, labels=labels)
    return utts, emb, labels


def accuracy(logits: np.ndarray, truth) -> float:
    return float((logits.argmax(1) == np.asarray(truth)).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--demo-data", action="append", required=True, help="demo test data dir(s)")
    ap.add_argument("--work", required=True, help="folder for the synthesised clips (reused)")
    ap.add_argument("--n-test", type=int, default=30, help="test clips per new language")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--methods", default="kmeans,mean")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dialect", help="also: enrol half of this demo set (e.g. test_accent) as extra "
                                      "centres of its own languages, test on the other half")
    ap.add_argument("--json", help="write all figures here")
    args = ap.parse_args(argv)

    import torch

    from geolid.inference.api import GeoLID
    from geolid.inference.enroll import centres_from_embeddings, logits_from_embeddings

    t0 = time.time()
    work = Path(args.work)
    clips = synth_new_languages(work, max(COUNTS), args.n_test, args.seed)
    lid = GeoLID.from_pretrained(args.model, device="cpu", dtype="float32")
    base_langs = list(lid.languages)
    assert not set(NEW) & set(base_langs), "the model already knows a 'new' language"
    emb = {s: lid.embed([p for _, p, _ in clips[s]]) for s in ("train", "test")}
    demo = {}
    for d in args.demo_data:
        _, e, labels = cached_embeddings(lid, d, work / "cache")
        demo[Path(d).name] = (e, labels)
    print(f"embedded {sum(len(v) for v in clips.values())} new + "
          f"{sum(len(v[1]) for v in demo.values())} demo clips in {time.time() - t0:.0f} s", file=sys.stderr)

    loss = lid.model.loss
    k = int(loss.K)
    w0 = loss.weight.detach().clone()
    all_langs = base_langs + list(NEW)
    test_truth = [all_langs.index(lang) for _, _, lang in clips["test"]]
    base = {name: accuracy(logits_from_embeddings(lid, e, calibrated=False), y)
            for name, (e, y) in demo.items()}
    rng = np.random.default_rng(args.seed)
    train_idx = {lang: [i for i, (_, _, lg) in enumerate(clips["train"]) if lg == lang] for lang in NEW}
    rows = []
    for method in args.methods.split(","):
        for n in COUNTS:
            accs, per_lang, demo_acc = [], {lang: [] for lang in NEW}, {name: [] for name in demo}
            for draw in range(args.draws if n < max(COUNTS) else 1):
                new_rows = []
                for lang in NEW:
                    pick = rng.choice(train_idx[lang], size=n, replace=False)
                    new_rows.append(centres_from_embeddings(emb["train"][pick], k, method, seed=draw))
                with torch.no_grad():
                    loss.weight = torch.nn.Parameter(torch.cat([w0, torch.as_tensor(np.concatenate(new_rows))]))
                lg = logits_from_embeddings(lid, emb["test"], calibrated=False)
                accs.append(accuracy(lg, test_truth))
                for lang in NEW:
                    m = np.asarray([t == all_langs.index(lang) for t in test_truth])
                    per_lang[lang].append(accuracy(lg[m], np.asarray(test_truth)[m]))
                for name, (e, y) in demo.items():
                    demo_acc[name].append(accuracy(logits_from_embeddings(lid, e, calibrated=False), y))
            row = {"method": method, "clips": n, "draws": len(accs),
                   "new_acc": float(np.mean(accs)), "new_acc_min": float(np.min(accs)),
                   **{f"acc_{lang}": float(np.mean(v)) for lang, v in per_lang.items()},
                   **{f"demo_{name}": float(np.mean(v)) for name, v in demo_acc.items()}}
            rows.append(row)
    loss.weight = torch.nn.Parameter(w0)

    # end-to-end check of the shortcut with the real API (12 clips, kmeans)
    check = GeoLID.from_pretrained(args.model, device="cpu", dtype="float32")
    pick = {lang: [clips["train"][i][1] for i in train_idx[lang][:12]] for lang in NEW}
    check.enroll(pick, method="kmeans")
    with tempfile.TemporaryDirectory() as tmp:
        saved = GeoLID.from_pretrained(str(check.save(Path(tmp) / "enrolled")), device="cpu",
                                       dtype="float32")
        preds = saved.predict([p for _, p, _ in clips["test"]])
    e2e = float(np.mean([p.language == lang for p, (_, _, lang) in zip(preds, clips["test"])]))
    with torch.no_grad():
        new_rows = [centres_from_embeddings(emb["train"][train_idx[lang][:12]], k, "kmeans") for lang in NEW]
        loss.weight = torch.nn.Parameter(torch.cat([w0, torch.as_tensor(np.concatenate(new_rows))]))
    shortcut = accuracy(logits_from_embeddings(lid, emb["test"], calibrated=False), test_truth)

    print(f"\nModel {args.model}: {len(base_langs)} languages; new: {', '.join(NEW)} "
          f"({args.n_test} test clips each); mean over {args.draws} draws of the enrolment clips")
    print("base accuracy without enrolment: " + ", ".join(f"{n} {100 * a:.1f}%" for n, a in base.items()))
    head = ["method", "clips/lang", "new langs acc %", "min %"] + [f"{lang} %" for lang in NEW] + \
        [f"{n} % (Δ)" for n in demo]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["method"], str(r["clips"]), f"{100 * r['new_acc']:.1f}", f"{100 * r['new_acc_min']:.1f}"]
        cells += [f"{100 * r[f'acc_{lang}']:.1f}" for lang in NEW]
        cells += [f"{100 * r[f'demo_{n}']:.1f} ({100 * (r[f'demo_{n}'] - base[n]):+.1f})" for n in demo]
        print("| " + " | ".join(cells) + " |")
    print(f"\nend-to-end (enroll -> save -> from_pretrained -> predict files, 12 clips, kmeans): "
          f"{100 * e2e:.1f}% vs embedding shortcut {100 * shortcut:.1f}%")
    loss.weight = torch.nn.Parameter(w0)
    dialect = ({m: _dialect(lid, demo, args.dialect, k, m) for m in args.methods.split(",")}
               if args.dialect else None)
    print(f"total {time.time() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"base": base, "rows": rows, "e2e": e2e,
                                               "shortcut": shortcut, "dialect": dialect}, indent=1))
    return 0


def _dialect(lid, demo, name, k, method):
    """Known languages, new accents: even clips of each language in ``name`` become
    extra centres (kmeans), odd clips are the test; the other demo sets show the cost."""
    from geolid.inference.enroll import ExtraCentres, centres_from_embeddings, logits_from_embeddings

    emb, labels = demo[name]
    enrol = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        enrol[idx[::2]] = True
    classes, rows = [], []
    for c in np.unique(labels):
        cen = centres_from_embeddings(emb[enrol & (labels == c)], 1 if method == "mean" else k, method)
        classes += [int(c)] * len(cen)
        rows.append(cen)
    out = {}
    for label, table in (("before", None), ("after", ExtraCentres(np.asarray(classes), np.concatenate(rows)))):
        lid.extra_centres = table
        out[label] = {n: accuracy(logits_from_embeddings(lid, e, calibrated=False)[~enrol], y[~enrol])
                      if n == name else accuracy(logits_from_embeddings(lid, e, calibrated=False), y)
                      for n, (e, y) in demo.items()}
    lid.extra_centres = None
    print(f"\ndialect adaptation ({method}): {int(enrol.sum())} clips of {name} enrolled as extra centres of their "
          f"own languages ({len(classes)} centres); held-out half of {name}: "
          f"{100 * out['before'][name]:.1f}% -> {100 * out['after'][name]:.1f}%; " +
          ", ".join(f"{n}: {100 * out['before'][n]:.1f}% -> {100 * out['after'][n]:.1f}%"
                    for n in demo if n != name))
    return out


if __name__ == "__main__":
    sys.exit(main())
