"""Compute budget vs the full pass on long files: cost and top-1 agreement, side by side.

Files are made from the demo's test clips (``egs2/geolid/demo1``, ``make demo``), in
random order with short pauses, three kinds per language:

* ``plain``: 10 minutes of one language;
* ``lead``: the same after 60 s of noise or tones (alternately);
* ``switch``: 8 minutes of one language, then 2 minutes of another (the full pass
  answers the majority language; so should the budget).

Each file is scored by the full pass (every 30 s window) and with each ``--budget``
(default 60 and 120 s of speech), interleaved, one thread: the wall time ratios are
measured on the same files in one run.

    python bench/budget.py --model egs2/geolid/demo1/exp/lid_tiny_geo_raw \\
        --data egs2/geolid/demo1/dump/raw/test [--per-language 2] [--budget 60 120]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

SR = 16000


def make_files(data: Path, per_language: int, minutes: float, seed: int):
    from geolid.audio import load_audio
    from geolid.utils.fileio import read_kaldi_map

    rng = np.random.default_rng(seed)
    scp = read_kaldi_map(data / "wav.scp")
    by_lang = {}
    for utt, path in scp.items():
        by_lang.setdefault(utt.split("_")[0], []).append(load_audio(path).numpy())
    langs = sorted(by_lang)
    pause = np.zeros(int(0.3 * SR), "float32")

    def speech(lang, seconds):
        out, n = [], 0
        while n < seconds * SR:
            clip = by_lang[lang][rng.integers(len(by_lang[lang]))]
            out += [clip, pause]
            n += len(clip) + len(pause)
        return np.concatenate(out)[: int(seconds * SR)]

    files = []
    t = np.arange(60 * SR) / SR
    for i, lang in enumerate(langs):
        for k in range(per_language):
            total = minutes * 60
            files.append(("plain", lang, speech(lang, total)))
            lead = (0.05 * rng.standard_normal(60 * SR)).astype("float32") if k % 2 == 0 else \
                (0.2 * np.sin(2 * np.pi * (440 + 110 * k) * t)).astype("float32")
            files.append(("lead", lang, np.concatenate([lead, speech(lang, total - 60)])))
            other = langs[(i + 1 + k) % len(langs)]
            files.append(("switch", lang, np.concatenate([speech(lang, 0.8 * total), speech(other, 0.2 * total)])))
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, type=Path, help="a demo test set (wav.scp, utt ids start with the code)")
    ap.add_argument("--per-language", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--budget", type=float, nargs="+", default=[60.0, 120.0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    from geolid import GeoLID

    torch.set_num_threads(1)
    lid = GeoLID.from_pretrained(args.model, device="cpu")
    files = make_files(args.data, args.per_language, args.minutes, args.seed)
    print(f"{len(files)} files of {args.minutes:g} min, budgets {args.budget} s", file=sys.stderr)
    rows = {}
    lid.predict((files[0][2][: 5 * SR], SR))   # warm-up
    for kind, lang, x in files:
        t0 = time.perf_counter()
        full = lid.predict((x, SR), locate=False)
        full_s = time.perf_counter() - t0
        for budget in args.budget:
            t1 = time.perf_counter()
            cut = lid.predict((x, SR), locate=False, budget=budget)
            cut_s = time.perf_counter() - t1
            r = rows.setdefault((budget, kind), {"n": 0, "agree": 0, "full_s": 0.0, "budget_s": 0.0,
                                                 "speech": 0.0, "windows": 0, "full_windows": 0,
                                                 "correct_full": 0, "correct_budget": 0})
            r["n"] += 1
            r["agree"] += full.language == cut.language
            r["correct_full"] += full.language == lang
            r["correct_budget"] += cut.language == lang
            r["full_s"] += full_s
            r["budget_s"] += cut_s
            r["speech"] += cut.analysed["speech_seconds"]
            r["windows"] += cut.analysed["windows"]
            r["full_windows"] += full.num_windows
    print("\n| budget | files | n | top-1 agreement | full pass correct | budget correct | budget time / full "
          "| speech analysed (s) | windows budget / full |")
    print("|---|---|---|---|---|---|---|---|---|")
    for budget in args.budget:
        total = {k: 0.0 for k in ("n", "agree", "full_s", "budget_s")}
        for (b, kind), r in rows.items():
            if b != budget:
                continue
            for k in total:
                total[k] += r[k]
            print(f"| {budget:g} s | {kind} | {r['n']} | {100 * r['agree'] / r['n']:.1f}% "
                  f"| {100 * r['correct_full'] / r['n']:.1f}% | {100 * r['correct_budget'] / r['n']:.1f}% "
                  f"| {r['budget_s'] / r['full_s']:.3f} | {r['speech'] / r['n']:.1f} "
                  f"| {r['windows'] / r['n']:.1f} / {r['full_windows'] / r['n']:.1f} |")
        print(f"| {budget:g} s | all | {int(total['n'])} | {100 * total['agree'] / total['n']:.1f}% | | "
              f"| {total['budget_s'] / total['full_s']:.3f} | | |")
        print(f"\nbudget {budget:g} s: wall time full pass {total['full_s']:.1f} s, budget "
              f"{total['budget_s']:.1f} s (1 thread, same files, interleaved)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
