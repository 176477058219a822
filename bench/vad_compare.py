"""Benchmark: Silero VAD vs the energy rule as geolid's speech detector.

Inputs, one class a row:
* speech: the demo's test clips (``--data-dir``: a Kaldi dir with ``wav.scp``, default
  /work/demo_ref/data/test), or, without it, espeak-ng clips synthesised like the demo
  corpus (12 languages, held-out sentences);
* the same clips with pink noise at 10 dB and 0 dB SNR, and 30 dB quieter;
* non-speech (2-8 s each): white noise, pink noise, digital silence, chords (piano-like),
  a frequency sweep, a held tone; and white noise at three levels.

For each detector, an input is "speech" unless it is ``zxx`` (geolid's rule:
under min(0.5 s, 10% of the input) of speech frames). Printed: the share of
each class decided right, speech-vs-no-speech precision / recall / F1 (speech is
the positive class), the mean speech fraction of each class, and speed (audio
seconds per CPU second, one thread).

With ``--exp MODEL``, also the cost of the detector inside ``GeoLID.predict``: CPU
time of predicting the speech clips (written to files) with and without it.

Usage: python bench/vad_compare.py [--data-dir DIR] [--n-speech 96] [--n-noise 24] [--exp MODEL]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from geolid.inference.vad import EnergyDetector, SileroDetector, track_array
from geolid_demo.nonspeech import NON_SPEECH, pink_noise, white_noise

SR = 16000


def demo_clips(data_dir: Path, n: int) -> List[np.ndarray]:
    from geolid.audio import load_audio

    lines = [l.split(maxsplit=1) for l in (data_dir / "wav.scp").read_text().splitlines() if l.strip()]
    step = max(1, len(lines) // n)
    return [load_audio(path.strip()).numpy() for _, path in lines[::step][:n]]


def synth_clips(n: int) -> List[np.ndarray]:
    from geolid_demo.corpus import DEMO_LANGUAGES, plan_corpus
    from geolid_demo.espeak import synthesize

    per_lang = max(1, -(-n // len(DEMO_LANGUAGES)))
    plans = [p for p in plan_corpus(DEMO_LANGUAGES, 1, 1, per_lang) if p.split == "test"][:n]
    return [synthesize(p.text, p.voice, p.rate, p.pitch, p.pitch_range) for p in plans]


def add_noise(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    noise = pink_noise(len(x) / SR, seed=seed)[: len(x)]
    gain = np.sqrt(np.mean(x ** 2) / (np.mean(noise ** 2) * 10 ** (snr_db / 10)))
    return (x + gain * noise).astype(np.float32)


def build_inputs(speech: List[np.ndarray], n_noise: int) -> Dict[str, Tuple[bool, List[np.ndarray]]]:
    rng = np.random.default_rng(0)
    classes: Dict[str, Tuple[bool, List[np.ndarray]]] = {
        "speech (demo clips)": (True, speech),
        "speech + pink noise 10 dB": (True, [add_noise(x, 10, i) for i, x in enumerate(speech)]),
        "speech + pink noise 0 dB": (True, [add_noise(x, 0, i) for i, x in enumerate(speech)]),
        "speech at -30 dB": (True, [0.03 * x for x in speech]),
    }
    for name, gen in NON_SPEECH.items():
        classes[name] = (False, [gen(float(rng.uniform(2, 8)), seed=i) for i in range(n_noise)])
    for level in (0.003, 0.03, 0.3):
        classes[f"white noise level {level}"] = (
            False, [white_noise(float(rng.uniform(2, 8)), seed=100 + i, level=level) for i in range(n_noise // 3)])
    return classes


def run(detector_name: str, classes) -> Tuple[Dict[str, Tuple[float, float]], float, float]:
    det = SileroDetector() if detector_name == "silero" else EnergyDetector()
    per_class, seconds, wall = {}, 0.0, 0.0
    for name, (is_speech, clips) in classes.items():
        right, fractions = 0, []
        for x in clips:
            t = time.process_time()  # CPU time: the bench machine is shared
            track = track_array(x, det)
            wall += time.process_time() - t
            seconds += len(x) / SR
            right += (not track.no_speech()) == is_speech
            fractions.append(track.fraction())
        per_class[name] = (right / len(clips), float(np.mean(fractions)))
    return per_class, seconds, wall


def f1(classes, per_class) -> Tuple[float, float, float]:
    tp = fp = fn = 0.0
    for name, (is_speech, clips) in classes.items():
        acc = per_class[name][0]
        n = len(clips)
        if is_speech:
            tp += acc * n
            fn += (1 - acc) * n
        else:
            fp += (1 - acc) * n
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def predict_overhead(exp: str, speech: List[np.ndarray]) -> None:
    import tempfile

    import soundfile as sf

    from geolid.inference.api import GeoLID, InferenceOptions

    lid = GeoLID.from_pretrained(exp, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, x in enumerate(speech):
            paths.append(str(Path(tmp) / f"{i}.wav"))
            sf.write(paths[-1], x, SR)
        cpu = {}
        for det in ("none", "silero", "none", "silero"):  # twice each, the second counts
            t = time.process_time()
            preds = lid.predict(paths, options=InferenceOptions(speech_detector=det))
            cpu[det] = time.process_time() - t
        zxx = sum(p.language == "zxx" for p in preds)
    print(f"\npredict on {len(paths)} speech files with {exp}: {cpu['none']:.2f} CPU s without the "
          f"detector, {cpu['silero']:.2f} with it (+{100 * (cpu['silero'] / cpu['none'] - 1):.0f}%); "
          f"{zxx} labelled zxx")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="/work/demo_ref/data/test")
    ap.add_argument("--n-speech", type=int, default=96)
    ap.add_argument("--n-noise", type=int, default=24)
    ap.add_argument("--exp", help="also measure the detector's cost inside predict with this model")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    data_dir = Path(args.data_dir)
    if (data_dir / "wav.scp").is_file():
        speech, source = demo_clips(data_dir, args.n_speech), str(data_dir)
    else:
        speech, source = synth_clips(args.n_speech), "espeak-ng synthesised (demo plan, test split)"
    print(f"speech clips: {len(speech)} from {source}, {sum(map(len, speech)) / SR:.0f} s")
    classes = build_inputs(speech, args.n_noise)
    results = {name: run(name, classes) for name in ("silero", "energy")}
    print(f"\n{'class':<28}{'n':>4}  {'silero acc':>10} {'frac':>6}  {'energy acc':>10} {'frac':>6}")
    for name, (is_speech, clips) in classes.items():
        s, e = results["silero"][0][name], results["energy"][0][name]
        print(f"{name:<28}{len(clips):>4}  {s[0]:>10.3f} {s[1]:>6.3f}  {e[0]:>10.3f} {e[1]:>6.3f}")
    print()
    for name, (per_class, seconds, wall) in results.items():
        p, r, f = f1(classes, per_class)
        print(f"{name:<7} speech precision {p:.3f} recall {r:.3f} F1 {f:.3f}   "
              f"speed {seconds / wall:,.0f}x real time ({seconds:.0f} s audio in {wall:.1f} CPU s, 1 thread)")
    s_speed = results["silero"][1] / results["silero"][2]
    e_speed = results["energy"][1] / results["energy"][2]
    print(f"energy rule is {e_speed / s_speed:.0f}x faster than Silero; Silero costs "
          f"{1000 / s_speed:.1f} ms a second of audio")
    if args.exp:
        predict_overhead(args.exp, speech)


if __name__ == "__main__":
    main()
