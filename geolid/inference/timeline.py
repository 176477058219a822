"""Language timeline: which language is spoken when, for code-switched audio.

1. Short overlapping analysis windows (default 1.5 s every 0.5 s) are scored by
   the model in chunks read from the file (:func:`timeline_of`); each window
   also gets its speech fraction from the speech detector (:mod:`vad`).
2. An HMM smooths the window decisions: one state per language plus ``zxx``
   (no speech), staying costs nothing and switching costs ``switch_penalty``
   nats. A window scores its log-posterior for each language (optionally
   floored, see :func:`emission_scores`); a window less than half speech can
   only be ``zxx``, a window with more only a language.
3. Viterbi decoding (:class:`OnlineViterbi`) runs as the windows arrive and
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

import math
import os
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

from geolid.audio import TARGET_SR, audio_info, read_span, to_mono_16k
from geolid.inference.results import Segment, language_name
from geolid.inference.vad import ZXX, SpeechTrack, make_detector

# Tuned on the demo model (bench/timeline_switch.py, docs/timeline.md).
DEFAULT_WINDOW_S = 1.5
DEFAULT_HOP_S = 0.5
# nats of the model's log-posteriors; 40-56 is a plateau on 48 demo dev files
DEFAULT_SWITCH_PENALTY = 48.0
DEFAULT_FLOOR = 0.0              # share of a uniform distribution mixed into posteriors (off)
CHUNK_WINDOWS = 64               # windows scored per read
MIN_WINDOW_SPEECH = 0.5          # a window with less speech than this share is zxx
FORBIDDEN = -1e4                 # score of a state a window cannot be in


@dataclass
class TimelineOptions:
    """Analysis windows and smoothing of :func:`timeline_of` (CLI: ``--timeline``)."""

    window: float = DEFAULT_WINDOW_S
    hop: float = DEFAULT_HOP_S
    switch_penalty: float = DEFAULT_SWITCH_PENALTY
    floor: float = DEFAULT_FLOOR         # share of uniform mixed into each window's posterior
    # "silero", "energy" or "none" (no zxx state); default $GEOLID_SPEECH_DETECTOR or silero
    speech_detector: str = field(default_factory=lambda: os.environ.get("GEOLID_SPEECH_DETECTOR", "silero"))
    batch_size: int = 16                 # windows per forward pass (all the same length)
    chunk_windows: int = CHUNK_WINDOWS

    def check(self) -> None:
        if self.window <= 0 or self.hop <= 0:
            raise ValueError(f"timeline window ({self.window}) and hop ({self.hop}) must be > 0 s")
        if self.hop > self.window:
            raise ValueError(f"timeline hop ({self.hop} s) must not exceed the window ({self.window} s)")
        if self.switch_penalty < 0:
            raise ValueError(f"switch_penalty must be >= 0, got {self.switch_penalty}")
        if not 0 <= self.floor < 1:
            raise ValueError(f"floor must be in [0, 1), got {self.floor}")


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
    """Segments of precomputed window log-posteriors (T, L) (tests, offline use).

    Window ``t`` starts at ``min(t * hop_s, duration - window_s)``.
    """
    n = int(round(duration * TARGET_SR))
    starts = window_starts(n, int(round(window_s * TARGET_SR)), int(round(hop_s * TARGET_SR)))
    if len(starts) != len(log_post):
        raise ValueError(f"{len(log_post)} windows given, {len(starts)} fit {duration} s")
    win_s = min(window_s, duration)
    labels = list(languages) + ([ZXX] if speech is not None else [])
    post = np.exp(log_post)
    builder = SegmentBuilder(labels, lambda t: starts[t] / TARGET_SR + win_s / 2, duration)
    scores = emission_scores(log_post, speech, floor)
    dec = OnlineViterbi(scores.shape[1], switch_penalty)
    for state, t in dec.push(scores) + dec.finish():
        builder.add(state, t, _state_prob(post[t], state, None if speech is None else speech[t]))
    return builder.finish()


def _state_prob(post_row: np.ndarray, state: int, speech: Optional[float]) -> float:
    if state < len(post_row):
        return float(post_row[state])
    return 1.0 - float(speech)   # zxx: the share of the window without speech


def window_starts(n_samples: int, win: int, hop: int) -> List[int]:
    """Starts of the analysis windows; the last one ends at the end of the input."""
    if n_samples <= win:
        return [0]
    n = int(math.ceil((n_samples - win) / hop)) + 1
    return [min(i * hop, n_samples - win) for i in range(n)]


# ------------------------------------------------------------------- running
def timeline_of(lid, x, sample_rate: Optional[int] = None, key: Optional[str] = None,
                options: Optional[TimelineOptions] = None) -> Timeline:
    """The language timeline of a file path or a waveform, streamed in chunks.

    ``lid``: a :class:`~geolid.inference.api.GeoLID`. Reads ``chunk_windows``
    windows' span at a time; holds the undecided windows' posteriors only.
    """
    opts = options or TimelineOptions()
    opts.check()
    source = _Reader(x, sample_rate, key)
    n = source.n_samples
    win = min(int(round(opts.window * TARGET_SR)), n)
    hop = int(round(opts.hop * TARGET_SR))
    n_windows = len(window_starts(n, win, hop)) if n > win else 1

    def start_of(t: int) -> int:
        return 0 if n <= win else min(t * hop, n - win)

    track = SpeechTrack(make_detector(opts.speech_detector)) if opts.speech_detector != "none" else None
    labels = list(lid.languages) + ([ZXX] if track is not None else [])
    decoder = OnlineViterbi(len(labels), opts.switch_penalty)
    builder = SegmentBuilder(labels, lambda t: (start_of(t) + win / 2) / TARGET_SR, n / TARGET_SR)
    pending: dict = {}          # t -> (posterior row, speech fraction) until decided
    fed = 0
    for t0 in range(0, n_windows, opts.chunk_windows):
        ts = range(t0, min(t0 + opts.chunk_windows, n_windows))
        span0, span1 = start_of(ts[0]), start_of(ts[-1]) + win
        wave = source.read(span0, span1)
        if track is not None and span1 > fed:
            track.feed(wave[fed - span0:] if fed > span0 else wave)
            if span1 >= n:
                track.finish()
            fed = span1
        log_post = _log_posteriors(lid, [wave[start_of(t) - span0:start_of(t) - span0 + win] for t in ts],
                                   opts.batch_size)
        speech = (np.array([track.fraction(start_of(t), start_of(t) + win) for t in ts])
                  if track is not None else None)
        post = np.exp(log_post)
        for i, t in enumerate(ts):
            pending[t] = (post[i], None if speech is None else speech[i])
        decided = decoder.push(emission_scores(log_post, speech, opts.floor))
        if t0 + opts.chunk_windows >= n_windows:
            decided += decoder.finish()
        for state, t in decided:
            row, s = pending.pop(t)
            builder.add(state, t, _state_prob(row, state, s))
        if track is not None and ts[-1] + 1 < n_windows:
            track.drop_before(start_of(ts[-1] + 1))
    return Timeline(key=source.key, duration=round(n / TARGET_SR, 3), segments=builder.finish(),
                    num_windows=n_windows,
                    speech_fraction=None if track is None else round(track.fraction(), 4))


def _log_posteriors(lid, waves: Sequence, batch_size: int) -> np.ndarray:
    """(len(waves), L) log-softmax of the logits ``predict`` uses (one scoring path:
    :meth:`GeoLID.classify_batch`, with enrolled centres and calibration)."""
    out = []
    for i in range(0, len(waves), max(1, batch_size)):
        logits = lid.classify_batch(list(waves[i:i + batch_size])).scores.astype(np.float64)
        top = logits.max(axis=1, keepdims=True)
        out.append(logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True)))
    return np.concatenate(out)


class _Reader:
    """A file read by span, or an in-memory waveform, as 16 kHz mono."""

    def __init__(self, x, sample_rate: Optional[int], key: Optional[str]):
        import os

        self.info = self.wave = None
        if isinstance(x, (str, os.PathLike)):
            self.info = audio_info(x)
            self.key = key or str(x)
            self.n_samples = self.info.frames_16k
        else:
            if isinstance(x, tuple) and len(x) == 2:
                x, sample_rate = x
            self.key = key or "input_0"
            self.wave = to_mono_16k(x, sample_rate, self.key)
            self.n_samples = int(self.wave.shape[-1])

    def read(self, start: int, end: int):
        if self.wave is not None:
            return self.wave[start:end]
        return read_span(self.info, start, end)




def add_timelines(lid, predictions, options: Optional[TimelineOptions] = None) -> None:
    """Replace the ``segments`` of each successful file prediction by its timeline
    (``geolid predict --timeline``)."""
    from geolid.audio import AudioError

    for p in predictions:
        if p.ok and p.path is not None:
            try:
                p.segments = timeline_of(lid, p.path, key=p.key, options=options).segments
            except AudioError as e:  # e.g. a read error further into the file
                p.error = f"timeline: {e.reason}"
