"""Language timeline: which language is spoken when, for code-switched audio.

1. Short overlapping analysis windows (default 1.5 s every 0.5 s) are a second
   window plan of the same pass over the audio that scores the utterance
   (:mod:`geolid.inference.segmenter`); each window has the model's logits and
   its speech fraction from the speech detector (:mod:`vad`).
2. An HMM smooths the window decisions: one state per language plus ``zxx``
   (no speech), staying costs nothing and switching costs ``switch_penalty``
   nats. A window scores its log-posterior for each language (optionally
   floored, see :func:`emission_scores`); a window less than half speech can
   only be ``zxx``, a window with more only a language.
3. Viterbi decoding (:class:`OnlineViterbi`, fed by :class:`TimelineDecoder`) runs
   as the windows arrive and
   keeps only the backpointers of the undecided stretch: as soon as all
   surviving paths agree on a window, everything before it is decided,
   emitted as segments and forgotten. Memory therefore stays flat with
   duration (bench/timeline_switch.py measures 10 vs 60 minutes).
4. Consecutive windows with one state merge into a :class:`~results.Segment`
   ``(start, end, language, name, probability)``; a boundary lies halfway
   between the centres of the last window of one segment and the first of the
   next; ``probability`` is the segment's mean window posterior of its language.

Hand-written because no maintained library does a streaming Viterbi over
arbitrary posteriors with a partial traceback (hmmlearn decodes whole arrays).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from geolid.audio import TARGET_SR
from geolid.inference.options import TimelineOptions
from geolid.inference.results import Segment, language_name
from geolid.inference.segmenter import timeline_windows
from geolid.inference.calibration import log_softmax
from geolid.inference.vad import ZXX

DEFAULT_FLOOR = TimelineOptions.floor
DEFAULT_SWITCH_PENALTY = TimelineOptions.switch_penalty
MIN_WINDOW_SPEECH = 0.5          # a window with less speech than this share is zxx
FORBIDDEN = -1e4                 # score of a state a window cannot be in


@dataclass
class Timeline:
    """The language timeline of one input."""

    key: str
    duration: float
    segments: List[Segment] = field(default_factory=list)
    num_windows: int = 0
    speech_fraction: Optional[float] = None


# ------------------------------------------------------------------ decoding
def viterbi(scores: np.ndarray, switch_penalty: float) -> np.ndarray:
    """Best state path through ``scores`` (T, S) with a flat switch penalty (offline)."""
    dec = OnlineViterbi(scores.shape[1], switch_penalty)
    return np.array([s for s, _ in dec.push(scores) + dec.finish()], dtype=np.int64)


class OnlineViterbi:
    """Viterbi with a partial traceback: :meth:`push` returns ``(state, t)`` for every
    step that is already decided (all surviving paths agree up to it).

    Holds one int16 backpointer row per undecided step (S x 2 bytes), and the
    scores of those steps are not needed again. With a switch penalty the paths
    coalesce within a few steps of any clear evidence, so the undecided stretch
    stays short; :attr:`max_pending` records the longest one seen.
    """

    def __init__(self, n_states: int, switch_penalty: float):
        if n_states > np.iinfo(np.int16).max:
            raise ValueError(f"too many states ({n_states}) for int16 backpointers")
        self.n_states = n_states
        self.penalty = float(switch_penalty)
        self.delta: Optional[np.ndarray] = None
        self.rows: List[np.ndarray] = []   # backpointers of steps t0+1 .. t-1
        self.t0 = 0                        # first undecided step
        self.t = 0                         # steps pushed
        self.max_pending = 0               # most steps held at once (incl. a pushed chunk)
        self.max_undecided = 0             # most steps left undecided after a push

    def push(self, scores: np.ndarray) -> List[Tuple[int, int]]:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != self.n_states:
            raise ValueError(f"scores must be (steps, {self.n_states}), got {scores.shape}")
        states = np.arange(self.n_states, dtype=np.int16)
        for row in scores:
            if self.delta is None:
                self.delta = row.copy()
            else:
                best = int(np.argmax(self.delta))
                switch = self.delta[best] - self.penalty
                stay = self.delta >= switch
                self.rows.append(np.where(stay, states, np.int16(best)))
                self.delta = np.where(stay, self.delta, switch) + row
            self.t += 1
        self.max_pending = max(self.max_pending, self.t - self.t0)
        out = self._decided()
        self.max_undecided = max(self.max_undecided, self.t - self.t0)
        return out

    def finish(self) -> List[Tuple[int, int]]:
        """Decide the remaining steps from the best final state."""
        if self.delta is None:
            return []
        out = self._trace(int(np.argmax(self.delta)), self.t - 1)
        self.rows, self.t0 = [], self.t
        return out

    def _trace(self, state: int, t_end: int) -> List[Tuple[int, int]]:
        """States of steps t0..t_end given the state at t_end."""
        path = [state]
        for t in range(t_end, self.t0, -1):
            state = int(self.rows[t - self.t0 - 1][state])
            path.append(state)
        path.reverse()
        return [(s, self.t0 + i) for i, s in enumerate(path)]

    def _decided(self) -> List[Tuple[int, int]]:
        """Emit the steps on which every surviving path agrees; forget their backpointers."""
        cur = np.arange(self.n_states)
        for t in range(self.t - 1, self.t0, -1):       # cur: states at step t
            cur = self.rows[t - self.t0 - 1][cur]      # -> states at step t - 1
            first = cur[0]
            if np.all(cur == first):
                out = self._trace(int(first), t - 1)
                self.rows = self.rows[t - self.t0:]    # keep backpointers of steps t ..
                self.t0 = t
                return out
        return []


def emission_scores(log_post: np.ndarray, speech: Optional[np.ndarray] = None,
                    floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """(T, L) log-posteriors and (T,) speech fractions -> (T, L+1) scores, zxx last.

    Each posterior is mixed with ``floor`` of a uniform distribution, so one
    overconfident window costs a wrong language at most ``log(floor / L)``
    nats: the switch penalty then counts windows of contrary evidence rather
    than being outvoted by a single window's 1e-9. A window with speech in less
    than half of it can only be ``zxx``, and a window with more only a
    language (the speech detector decides speech, the model the language).
    Without a detector (``speech`` None): the L language scores alone.
    """
    lp = np.asarray(log_post, dtype=np.float64)
    lang = np.log((1 - floor) * np.exp(lp) + floor / lp.shape[1]) if floor > 0 else lp
    if speech is None:
        return lang
    silent = (np.asarray(speech, dtype=np.float64) < MIN_WINDOW_SPEECH)[:, None]
    return np.concatenate([np.where(silent, FORBIDDEN, lang),
                           np.where(silent, 0.0, FORBIDDEN)], axis=1)


# ------------------------------------------------------------------ segments
class SegmentBuilder:
    """Merges decided windows into segments as they come (constant memory)."""

    def __init__(self, labels: Sequence[str], window_centre, duration: float):
        self.labels, self.centre, self.duration = list(labels), window_centre, duration
        self.segments: List[Segment] = []
        self._open: Optional[List] = None      # [state, start_s, prob_sum, count, last_t]

    def add(self, state: int, t: int, prob: float) -> None:
        if self._open is not None and self._open[0] == state:
            self._open[2] += prob
            self._open[3] += 1
            self._open[4] = t
            return
        start = 0.0
        if self._open is not None:
            start = round((self.centre(self._open[4]) + self.centre(t)) / 2, 3)
            self._close(start)
        self._open = [state, start, prob, 1, t]

    def _close(self, end: float) -> None:
        state, start, psum, n, _ = self._open
        code = self.labels[state]
        self.segments.append(Segment(start, end, code, language_name(code), round(psum / n, 6)))

    def finish(self) -> List[Segment]:
        if self._open is not None:
            self._close(round(self.duration, 3))
            self._open = None
        return self.segments


def decode_timeline(log_post: np.ndarray, languages: Sequence[str], window_s: float, hop_s: float,
                    duration: float, speech: Optional[np.ndarray] = None,
                    switch_penalty: float = DEFAULT_SWITCH_PENALTY,
                    floor: float = DEFAULT_FLOOR) -> List[Segment]:
    """Segments of precomputed window log-posteriors (T, L) (tests, offline use); window
    ``t`` is the segmenter's timeline window ``t`` of an input of ``duration`` seconds."""
    n = int(round(duration * TARGET_SR))
    windows = timeline_windows(n, window_s, hop_s)
    if len(windows) != len(log_post):
        raise ValueError(f"{len(log_post)} windows given, {len(windows)} fit {duration} s")
    opts = TimelineOptions(window_s, hop_s, switch_penalty, floor)
    dec = TimelineDecoder(languages, windows, n, opts, with_speech=speech is not None)
    for t in range(len(windows)):
        dec.add(t, log_post[t], None if speech is None else float(speech[t]), is_log_posterior=True)
    return dec.finish()


def _state_prob(post_row: np.ndarray, state: int, speech: Optional[float]) -> float:
    if state < len(post_row):
        return float(post_row[state])
    return 1.0 - float(speech)   # zxx: the share of the window without speech


class TimelineDecoder:
    """Decodes one input's timeline as its windows' scores arrive (in any order).

    Rows are held until every earlier window has arrived, then pushed to the online
    Viterbi in time order; decided windows become segments at once, so memory
    stays flat however long the input is.
    """

    def __init__(self, languages: Sequence[str], windows: Sequence, n_samples: int,
                 options: TimelineOptions, with_speech: bool):
        self.windows = list(windows)
        self.options = options
        self.with_speech = with_speech
        self.labels = list(languages) + ([ZXX] if with_speech else [])
        win = self.windows[0].length
        self.builder = SegmentBuilder(self.labels, lambda t: (self.windows[t].start + win / 2) / TARGET_SR,
                                      n_samples / TARGET_SR)
        self.decoder = OnlineViterbi(len(self.labels), options.switch_penalty)
        self._arrived: Dict[int, Tuple[np.ndarray, Optional[float]]] = {}
        self._pending: Dict[int, Tuple[np.ndarray, Optional[float]]] = {}
        self._next = 0

    def add(self, t: int, logits: np.ndarray, speech: Optional[float],
            is_log_posterior: bool = False) -> None:
        lp = np.asarray(logits, dtype=np.float64) if is_log_posterior else log_softmax(logits)
        self._arrived[t] = (lp, speech)
        rows, speeches = [], []
        while self._next in self._arrived:
            row, s = self._arrived.pop(self._next)
            self._pending[self._next] = (np.exp(row), s)
            rows.append(row)
            speeches.append(s)
            self._next += 1
        if rows:
            sp = np.array(speeches, dtype=np.float64) if self.with_speech else None
            self._emit(self.decoder.push(emission_scores(np.stack(rows), sp, self.options.floor)))

    def _emit(self, decided) -> None:
        for state, t in decided:
            row, s = self._pending.pop(t)
            self.builder.add(state, t, _state_prob(row, state, s))

    def finish(self) -> List[Segment]:
        if self._arrived:
            missing = sorted(set(range(len(self.windows))) - set(self._pending) - set(range(self._next)))
            raise RuntimeError(f"timeline windows {missing[:5]} were never scored")
        self._emit(self.decoder.finish())
        return self.builder.finish()
