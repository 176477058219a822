"""A compute budget for long inputs: analyse at most ``budget`` seconds of speech.

Users ask that LID look neither at only the first 30 s nor at all of a two-hour
file. With ``budget=B`` (``--budget B``):

1. the speech detector runs over the whole input (one cheap pass: Silero is
   hundreds of times faster than the model);
2. windows of :func:`budget_window` seconds are placed at evenly spaced points of
   the input's *speech* time, so leading silence, music or noise take no window and
   the whole recording is sampled, not its start;
3. they are scored in an order that spreads them over the input from the first
   ones on (the middle, then the ends, then the gaps between: a van der Corput
   order), and scoring stops once the answer has settled (:class:`Settling`) or
   the budget is spent;
4. the utterance rule combines the scored windows as always (speech-weighted mean
   of their probabilities); the record's ``analysed`` field says what was looked at:
   seconds of speech, windows scored and planned, how well the windows agreed,
   whether it stopped early.

``bench/budget.py`` measures cost and top-1 agreement with the full pass on
10-minute files (docs/budget.md, README).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from geolid.audio import TARGET_SR
from geolid.inference.segmenter import Window
from geolid.inference.vad import FRAME

MIN_WINDOW_S = 4.0        # shorter windows lose accuracy (docs/cli.md, short inputs)
# A budget is spread over this many windows: many short windows sample a long file better
# than a few long ones (bench/budget.py: 120 s as 12 x 10 s agreed with the full pass on
# every file, 6 x 20 s did not).
WINDOWS_PER_BUDGET = 12
MIN_WINDOWS = 3           # never stop before this many windows ...
SETTLED_RUN = 3           # ... and only after this many windows in a row kept the same answer
SETTLED_PROBABILITY = 0.9  # ... with at least this probability


def budget_window(budget_s: float, window_s: Optional[float]) -> float:
    """Window length under a budget: the budget cut into :data:`WINDOWS_PER_BUDGET` pieces,
    at least :data:`MIN_WINDOW_S`, at most the usual window."""
    return min(window_s or 30.0, max(MIN_WINDOW_S, budget_s / WINDOWS_PER_BUDGET))


def spread_order(n: int) -> List[int]:
    """0..n-1 in van der Corput order started at the middle: each prefix is spread over
    the whole range (middle, start, three quarters, one quarter, ...)."""
    if n <= 0:
        return []
    bits = max(1, math.ceil(math.log2(n)))
    size = 1 << bits
    order, seen = [], set()
    for i in range(size):
        r = (int(format(i, f"0{bits}b")[::-1], 2) + size // 2) % size   # bit-reversed, rotated
        j = min(n - 1, int((r + 0.5) * n / size))
        if j not in seen:
            seen.add(j)
            order.append(j)
    return order + [j for j in range(n) if j not in seen]


def plan_budget(is_speech: np.ndarray, n_samples: int, budget_s: float,
                window_s: Optional[float]) -> List[Window]:
    """The windows to analyse, in scoring order, from the input's per-frame speech decisions.

    ``k = ceil(min(speech, budget) / window)`` windows, centred on the points that cut
    the speech time into ``k`` equal parts; an input without speech gets one window in
    its middle (its record says ``zxx``; the window only fills the distribution).
    """
    win = min(int(round(budget_window(budget_s, window_s) * TARGET_SR)), n_samples)
    speech_frames = np.flatnonzero(np.asarray(is_speech, dtype=bool))
    speech_s = len(speech_frames) * FRAME / TARGET_SR
    if len(speech_frames) == 0 or n_samples <= win:
        start = max(0, (n_samples - win) // 2)
        return [Window(start, start + win)]
    k = max(1, math.ceil(min(speech_s, budget_s) / (win / TARGET_SR)))
    centres = speech_frames[((np.arange(k) + 0.5) * len(speech_frames) / k).astype(int)] * FRAME + FRAME // 2
    windows = []
    for c in centres:
        start = int(min(max(c - win // 2, 0), n_samples - win))
        windows.append(Window(start, start + win))
    return [windows[i] for i in spread_order(len(windows))]


@dataclass
class Settling:
    """Has the running answer settled? The top language of the running utterance
    logits has been the same for :data:`SETTLED_RUN` windows in a row, with at least
    :data:`SETTLED_PROBABILITY`, after at least :data:`MIN_WINDOWS` windows."""

    tops: List[int] = field(default_factory=list)

    def add(self, running_probabilities: np.ndarray) -> bool:
        p = np.asarray(running_probabilities)
        self.tops.append(int(np.argmax(p)))
        last = self.tops[-SETTLED_RUN:]
        return (len(self.tops) >= MIN_WINDOWS and len(last) == SETTLED_RUN
                and len(set(last)) == 1 and float(p.max()) >= SETTLED_PROBABILITY)


def analysed_record(budget_s: float, windows: List, planned: int, final_top: int,
                    stopped_early: bool) -> dict:
    """The record's ``analysed`` field (``windows``: the scored :class:`WindowScore` s)."""
    speech = sum((w.speech if w.speech is not None else 1.0) * w.window.length for w in windows) / TARGET_SR
    agree = [int(np.argmax(w.logits)) == final_top for w in windows]
    return {"budget": budget_s, "speech_seconds": round(speech, 2), "windows": len(windows),
            "planned": planned, "agreement": round(float(np.mean(agree)), 4) if agree else None,
            "stopped_early": stopped_early}
