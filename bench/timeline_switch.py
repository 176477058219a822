"""Benchmark: the language timeline on code-switched files, and its memory on long files.

Switch test (issue 11 §3): each file is two test clips of language A followed by
two of language B (0.3 s gaps, geolid_demo.mix), A != B, pairs drawn so every
file has a different pair. A file is right when its timeline, zxx segments left
out, is exactly [A, B] and the A->B boundary lies within 1 s of the junction
(the middle of the gap between clip 2 and clip 3).

Tuning (``--tune``): window / hop / switch penalty grid on files built from the
*dev* clips; the printed defaults were chosen there, then measured once on the
test clips.

Memory (``--memory``): peak RSS of a timeline over a 10-min and a 60-min file
(tiled test clips), each in a fresh subprocess, and the longest undecided
stretch of the Viterbi decoder.

Usage:
  python bench/timeline_switch.py [--exp /work/demo_ref/exp/lid_tiny_geo_raw]
         [--data /work/demo_ref/data] [--files 8] [--tune] [--memory]
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

SR = 16000
HERE = Path(__file__).resolve().parents[1]


def read_split(data: Path, split: str) -> Dict[str, List[str]]:
    """language -> wav paths of a Kaldi data dir."""
    wavs = {k: _local(v.strip(), data) for k, v in
            (l.split(maxsplit=1) for l in (data / split / "wav.scp").read_text().splitlines() if l.strip())}
    out: Dict[str, List[str]] = {}
    for line in (data / split / "utt2lang").read_text().splitlines():
        if line.strip():
            utt, lang = line.split()[:2]
            out.setdefault(lang, []).append(wavs[utt])
    return out


def _local(path: str, data: Path) -> str:
    """A wav.scp path, or its copy under the demo folder when the original moved."""
    if Path(path).exists() or "/corpus/" not in path:
        return path
    return str(data.parent / "corpus" / path.split("/corpus/", 1)[1])


def make_files(by_lang: Dict[str, List[str]], n: int, seed: int, out_dir: Path):
    """n files A A B B; returns [(path, A, B, junction_s)]."""
    import soundfile as sf

    from geolid.audio import load_audio
    from geolid_demo.mix import concat_languages

    rng = random.Random(seed)
    pairs = [p for p in itertools.permutations(sorted(by_lang), 2)]
    rng.shuffle(pairs)
    files = []
    for i, (a, b) in enumerate(pairs[:n]):
        clips = [(a, p) for p in rng.sample(by_lang[a], 2)] + [(b, p) for p in rng.sample(by_lang[b], 2)]
        wave, parts = concat_languages([(lang, load_audio(p).numpy()) for lang, p in clips], SR)
        junction = (parts[1].end_s + parts[2].start_s) / 2
        path = out_dir / f"switch_{i}_{a}_{b}.wav"
        sf.write(str(path), wave, SR)
        files.append((str(path), a, b, junction))
    return files


def judge(segments, a: str, b: str, junction: float) -> Tuple[bool, float]:
    """(right, |boundary - junction|) for one file's segments."""
    speech = [s for s in segments if s.language != "zxx"]
    merged = []
    for s in speech:
        if merged and merged[-1][0] == s.language:
            merged[-1][2] = s.end
        else:
            merged.append([s.language, s.start, s.end])
    if [m[0] for m in merged] != [a, b]:
        return False, float("nan")
    err = abs(merged[1][1] - junction)
    return err <= 1.0, err


def window_posteriors(lid, path: str, window: float, hop: float):
    """(log_post (T, L), speech fractions (T,), duration) for decode_timeline."""

    from geolid.audio import load_audio
    from geolid.inference.timeline import _log_posteriors, window_starts
    from geolid.inference.vad import track_array

    x = load_audio(path)
    win, h = int(round(window * SR)), int(round(hop * SR))
    starts = window_starts(len(x), win, h)
    log_post = _log_posteriors(lid, [x[s:s + win] for s in starts], 16)
    track = track_array(x)
    speech = np.array([track.fraction(s, s + win) for s in starts])
    return log_post, speech, len(x) / SR


def tune(lid, files):
    """Grid over window/hop, posterior floor and switch penalty (decoding is cheap:
    each window/hop's posteriors are computed once)."""
    from geolid.inference.timeline import decode_timeline

    print(f"\ntuning on {len(files)} dev files: files right (mean |boundary error| s of those with "
          "both languages right)")
    penalties = (2.0, 4.0, 8.0, 16.0, 32.0)
    for window, hop in ((1.5, 0.5), (2.0, 0.5), (3.0, 0.5), (2.0, 0.25)):
        cached = [window_posteriors(lid, f[0], window, hop) for f in files]
        print(f"window {window} s, hop {hop} s")
        print(f"  {'floor':<8}" + "".join(f"{'penalty ' + str(p):>15}" for p in penalties))
        for floor in (0.0, 0.01, 0.1, 0.3):
            cells = []
            for pen in penalties:
                res = [judge(decode_timeline(lp, lid.languages, window, hop, dur, sp, pen, floor), a, b, j)
                       for (lp, sp, dur), (_, a, b, j) in zip(cached, files)]
                errs = [e for _, e in res if e == e]
                cells.append(f"{sum(r for r, _ in res)}/{len(res)} ({np.mean(errs) if errs else float('nan'):.2f})")
            print(f"  {floor:<8}" + "".join(f"{c:>15}" for c in cells))


def measure(lid, files, label: str):
    from geolid.inference.options import TimelineOptions

    opts = TimelineOptions()
    print(f"\n{label}: window {opts.window} s, hop {opts.hop} s, switch penalty {opts.switch_penalty}, "
          f"floor {opts.floor}")
    right, errs, seconds, t0 = 0, [], 0.0, time.process_time()
    for path, a, b, junction in files:
        tl = lid.timeline(path, timeline=opts)
        ok, err = judge(tl.segments, a, b, junction)
        right += ok
        errs.append(err)
        seconds += tl.duration
        segs = " | ".join(f"{s.start:.2f}-{s.end:.2f} {s.language} {s.probability:.2f}" for s in tl.segments)
        print(f"  {'OK ' if ok else 'BAD'} {a}->{b} junction {junction:6.2f}  error {err:5.2f} s   {segs}")
    cpu = time.process_time() - t0
    finite = [e for e in errs if e == e] or [float("nan")]
    print(f"  => {right}/{len(files)} files right (languages and change point within 1 s); "
          f"boundary error mean {np.mean(finite):.2f} s, max {np.max(finite):.2f} s "
          f"(over {sum(e == e for e in errs)} files with the right two languages); "
          f"{seconds / cpu:.1f}x real time ({seconds:.0f} s audio, {cpu:.0f} CPU s)")


def write_long(path: Path, clips: List[str], minutes: float) -> None:
    """Tile clips into a long file, block by block (never whole in memory)."""
    import soundfile as sf

    from geolid.audio import load_audio

    waves = [load_audio(p).numpy() for p in clips]
    total, i = int(minutes * 60 * SR), 0
    with sf.SoundFile(str(path), "w", SR, 1, subtype="PCM_16") as f:
        written = 0
        while written < total:
            w = waves[i % len(waves)][: total - written]
            f.write(w)
            written += len(w)
            i += 1


def _rss_mb() -> float:
    """Current resident set size (Linux /proc), MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def memory_run(exp: str, path: str) -> None:
    """Subprocess body: one timeline, then memory and decoder figures as one line.

    Peak RSS alone would hide growth below the model-loading peak, so the current
    RSS is also sampled after every chunk, and numpy's allocations are traced.
    """
    import tracemalloc

    import torch

    from geolid.inference import timeline as tl_mod
    from geolid.inference.api import GeoLID

    torch.set_num_threads(1)
    lid = GeoLID.from_pretrained(exp, device="cpu")
    samples = []
    real = tl_mod.OnlineViterbi.push

    def spy(self, scores):
        out = real(self, scores)
        samples.append((self.max_pending, self.max_undecided, _rss_mb()))
        return out

    tl_mod.OnlineViterbi.push = spy
    lid.timeline((np.random.default_rng(0).standard_normal(10 * SR).astype(np.float32), SR))  # warm-up
    samples.clear()
    rss_start = _rss_mb()
    tracemalloc.start()
    t = time.process_time()
    tl = lid.timeline(path)
    cpu = time.process_time() - t
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = [r for _, _, r in samples]
    print(f"RESULT duration_s={tl.duration:.0f} windows={tl.num_windows} segments={len(tl.segments)} "
          f"rss_start_mb={rss_start:.0f} rss_max_during_mb={max(rss):.0f} "
          f"rss_first_chunk_mb={rss[0]:.0f} rss_last_chunk_mb={rss[-1]:.0f} "
          f"python_numpy_peak_kb={traced_peak / 1024:.0f} "
          f"peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} "
          f"max_held_windows={max(p for p, _, _ in samples)} "
          f"max_undecided_windows={max(u for _, u, _ in samples)} cpu_s={cpu:.0f}")


def memory(exp: str, clips: List[str], minutes=(10, 60)) -> None:
    print("\nmemory: timeline of long files (fresh process each)")
    with tempfile.TemporaryDirectory() as tmp:
        for m in minutes:
            path = Path(tmp) / f"long_{m}.wav"
            write_long(path, clips, m)
            r = subprocess.run([sys.executable, __file__, "--exp", exp, "--memory-run", str(path)],
                               capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            line = [l for l in r.stdout.splitlines() if l.startswith("RESULT")]
            print(f"  {m:>3} min: {line[0][7:] if line else 'FAILED ' + r.stderr[-2000:]}")
            path.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exp", default="/work/demo_ref/exp/lid_tiny_geo_raw")
    ap.add_argument("--data", default="/work/demo_ref/data")
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--minutes", default="10,60")
    ap.add_argument("--memory-run", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_run:
        memory_run(args.exp, args.memory_run)
        return
    import torch

    from geolid.inference.api import GeoLID

    torch.set_num_threads(1)
    lid = GeoLID.from_pretrained(args.exp, device="cpu")
    data = Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        if args.tune:
            tune(lid, make_files(read_split(data, "dev"), args.files * 2, args.seed, Path(tmp)))
        test = read_split(data, "test")
        measure(lid, make_files(test, args.files, args.seed, Path(tmp)), f"{args.files} test files")
    if args.memory:
        clips = [p for paths in test.values() for p in paths[:3]]
        memory(args.exp, clips, [float(m) for m in args.minutes.split(",")])


if __name__ == "__main__":
    main()
