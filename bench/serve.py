"""``geolid serve`` throughput and latency, side by side with ``GeoLID.predict`` in-process.

On the demo-sized tiny model (random wav2vec2 4 x 64 in the MMS layout, ECAPA 64,
embedding 64, conditioning at layer 1, the demo's 12 languages; as
egs2/geolid/demo1 trains it) and synthetic speech from the demo corpus' test
sentences (espeak-ng), it prints one table:

* ``predict``: ``GeoLID.predict(path)`` in this process, one file at a time (what
  a caller that embeds the model gets per request);
* ``predict(list)``: all files in one ``predict`` call (the in-process ceiling);
* ``serve``: ``POST /v1/audio/language`` to a ``geolid serve`` process on
  127.0.0.1 at 1, 4 and 8 concurrent clients (each client sends its next request
  when its answer comes; a 503 counts and is retried after 50 ms).

Requests per second (median of ``--rounds`` interleaved rounds, so a machine that
gets busier slows every case alike), and latency p50 / p99 per request
(in-process: per call). Both sides use the same torch thread count (``--threads``)
and speech detector.

    python bench/serve.py --requests 96 --rounds 3 --threads 1
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_model(root: Path) -> Path:
    from geolid_demo.corpus import DEMO_LANGUAGES
    from geolid_demo.tiny import make_experiment, make_tiny_wav2vec2

    enc = make_tiny_wav2vec2(root / "tiny_w2v2", hidden_size=64, num_layers=4, num_heads=4,
                             intermediate_size=128, conv_dim=64, seed=0)
    make_experiment(root / "exp_demo" / "lid_tiny_geo_raw", list(DEMO_LANGUAGES),
                    encoder_path=str(enc.relative_to(root)), layers=(1,), embed_dim=64,
                    ecapa_channels=64, k_top=5)
    return root


def make_clips(root: Path, per_language: int):
    import numpy as np
    import soundfile as sf

    from geolid_demo.corpus import DEMO_LANGUAGES, plan_corpus
    from geolid_demo.espeak import synthesize

    out = []
    for p in plan_corpus(DEMO_LANGUAGES, 0, 0, per_language):
        if p.split != "test":
            continue
        wav = synthesize(p.text, p.voice, rate=p.rate, pitch=p.pitch, pitch_range=p.pitch_range)
        path = root / "clips" / f"{p.utt}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), np.asarray(wav, dtype=np.float32), 16000)
        out.append(path)
    return out


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


class InProcess:
    def __init__(self, model: Path, clips, threads: int, detector: str):
        import torch

        from geolid.inference.api import GeoLID

        torch.set_num_threads(threads)
        self.lid = GeoLID.from_pretrained(str(model), device="cpu")
        self.clips, self.opts = clips, dict(speech_detector=detector)
        for c in clips[:4]:
            self.lid.predict(str(c), **self.opts)

    def one_by_one(self, n: int):
        lat = []
        t0 = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            self.lid.predict(str(self.clips[i % len(self.clips)]), **self.opts)
            lat.append(time.perf_counter() - t)
        return time.perf_counter() - t0, lat, 0

    def as_list(self, n: int):
        paths = [str(self.clips[i % len(self.clips)]) for i in range(n)]
        t0 = time.perf_counter()
        self.lid.predict(paths, **self.opts)
        return time.perf_counter() - t0, [], 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A ``geolid serve`` process and clients for it."""

    def __init__(self, model: Path, clips, threads: int, detector: str, extra):
        import httpx

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "geolid.cli.main", "serve", "--model", str(model), "--port", str(port),
             "--threads", str(threads), "--speech-detector", detector, "--no-access-log", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.payload = [(c.name, c.read_bytes()) for c in clips]
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"server exited:\n{self.log.read().decode(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.25)

    def run(self, n: int, clients: int):
        import httpx

        lat, refused = [], [0]
        lock = threading.Lock()
        with httpx.Client(base_url=self.url, timeout=300,
                          limits=httpx.Limits(max_connections=clients)) as client:
            def one(i):
                name, data = self.payload[i % len(self.payload)]
                t = time.perf_counter()
                while True:
                    r = client.post("/v1/audio/language", files={"file": (name, data)})
                    if r.status_code != 503:
                        break
                    with lock:
                        refused[0] += 1
                    time.sleep(0.05)
                r.raise_for_status()
                with lock:
                    lat.append(time.perf_counter() - t)

            with ThreadPoolExecutor(clients) as pool:        # warm-up: connections
                list(pool.map(one, range(2 * clients)))
            lat.clear()
            refused[0] = 0
            t0 = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(one, range(n)))
            return time.perf_counter() - t0, lat, refused[0]

    def close(self):
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=96, help="requests per measurement")
    ap.add_argument("--per-language", type=int, default=2, help="clips per demo language (12)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every case")
    ap.add_argument("--threads", type=int, default=1, help="torch threads, both sides")
    ap.add_argument("--speech-detector", default="silero", choices=["silero", "energy", "none"])
    ap.add_argument("--serve-args", default="", help="extra `geolid serve` options, e.g. "
                                                     "'--max-batch 4 --batch-wait-ms 5'")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="geolid_bench_serve_") as tmp:
        root = Path(tmp)
        model = make_model(root / "model")
        clips = make_clips(root, args.per_language)
        durs = [os.path.getsize(c) / 32000 for c in clips]
        print(f"model: demo-sized tiny (wav2vec2 4 x 64, 12 languages); {len(clips)} clips of "
              f"{min(durs):.1f}-{max(durs):.1f} s (mean {statistics.mean(durs):.1f} s); "
              f"torch threads {args.threads}; speech detector {args.speech_detector}; "
              f"{os.cpu_count()} CPUs", flush=True)
        served = Served(model, clips, args.threads, args.speech_detector, args.serve_args.split())
        try:
            local = InProcess(model, clips, args.threads, args.speech_detector)
            cases = [("predict", 1, local.one_by_one), ("predict(list)", 1, local.as_list)]
            cases += [("serve", c, lambda n, c=c: served.run(n, c)) for c in (1, 4, 8)]
            runs = {(mode, c): [] for mode, c, _ in cases}
            for _ in range(args.rounds):           # interleaved: a busy machine slows all alike
                for mode, c, fn in cases:
                    runs[mode, c].append(fn(args.requests))
        finally:
            served.close()
    print(f"\n{'mode':<14} {'clients':>7} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'503s':>5}")
    for (mode, clients), rs in runs.items():
        rps = statistics.median(args.requests / wall for wall, _, _ in rs)
        lat = [x for _, ls, _ in rs for x in ls]
        refused = sum(r for _, _, r in rs)
        print(f"{mode:<14} {clients:>7} {args.requests * len(rs):>8} {rps:>8.1f} "
              f"{1000 * pct(lat, 50):>8.1f} {1000 * pct(lat, 99):>8.1f} {refused:>5}")
    print("req/s: median over rounds; latency: per request (in-process: per call), all rounds; "
          "503s: refusals retried after 50 ms (counted in the latency)")


if __name__ == "__main__":
    main()
