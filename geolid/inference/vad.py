"""Speech detection: which 32 ms frames of an input hold speech, and is there any.

The detector is Silero VAD (``silero-vad`` on PyPI, MIT): a small trained
network whose weights ship inside its wheel, so it runs offline. It sees 512
samples (32 ms at 16 kHz) at a time and carries a recurrent state, so an input
is fed block by block (:class:`SpeechTrack`) and a long file is never read
whole. The older energy rule (frames within 35 dB of the loud end) is kept, once,
as ``detector="energy"``, for one reason: ``bench/vad_compare.py`` measures Silero
against it, and that comparison is why Silero is the default. It only finds pauses
*relative* to the loudest part, so it calls white noise, tones and even digital
silence "speech"; nothing else in geolid uses an energy rule.

Uses:
* :func:`is_no_speech`: inputs with (almost) no speech get the ISO 639-2 code
  ``zxx`` ("no linguistic content") instead of a language (docs/vad.md);
* :meth:`SpeechTrack.fraction`: the share of an input (or of a window) that is
  speech, reported as ``speech_fraction``;
* :meth:`SpeechTrack.pause_midpoints`: where ``--vad`` cuts long files.

The segmenter (:mod:`geolid.inference.segmenter`) feeds a track as it reads an
input, so the detector sees each sample once, in the same pass as the model.
"""
from __future__ import annotations

import threading
import warnings
from typing import List, Optional

import numpy as np

from geolid.audio import TARGET_SR

FRAME = 512                       # samples a decision (Silero's 16 kHz chunk)
FRAME_S = FRAME / TARGET_SR       # 0.032 s
SPEECH_THRESHOLD = 0.5            # Silero's own default
ENERGY_DB_BELOW_PEAK = 35.0       # the energy rule (geolid's --vad before Silero)
MIN_PAUSE_S = 0.2                 # a shorter pause is not a --vad cut point

# "No speech" (zxx): less than this much speech in the whole input. 0.5 s is
# below the shortest spoken word-plus-syllable LID can use, and far above what
# Silero finds in noise, tones or silence (0 frames in bench/vad_compare.py).
ZXX_MIN_SPEECH_S = 0.5
# ... and, for inputs shorter than ZXX_MIN_SPEECH_S / ZXX_MIN_FRACTION (5 s),
# a clip whose speech covers at least 10% of it still counts as speech.
ZXX_MIN_FRACTION = 0.1

DETECTORS = ("silero", "energy", "none")
ZXX = "zxx"


def is_no_speech(speech_seconds: float, duration_s: float,
                 min_speech_s: float = ZXX_MIN_SPEECH_S,
                 min_fraction: float = ZXX_MIN_FRACTION) -> bool:
    """True when an input should be labelled ``zxx`` rather than a language."""
    return speech_seconds < min(min_speech_s, min_fraction * duration_s)


# ----------------------------------------------------------------- detectors
class SileroDetector:
    """Silero VAD: speech probability of each 512-sample frame, state carried over.

    Two runtimes of the same network, chosen once per process:
    * ``onnx``: Silero's "sequence" ONNX export, one onnxruntime call per block of
      frames (7x faster than the per-frame loop below; same probabilities to
      1e-5), when onnxruntime is installed;
    * ``jit``: the TorchScript model, one call per 32 ms frame (torch only).
    Each detector keeps its own recurrent state and context, so tracks of
    different inputs can interleave; the loaded model is shared.
    """

    name = "silero"
    _models: dict = {}
    _lock = threading.Lock()
    CONTEXT = 64            # samples of the previous frame each frame sees

    def __init__(self, runtime: Optional[str] = None):
        self.runtime = runtime or ("onnx" if _has_onnxruntime() else "jit")
        if self.runtime not in ("onnx", "jit"):
            raise ValueError(f"Silero runtime must be 'onnx' or 'jit', got '{runtime}'")
        self.model = self._load(self.runtime)
        self.reset()

    @classmethod
    def _load(cls, runtime: str):
        with cls._lock:
            if runtime not in cls._models:
                import torch

                threads = torch.get_num_threads()
                with warnings.catch_warnings():  # torch.jit.load's deprecation notice
                    warnings.simplefilter("ignore")
                    from silero_vad import load_silero_vad

                    cls._models[runtime] = load_silero_vad(sequence=runtime == "onnx")
                # importing silero_vad sets torch to 1 thread for the whole process
                torch.set_num_threads(threads)
            return cls._models[runtime]

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)
        if self.runtime == "jit":
            self.model.reset_states()

    def scores(self, frames: np.ndarray) -> np.ndarray:
        """``frames`` (n, 512) float32 in time order -> (n,) speech probabilities."""
        if len(frames) == 0:
            return np.zeros(0, dtype=np.float32)
        return self._scores_onnx(frames) if self.runtime == "onnx" else self._scores_jit(frames)

    def _scores_onnx(self, frames: np.ndarray) -> np.ndarray:
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        contexts = np.concatenate([self._context[None], frames[:-1, -self.CONTEXT:]])
        block = np.concatenate([contexts, frames], axis=1)
        out = []
        for i in range(0, len(block), 512):  # bounded transient memory per call
            probs, self._h, self._c = self.model.session.run(
                ["speech_probs", "hn", "cn"], {"input": block[i:i + 512], "h": self._h, "c": self._c})
            out.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        self._context = frames[-1, -self.CONTEXT:].copy()
        return np.concatenate(out)

    def _scores_jit(self, frames: np.ndarray) -> np.ndarray:
        import torch

        out = np.empty(len(frames), dtype=np.float32)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a 32 ms step is too small to share between threads
        try:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32))
                for i in range(len(frames)):
                    out[i] = float(self.model(x[i], TARGET_SR))
        finally:
            torch.set_num_threads(threads)
        return out

    @staticmethod
    def decide(scores: np.ndarray) -> np.ndarray:
        return scores >= SPEECH_THRESHOLD


def _has_onnxruntime() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


class EnergyDetector:
    """The energy rule: a frame is "speech" unless it is 35 dB below the loud end
    (95th percentile of frame energies) of the whole input. Kept for comparison."""

    name = "energy"

    def reset(self) -> None:
        pass

    @staticmethod
    def scores(frames: np.ndarray) -> np.ndarray:
        return (10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)).astype(np.float32)

    @staticmethod
    def decide(scores: np.ndarray) -> np.ndarray:
        if scores.size == 0:
            return np.zeros(0, dtype=bool)
        return scores >= np.percentile(scores, 95) - ENERGY_DB_BELOW_PEAK


def make_detector(name: str = "silero"):
    if name == "silero":
        return SileroDetector()
    if name == "energy":
        return EnergyDetector()
    raise ValueError(f"unknown speech detector '{name}'; choose from {DETECTORS[:2]}")


# -------------------------------------------------------------------- track
class SpeechTrack:
    """Per-frame speech scores of one input, fed in time order block by block.

    Memory: one float32 a 32 ms frame (450 kB an hour), plus < 512 samples of
    carry-over; a window is never held. :meth:`drop_before` frees frames a
    streaming consumer no longer needs.
    """

    def __init__(self, detector):
        self.detector = detector
        self.detector.reset()
        self._blocks: List[np.ndarray] = []
        self._carry = np.zeros(0, dtype=np.float32)
        self.first_frame = 0          # index of the first frame still held
        self._dropped_speech = 0      # speech frames among those forgotten
        self.n_samples = 0            # samples fed so far
        self._scores: Optional[np.ndarray] = None

    def feed(self, wave) -> "SpeechTrack":
        """Append 16 kHz mono samples (numpy or torch, any device)."""
        x = wave.detach().cpu().numpy() if hasattr(wave, "detach") else np.asarray(wave)
        x = np.concatenate([self._carry, x.astype(np.float32, copy=False).reshape(-1)])
        self.n_samples += x.size - self._carry.size
        n = x.size // FRAME * FRAME
        if n:
            self._blocks.append(self.detector.scores(x[:n].reshape(-1, FRAME)))
            self._scores = None
        self._carry = x[n:]
        return self

    def finish(self) -> "SpeechTrack":
        """Score the last partial frame (zero-padded); call once at the end."""
        if self._carry.size:
            last = np.zeros(FRAME, dtype=np.float32)
            last[: self._carry.size] = self._carry
            self._blocks.append(self.detector.scores(last[None]))
            self._carry = np.zeros(0, dtype=np.float32)
            self._scores = None
        return self

    @property
    def scores(self) -> np.ndarray:
        if self._scores is None:
            self._scores = (np.concatenate(self._blocks) if self._blocks
                            else np.zeros(0, dtype=np.float32))
            self._blocks = [self._scores]
        return self._scores

    @property
    def is_speech(self) -> np.ndarray:
        """Speech decision of each held frame (frame ``first_frame + i``)."""
        return self.detector.decide(self.scores)

    def speech_seconds(self) -> float:
        """Seconds of speech in everything fed (dropped frames included)."""
        return float(self._dropped_speech + self.is_speech.sum()) * FRAME_S

    def fraction(self, start: Optional[int] = None, end: Optional[int] = None) -> float:
        """Share of samples ``[start, end)`` that lie in speech frames (0..1);
        without arguments, of everything fed (frames dropped since included)."""
        if start is None and end is None:
            return min(1.0, self.speech_seconds() * TARGET_SR / self.n_samples) if self.n_samples else 0.0
        start = start or 0
        end = self.n_samples if end is None else min(end, self.n_samples)
        if end <= start:
            return 0.0
        speech = self.is_speech
        f0 = max(start // FRAME - self.first_frame, 0)
        f1 = min(-(-end // FRAME) - self.first_frame, speech.size)
        if f1 <= f0:
            return 0.0
        # frame k covers samples [k*FRAME, (k+1)*FRAME), clipped to [start, end)
        k = np.arange(f0, f1) + self.first_frame
        cover = np.minimum((k + 1) * FRAME, end) - np.maximum(k * FRAME, start)
        return float(np.sum(cover * speech[f0:f1]) / (end - start))

    def no_speech(self) -> bool:
        """Whether the whole input (all frames fed) is ``zxx``."""
        return is_no_speech(self.speech_seconds(), self.n_samples / TARGET_SR)

    def no_speech_in(self, start: int, end: int) -> bool:
        """Whether samples ``[start, end)`` (e.g. one ``--segments`` window) are ``zxx``."""
        seconds = (end - start) / TARGET_SR
        return is_no_speech(self.fraction(start, end) * seconds, seconds)

    def pause_midpoints(self, min_pause_s: float = MIN_PAUSE_S) -> List[float]:
        """Centres (seconds) of inner non-speech runs at least ``min_pause_s`` long."""
        quiet = ~self.is_speech
        if quiet.size == 0:
            return []
        edges = np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        min_len = max(1, int(round(min_pause_s / FRAME_S)))
        keep = (ends - starts >= min_len) & (starts > 0) & (ends < quiet.size)
        return [float((s + e) / 2 + self.first_frame) * FRAME_S
                for s, e in zip(starts[keep], ends[keep])]

    def drop_before(self, sample: int) -> None:
        """Forget frames that end before ``sample`` (streaming consumers)."""
        k = min(sample // FRAME - self.first_frame, self.scores.size)
        if k > 0:
            self._dropped_speech += int(self.is_speech[:k].sum())
            self._blocks = [self.scores[k:]]
            self._scores = None
            self.first_frame += k


def track_array(wave, detector="silero") -> SpeechTrack:
    """Speech track of an in-memory 16 kHz waveform."""
    det = make_detector(detector) if isinstance(detector, str) else detector
    return SpeechTrack(det).feed(wave).finish()
