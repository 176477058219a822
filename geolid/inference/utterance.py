"""The one rule that scores an utterance of any length.

``geolid predict``, the recipe's stage 6, calibration, the timeline, the service
and the Ray stage all score an input this way:

1. the segmenter cuts it into windows (:mod:`geolid.inference.segmenter`): one
   window up to ``window`` seconds (30 s), else overlapping windows;
2. each window is scored by the model (its logits: the scoring head's, with
   temperature, extra centres and offsets), and the speech detector says how
   many of its samples are speech;
3. the utterance's probabilities are the **weighted mean of its windows'
   probabilities** (each the softmax of the window's logits), the weight of a window
   being its speech samples; a window in which the detector finds no speech (less
   than :func:`geolid.inference.vad.is_no_speech` requires) has weight 0, so silence,
   noise or music never vote. Without a detector, or when no window has speech at
   all, windows weigh by their length;
4. the embedding, the geo vector and the logits (for the unknown-language score) are
   the same weighted means of the windows'.

Why the mean of probabilities and not of logits (a product of the windows'
distributions): measured on 10-minute files whose language changes at 80%
(bench/budget.py's files, 20 s windows), the mean of logits answered the minority
language on 8% of them, when a few very confident windows outvoted many less
confident ones; the mean of probabilities was right on all. The recipe's stage 6
therefore keeps each window's logits, so that stage 7 can calibrate without a second
pass and give exactly what ``geolid predict`` computes on the calibrated model. An
input of one window (most recordings under 30 s) is scored as a whole, as the
published recipe did.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from geolid.audio import TARGET_SR
from geolid.inference.calibration import softmax
from geolid.inference.segmenter import Window
from geolid.inference.vad import is_no_speech


def aggregate_probabilities(window_logits: np.ndarray, weights: np.ndarray,
                            temperature: float = 1.0) -> np.ndarray:
    """The rule on stored window logits (N, C) with their weights (N,): what stage 7 uses
    to calibrate stage 6's windows at temperature T without running the model again."""
    p = softmax(np.asarray(window_logits, dtype=np.float64) / temperature)
    w = np.asarray(weights, dtype=np.float64)
    return (w[:, None] * p).sum(0) / w.sum()


def weights_of(windows) -> np.ndarray:
    """The weights of scored windows as the rule uses them (length when none has speech)."""
    w = np.array([window_weight(x.window, x.speech) for x in windows], dtype=np.float64)
    return w if w.sum() > 0 else np.array([float(x.window.length) for x in windows])


def window_weight(window: Window, speech: Optional[float]) -> float:
    """A window's vote: its speech samples (0 if it holds no speech); its length without a detector."""
    if speech is None:
        return float(window.length)
    seconds = window.length / TARGET_SR
    if is_no_speech(speech * seconds, seconds):
        return 0.0
    return float(speech * window.length)


@dataclass
class WindowScore:
    """One scored window."""

    window: Window
    logits: np.ndarray
    speech: Optional[float]

    @property
    def probabilities(self) -> np.ndarray:
        return softmax(self.logits)


@dataclass
class UtteranceAccumulator:
    """Running weighted sums of one utterance's windows (constant memory in its length);
    ``keep_windows`` also keeps each window's logits (``--segments``)."""

    keep_windows: bool = False
    n_windows: int = 0
    _weighted: dict = field(default_factory=dict)    # name -> running sum (speech weights)
    _by_length: dict = field(default_factory=dict)   # name -> running sum (length weights)
    _w: float = 0.0
    _len: float = 0.0
    windows: List[WindowScore] = field(default_factory=list)

    def add(self, window: Window, speech: Optional[float], logits: np.ndarray,
            embedding: np.ndarray, geo: Optional[np.ndarray]) -> None:
        w, length = window_weight(window, speech), float(window.length)
        for name, v in (("probabilities", softmax(logits)), ("logits", logits), ("embedding", embedding),
                        ("geo", geo)):
            if v is None:
                continue
            v = np.asarray(v, dtype=np.float64)
            self._weighted[name] = self._weighted.get(name, 0.0) + w * v
            self._by_length[name] = self._by_length.get(name, 0.0) + length * v
        self._w += w
        self._len += length
        self.n_windows += 1
        if self.keep_windows:
            self.windows.append(WindowScore(window, np.asarray(logits, dtype=np.float32), speech))

    def mean(self, name: str) -> Optional[np.ndarray]:
        """The utterance's ``probabilities`` / ``logits`` / ``embedding`` / ``geo`` (None if
        never given)."""
        if name not in self._by_length:
            return None
        if self._w > 0:
            return self._weighted[name] / self._w
        return self._by_length[name] / self._len
