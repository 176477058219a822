"""Inference speed of ``GeoLID.predict``, measured side by side in one run.

On a random MMS-shaped model (``--size base``: 768 x 12 wav2vec2, the published
head sizes; ``small`` / ``tiny`` for quick runs) and generated mixed-length audio
files, it prints:

1. throughput of ``predict`` on the batch of files (length-sorted batches,
   inference_mode) vs a naive loop (one file at a time, batch 1, fp32);
2. the full model's forward time / a bare ``Wav2Vec2Model`` forward on the same
   length-sorted batches (what geo conditioning + heads cost);
3. int8 dynamic quantisation vs fp32: speed and top-1 agreement;
4. peak memory of each phase (CPU: peak process RSS; GPU: peak allocated).

Timings are medians of ``--repeats`` interleaved runs after a warm-up.

    python bench/inference_speed.py --size base --files 16 --min-s 1 --max-s 6
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SIZES = {  # hidden, layers, heads, ffn, conv channels, conditioned layers, ECAPA ch, embed
    "tiny": dict(hidden_size=32, num_layers=4, num_heads=2, intermediate_size=64, conv_dim=32,
                 layers=(1, 2), ecapa=16, embed=8),
    "small": dict(hidden_size=256, num_layers=6, num_heads=4, intermediate_size=1024, conv_dim=256,
                  layers=(3, 4), ecapa=128, embed=192),
    "base": dict(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, conv_dim=512,
                 layers=(8, 9, 10, 11), ecapa=512, embed=192),
}
LANGS = ["eng", "fra", "deu", "spa", "por", "ita", "nld", "rus", "pol", "tur", "ara", "hin",
         "ben", "cmn", "jpn", "kor", "vie", "tha", "swh", "yor"]


class PeakMemory:
    """Peak resident memory of the process (CPU, sampled every 2 ms) or peak
    allocated bytes above the start (GPU) during a block."""

    def __init__(self, device):
        self.device = device
        self.peak_mb = 0.0

    @staticmethod
    def _rss_mb() -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    @contextlib.contextmanager
    def measure(self):
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            yield self
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - base) / 2 ** 20
            return
        base, peak, stop = self._rss_mb(), [0.0], threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], self._rss_mb())
                time.sleep(0.002)

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        try:
            yield self
        finally:
            stop.set()
            t.join()
            self.peak_mb = max(peak[0], self._rss_mb())  # absolute peak RSS in the phase


def build_model(root: Path, size: str) -> Path:
    from geolid_demo.tiny import make_experiment, make_tiny_wav2vec2

    s = SIZES[size]
    enc = make_tiny_wav2vec2(root / "w2v2", hidden_size=s["hidden_size"], num_layers=s["num_layers"],
                             num_heads=s["num_heads"], intermediate_size=s["intermediate_size"],
                             conv_dim=s["conv_dim"])
    exp = root / "exp" / f"lid_{size}"
    make_experiment(exp, LANGS, encoder_path=str(enc), layers=s["layers"], embed_dim=s["embed"],
                    ecapa_channels=s["ecapa"], k_top=5)
    return exp


def make_files(folder: Path, n: int, min_s: float, max_s: float, seed: int = 0):
    """Noisy harmonic 'speech-like' clips of random lengths, as wav files."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    paths, total = [], 0.0
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        dur = float(rng.uniform(min_s, max_s))
        t = np.arange(int(dur * 16000)) / 16000
        f0 = rng.uniform(90, 250)
        x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 6))
        x = x * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t)) + 0.05 * rng.standard_normal(t.size)
        p = folder / f"clip{i:03d}.wav"
        sf.write(str(p), (0.2 * x).astype("float32"), 16000)
        paths.append(str(p))
        total += dur
    return paths, total


def timed(fn, sync):
    sync()
    t = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="base")
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--min-s", type=float, default=1.0)
    ap.add_argument("--max-s", type=float, default=6.0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--model", help="benchmark this model (repo id / folder) instead of a random one")
    ap.add_argument("--audio", help="folder of real audio files instead of generated clips "
                                    "(for a meaningful int8 top-1 agreement)")
    args = ap.parse_args(argv)

    import torch

    from geolid.inference.api import GeoLID
    from geolid.inference.options import PredictOptions
    from geolid.audio import load_audio
    from geolid.inference.batching import collate, padding_fraction, plan_batches
    from geolid.inference.quantize import wav2vec2_of

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="geolid_bench_"))
    if args.model:
        exp = args.model
    else:
        print(f"building a random '{args.size}' model in {tmp} ...", file=sys.stderr)
        exp = build_model(tmp, args.size)
    if args.audio:
        from geolid.cli.predict import expand_inputs
        from geolid.audio import audio_info

        paths = [p for _, p in expand_inputs([args.audio])][: args.files]
        audio_s = sum(audio_info(p).duration for p in paths)
    else:
        paths, audio_s = make_files(tmp / "audio", args.files, args.min_s, args.max_s)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    lid = GeoLID.from_pretrained(str(exp), device=device, dtype="float32")
    dev = lid.device
    sync = (torch.cuda.synchronize if dev.type == "cuda" else (lambda: None))
    batched = PredictOptions(batch_size=args.batch_size)
    single = PredictOptions(batch_size=1)

    def naive():
        return [lid.predict(p, locate=False, options=single) for p in paths]

    def fast():
        return lid.predict(paths, locate=False, options=batched)

    # warm-up: CPU kernels (oneDNN) are prepared per input shape on first use
    naive(), fast()
    mem = PeakMemory(dev)
    results = {"naive": [], "batched": []}
    peaks = {}
    for r in range(args.repeats):
        for name, fn in (("naive", naive), ("batched", fast)):
            with mem.measure():
                dt, _ = timed(fn, sync)
            results[name].append(dt)
            peaks[name] = max(peaks.get(name, 0.0), mem.peak_mb)

    # forward / bare encoder on the same length-sorted batches
    waves = [load_audio(p) for p in paths]
    lengths = [w.numel() for w in waves]
    batches = [collate([waves[i] for i in b], dev)
               for b in plan_batches(lengths, args.batch_size)]
    hf = wav2vec2_of(lid.model)
    from transformers import Wav2Vec2Model

    bare = Wav2Vec2Model(hf.config).to(dev).eval()
    # the conditioning modules are registered inside the HF encoder: not in a bare one
    missing = bare.load_state_dict(hf.state_dict(), strict=False).missing_keys
    assert not missing, missing
    from geolid.lid.frontend.s3prl_condition import normalize_waveforms

    def run_full():
        with torch.inference_mode():
            for x, n in batches:
                lid.model.score(x, n)

    def run_bare():
        with torch.inference_mode():
            for x, n in batches:
                mask = (torch.arange(x.size(1), device=dev)[None] < n[:, None]).long()
                bare(normalize_waveforms(x, n), attention_mask=mask)

    run_full(), run_bare()
    fwd = {"full": [], "bare": []}
    for _ in range(args.repeats):
        fwd["full"].append(timed(run_full, sync)[0])
        fwd["bare"].append(timed(run_bare, sync)[0])

    # int8 vs fp32 (CPU only)
    int8 = None
    if not args.no_int8 and dev.type == "cpu":
        q = GeoLID.from_pretrained(str(exp), device="cpu", quantize="int8")
        ref = q.predict(paths, locate=False, options=batched)  # warm-up
        ref = fast()
        qt = []
        for _ in range(args.repeats):
            with mem.measure():
                dt, qout = timed(lambda: q.predict(paths, locate=False, options=batched), sync)
            qt.append(dt)
            peaks["int8"] = max(peaks.get("int8", 0.0), mem.peak_mb)
        agree = np.mean([a.top_k[0].code == b.top_k[0].code for a, b in zip(ref, qout)])
        maxdiff = max(abs(a.top_k[0].probability - dict((s.code, s.probability) for s in b.top_k)
                          .get(a.top_k[0].code, 0.0)) for a, b in zip(ref, qout))
        int8 = (statistics.median(qt), agree, maxdiff)

    # location decoding cost per file (numpy, after the model)
    t = time.perf_counter()
    lid.predict(paths, locate=True, options=batched)
    locate_s = time.perf_counter() - t - statistics.median(results["batched"])

    med = {k: statistics.median(v) for k, v in results.items()}
    fmed = {k: statistics.median(v) for k, v in fwd.items()}
    given = [list(range(i, min(i + args.batch_size, len(lengths)))) for i in range(0, len(lengths), args.batch_size)]
    print()
    cfg = hf.config
    print(f"model: {args.model or 'random ' + repr(args.size)} wav2vec2 ({cfg.hidden_size} x "
          f"{cfg.num_hidden_layers}), {len(lid.languages)} languages, device {dev}, "
          f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}")
    print(f"audio: {len(paths)} files, {audio_s:.1f} s in all ({args.min_s}-{args.max_s} s each); "
          f"median of {args.repeats} runs")
    print(f"padding: length-sorted batches {100 * padding_fraction(lengths, plan_batches(lengths, args.batch_size)):.1f}% "
          f"vs given order {100 * padding_fraction(lengths, given):.1f}% of batched samples")
    print()
    print(f"{'measurement':<44}{'seconds':>9}{'x real time':>13}{'ratio':>9}{'peak MB':>9}")
    row = "{:<44}{:>9.3f}{:>13.1f}{:>9}{:>9}"
    print(row.format("naive loop (batch 1, fp32)", med["naive"], audio_s / med["naive"], "1.00",
                     f"{peaks['naive']:.0f}"))
    print(row.format(f"predict, sorted batches of {args.batch_size} (fp32)", med["batched"],
                     audio_s / med["batched"], f"{med['naive'] / med['batched']:.2f}",
                     f"{peaks['batched']:.0f}"))
    if int8:
        print(row.format(f"predict, int8 encoder (batches of {args.batch_size})", int8[0],
                         audio_s / int8[0], f"{med['naive'] / int8[0]:.2f}", f"{peaks['int8']:.0f}"))
    print()
    print(f"forward, full model / bare Wav2Vec2Model on the same batches: "
          f"{fmed['full']:.3f} s / {fmed['bare']:.3f} s = {fmed['full'] / fmed['bare']:.2f}x")
    print(f"predict overhead beyond the forward (reading, resampling, batching, results): "
          f"{med['batched'] - fmed['full']:+.3f} s")
    if int8:
        print(f"int8 vs fp32 (batched predict): speed-up {med['batched'] / int8[0]:.2f}x, "
              f"top-1 agreement {100 * int8[1]:.1f}% ({len(paths)} files), "
              f"max |p_top1 difference| {int8[2]:.4f}")
    print(f"location decoding (GeoDecoder, first call includes its fit): {1000 * locate_s / len(paths):.1f} ms/file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
