"""Benchmark: which resampler should every geolid audio path use?

Candidates (all installed with geolid's requirements):

* ``soxr`` HQ and VHQ (libsoxr; ``soxr.resample``),
* ``torchaudio.functional.resample`` with its default windowed sinc (Hann, 6 zero
  crossings) and with the "kaiser_best" settings of its docs (64 zero crossings),
* ``scipy.signal.resample_poly`` (Kaiser window, beta 5, the polyphase default).

Quality is measured against an exact reference: the test signal is a sum of
sinusoids known in closed form, so its value at every output instant is computed
in float64 rather than by another resampler.

* SNR (dB): band-limited signal (40 random tones from 60 Hz up to 0.25 x the output
  rate, i.e. 4 kHz at 16 kHz, where most speech energy lies; and up to 0.4 x, i.e.
  6.4 kHz), exact vs resampled, edges excluded.
* alias (dB): worst output/input power ratio of single tones that the resampler
  must remove (between 0.55 x the output rate and 0.45 x the input rate); lower
  is better, an ideal low-pass gives -inf.
* speed: 20 s of audio per call, as times real time (one thread; best of 7,
  methods timed in turn).
* memory: peak RSS growth of a fresh process resampling 3 s at the rate (MB).
  torchaudio builds a filter of (new/g) x (orig/g) taps (g = gcd of the rates), so
  at 44099 Hz it is not run (12.4 GB measured in issue 7); the table prints the
  size of that filter instead.

Usage: OMP_NUM_THREADS=1 python bench/resample.py [--rates 44100,48000,22050,8000,44099]
Prints one table: method x input rate (to 16 kHz).

Measured (2026-11-29, shared 2-core machine at load ~16, so speeds are only
comparable within a row; quality columns are exact and repeat to 0.1 dB):

    method                     rate  SNR<4k SNR<6.4k  alias dB  x realtime          peak MB (3 s)
    soxr_hq                   44100   117.6     79.7    -137.3        2438                      1
    soxr_vhq                  44100   114.5     81.9    -157.8         903                      2
    torchaudio_hann           44100    61.4     38.5     -14.1         874                     19
    torchaudio_kaiser_best    44100   111.6    109.0    -109.7         406                     18
    scipy_poly                44100    61.0     61.6     -22.6         557                      0

    soxr_hq                   48000   135.4    135.0    -136.2        5452                      0
    soxr_vhq                  48000   151.7    151.6    -156.1         229                      0
    torchaudio_hann           48000    61.4     38.5     -14.1         152                      0
    torchaudio_kaiser_best    48000   125.6    126.0    -129.2          28                      0
    scipy_poly                48000    61.8     62.1     -22.6          99                      0

    soxr_hq                   22050   117.6     79.7    -135.4         278                      0
    soxr_vhq                  22050   114.5     81.9    -155.2         267                      0
    torchaudio_hann           22050    61.4     38.5     -14.1         139                      0
    torchaudio_kaiser_best    22050   102.7    101.3    -104.9          65                      0
    scipy_poly                22050    60.9     61.4     -22.6         154                      0

    soxr_hq                    8000   133.4    133.4       nan       17420                      0
    soxr_vhq                   8000   150.2    150.3       nan       12492                      0
    torchaudio_hann            8000    59.1     37.2       nan         306                      0
    torchaudio_kaiser_best     8000   123.8    125.0       nan         253                      0
    scipy_poly                 8000    61.8     60.5       nan         272                      0

    soxr_hq                   44099   117.7     79.7    -139.4         350                      0
    soxr_vhq                  44099   114.5     82.0    -157.8         144                      0
    torchaudio_hann           44099       -        -         -           - not run: filter 5.3 GB
    torchaudio_kaiser_best    44099       -        -         -           - not run: filter 5.3 GB
    scipy_poly                44099    61.0     61.6     -22.6           9                      0
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np

OUT_SR = 16000
METHODS = ("soxr_hq", "soxr_vhq", "torchaudio_hann", "torchaudio_kaiser_best", "scipy_poly")
# torchaudio's filter is (new/g) x (orig/g + 2 * width) float64 taps; above this many
# bytes a run would threaten the machine, so it is reported instead of run.
TORCH_FILTER_LIMIT = 2 << 30


def resample(method: str, x: np.ndarray, orig: int, new: int) -> np.ndarray:
    if method.startswith("soxr"):
        import soxr
        return soxr.resample(x, orig, new, quality="VHQ" if method == "soxr_vhq" else "HQ")
    if method.startswith("torchaudio"):
        import torch
        import torchaudio.functional as AF
        kw = {}
        if method == "torchaudio_kaiser_best":
            kw = dict(lowpass_filter_width=64, rolloff=0.9475937167399596,
                      resampling_method="sinc_interp_kaiser", beta=14.769656459379492)
        with torch.no_grad():
            return AF.resample(torch.from_numpy(x), orig, new, **kw).numpy()
    if method == "scipy_poly":
        from scipy.signal import resample_poly
        g = math.gcd(orig, new)
        return resample_poly(x, new // g, orig // g).astype(np.float32)
    raise ValueError(method)


def torch_filter_bytes(method: str, orig: int, new: int) -> int:
    g = math.gcd(orig, new)
    o, n = orig // g, new // g
    width_zc = 64 if method == "torchaudio_kaiser_best" else 6
    width = math.ceil(width_zc * o / (min(o, n) * 0.99))
    return n * (2 * width + o) * 8


def tones(freqs, phases, amps, t):
    return (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None] + phases[:, None])).sum(0)


def snr_db(method: str, orig: int, top: float, seconds: float = 2.0, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    k = 40
    freqs = rng.uniform(60, top * min(orig, OUT_SR), k)
    phases, amps = rng.uniform(0, 2 * np.pi, k), rng.uniform(0.2, 1.0, k) / k
    x = tones(freqs, phases, amps, np.arange(int(seconds * orig)) / orig).astype(np.float32)
    y = resample(method, x, orig, OUT_SR).astype(np.float64)
    ref = tones(freqs, phases, amps, np.arange(len(y)) / OUT_SR)
    edge = int(0.1 * OUT_SR)
    err = y[edge:-edge] - ref[edge:-edge]
    return 10 * np.log10((ref[edge:-edge] ** 2).mean() / max((err ** 2).mean(), 1e-30))


def alias_db(method: str, orig: int, seconds: float = 1.0) -> float:
    """Worst residual of tones above the output Nyquist (nan when the input has none)."""
    lo, hi = 0.55 * OUT_SR, 0.45 * orig
    if hi <= lo:
        return float("nan")
    t = np.arange(int(seconds * orig)) / orig
    worst = -np.inf
    for f in np.linspace(lo, hi, 7):
        x = np.sin(2 * np.pi * f * t).astype(np.float32)
        y = resample(method, x, orig, OUT_SR).astype(np.float64)
        edge = int(0.1 * OUT_SR)
        worst = max(worst, 10 * np.log10(max((y[edge:-edge] ** 2).mean(), 1e-30) / 0.5))
    return worst


def speed_x_realtime(methods, orig: int, seconds: float = 20.0, reps: int = 7) -> dict:
    """Best of ``reps`` timings per method, taken round-robin so that load from other
    processes on a shared machine hits every method alike."""
    x = np.random.default_rng(1).standard_normal(int(seconds * orig)).astype(np.float32) * 0.1
    for method in methods:
        resample(method, x[:orig], orig, OUT_SR)  # warm-up (imports, filter caches)
    best = {m: math.inf for m in methods}
    for _ in range(reps):
        for method in methods:
            t0 = time.perf_counter()
            resample(method, x, orig, OUT_SR)
            best[method] = min(best[method], time.perf_counter() - t0)
    return {m: seconds / t for m, t in best.items()}


_MEM_CHILD = """
import resource, sys, numpy as np
sys.path.insert(0, {root!r})
from bench.resample import resample
method, orig = sys.argv[1], int(sys.argv[2])
x = np.random.default_rng(0).standard_normal(3 * orig).astype(np.float32) * 0.1
resample(method, x[:1000], 44100, 16000)  # imports and library set-up, not counted
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
resample(method, x, orig, 16000)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def memory_mb(method: str, orig: int) -> str:
    if method.startswith("torchaudio"):
        need = torch_filter_bytes(method, orig, OUT_SR)
        if need > TORCH_FILTER_LIMIT:
            return f"not run: filter {need / 2**30:.1f} GB"
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", _MEM_CHILD.format(root=root), method, str(orig)],
                         capture_output=True, text=True, check=True)
    return f"{float(out.stdout.strip()):.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", default="44100,48000,22050,8000,44099")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    rows = []
    print(f"{'method':24s} {'rate':>6s} {'SNR<4k':>7s} {'SNR<6.4k':>8s} {'alias dB':>9s} "
          f"{'x realtime':>11s} {'peak MB (3 s)':>22s}")
    for orig in rates:
        mems = {m: memory_mb(m, orig) for m in METHODS}
        runnable = [m for m in METHODS if not mems[m].startswith("not run")]
        speeds = speed_x_realtime(runnable, orig)
        for method in METHODS:
            mem = mems[method]
            if method not in runnable:
                row = dict(method=method, rate=orig, snr4k=None, snr6k=None, alias=None,
                           speed=None, mem=mem)
                print(f"{method:24s} {orig:6d} {'-':>7s} {'-':>8s} {'-':>9s} {'-':>11s} {mem:>22s}")
            else:
                row = dict(method=method, rate=orig, snr4k=snr_db(method, orig, 0.25),
                           snr6k=snr_db(method, orig, 0.4), alias=alias_db(method, orig),
                           speed=speeds[method], mem=mem)
                print(f"{method:24s} {orig:6d} {row['snr4k']:7.1f} {row['snr6k']:8.1f} "
                      f"{row['alias']:9.1f} {row['speed']:11.0f} {mem:>22s}")
            rows.append(row)
            sys.stdout.flush()
        print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
