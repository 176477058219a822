"""The segmenter: one pass over an input, cut into the windows the model scores.

An input is an :class:`AudioSource`: a file read by span (16 kHz, mono, through
:mod:`geolid.audio`), or an in-memory waveform. :class:`Scan` reads it once, front
to back, in blocks; each block feeds the speech detector (:mod:`geolid.inference.vad`)
and every window *plan* that wants it:

* the utterance plan: one window for an input that fits in ``window`` seconds,
  else fixed windows of ``window`` s overlapping by ``overlap`` s (the last one
  shifted back to end at the end), or, with ``cut_at_pauses``, non-overlapping
  windows of at most ``window`` s cut at the latest pause of their second half;
* the timeline plan (``--timeline``): short windows every ``hop`` s.

A window is emitted, with its samples and the share of it that is speech, as soon
as the pass has read past its end; only the audio from the earliest window not
yet emitted is held, so memory stays at about a window whatever the length, and
``--timeline`` is a second plan over the same pass, not a second read.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from geolid.audio import TARGET_SR, AudioError, AudioInfo, audio_info, read_span, to_mono_16k

BLOCK_S = 10.0                 # seconds read at a time
MIN_LAST_WINDOW_S = 2.0        # a shorter pause-cut remainder joins the previous window
UTTERANCE, TIMELINE = "utterance", "timeline"


@dataclass(frozen=True)
class Window:
    """Samples ``[start, end)`` at 16 kHz."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def start_s(self) -> float:
        return self.start / TARGET_SR

    @property
    def end_s(self) -> float:
        return self.end / TARGET_SR


# ------------------------------------------------------------------ sources
class AudioSource:
    """One input as 16 kHz mono samples: a file read by span, or a waveform in memory."""

    def __init__(self, key: str, path: Optional[str] = None, info: Optional[AudioInfo] = None,
                 wave=None):
        self.key, self.path, self.info, self.wave = key, path, info, wave

    @classmethod
    def of(cls, key: str, x, sample_rate: Optional[int] = None) -> "AudioSource":
        """A path, a numpy/torch waveform with ``sample_rate``, or a ``(waveform, rate)``
        tuple; a bad input raises :class:`AudioError` naming it."""
        import torch

        if isinstance(x, (str, os.PathLike)):
            return cls(key, str(x), info=audio_info(x))
        sr = sample_rate
        if isinstance(x, tuple) and len(x) == 2:
            x, sr = x
        if not isinstance(x, (np.ndarray, torch.Tensor)):
            raise AudioError(key, f"unsupported input type {type(x).__name__}: give a path, a "
                                  "numpy/torch waveform with its sample rate, or a list of these")
        return cls(key, wave=to_mono_16k(x, sr, key).cpu())

    @property
    def n_samples(self) -> int:
        return self.info.frames_16k if self.info is not None else int(self.wave.shape[-1])

    @property
    def duration(self) -> float:
        return self.n_samples / TARGET_SR

    def read(self, start: int, end: int):
        """Samples ``[start, end)`` as a 1-D float32 tensor (:class:`AudioError` if unreadable)."""
        if self.wave is not None:
            return self.wave[start:end]
        return read_span(self.info, start, end)


# -------------------------------------------------------------------- plans
def plan_windows(n_samples: int, window_s: Optional[float] = 30.0,
                 overlap_s: float = 5.0) -> List[Window]:
    """Fixed windows of ``window_s`` overlapping by ``overlap_s``; one if it fits
    (``window_s`` None: always one). The last window is shifted back to end at the end of
    the audio, so no window is a short scrap (it overlaps its neighbour more instead)."""
    if window_s is None:
        return [Window(0, n_samples)]
    win = int(round(window_s * TARGET_SR))
    hop = win - int(round(overlap_s * TARGET_SR))
    if win <= 0:
        raise ValueError(f"window must be positive, got {window_s} s")
    if hop <= 0:
        raise ValueError(f"overlap ({overlap_s} s) must be shorter than the window ({window_s} s)")
    if n_samples <= win:
        return [Window(0, n_samples)]
    n = int(math.ceil((n_samples - win) / hop)) + 1
    starts = [min(i * hop, n_samples - win) for i in range(n)]
    return [Window(s, s + win) for s in sorted(set(starts))]


class FixedPlan:
    """Windows known from the input's length alone (utterance windows, timeline windows)."""

    def __init__(self, windows: Sequence[Window]):
        self.windows = list(windows)
        self._next = 0

    def pending_start(self) -> Optional[int]:
        return self.windows[self._next].start if self._next < len(self.windows) else None

    def ready(self, fed: int, track, final: bool) -> List[Window]:
        out = []
        while self._next < len(self.windows) and (final or self.windows[self._next].end <= fed):
            out.append(self.windows[self._next])
            self._next += 1
        return out


class PauseCutPlan:
    """Non-overlapping windows of at most ``window`` samples, each ended at the latest
    pause (speech detector) in its second half, else cut hard at ``window``."""

    def __init__(self, n_samples: int, window_s: float):
        self.n, self.win = n_samples, int(round(window_s * TARGET_SR))
        self.low = self.win // 2
        self.start = 0
        self.done = n_samples <= self.win
        self._whole = self.done

    def pending_start(self) -> Optional[int]:
        return None if self.start >= self.n else self.start

    def ready(self, fed: int, track, final: bool) -> List[Window]:
        if self._whole:
            self._whole = False
            return [Window(0, self.n)]
        out: List[Window] = []
        while self.start < self.n and (self.n - self.start > self.win) and fed >= self.start + self.win:
            cuts = [int(round(c * TARGET_SR)) for c in (track.pause_midpoints() if track is not None else [])]
            inside = [c for c in cuts if self.start + self.low <= c <= self.start + self.win]
            end = inside[-1] if inside else self.start + self.win
            if self.n - end < MIN_LAST_WINDOW_S * TARGET_SR:
                end = self.n
            out.append(Window(self.start, end))
            self.start = end
        if final and self.start < self.n:
            out.append(Window(self.start, self.n))
            self.start = self.n
        return out


def timeline_windows(n_samples: int, window_s: float, hop_s: float) -> List[Window]:
    """Analysis windows of the timeline: ``window_s`` every ``hop_s``, the last one
    ending at the end of the input (one window if the input is shorter)."""
    win = int(round(window_s * TARGET_SR))
    hop = int(round(hop_s * TARGET_SR))
    if n_samples <= win:
        return [Window(0, n_samples)]
    n = int(math.ceil((n_samples - win) / hop)) + 1
    return [Window(s, s + win) for s in (min(i * hop, n_samples - win) for i in range(n))]


# --------------------------------------------------------------------- scan
@dataclass
class ScannedWindow:
    plan: str            # UTTERANCE or TIMELINE
    index: int           # position in its plan
    window: Window
    wave: object         # 1-D float32 tensor
    speech: Optional[float]   # share of the window that is speech (None: no detector)


class Scan:
    """One front-to-back pass over ``source``; :meth:`windows` yields every planned window.

    ``track`` (a :class:`~geolid.inference.vad.SpeechTrack` or None) is fed as the pass
    goes and is complete once :meth:`windows` is exhausted.
    """

    def __init__(self, source: AudioSource, plans: Dict[str, object], track=None,
                 block_s: float = BLOCK_S, keep_track: bool = False):
        self.source, self.plans, self.track = source, plans, track
        self.keep_track = keep_track    # keep every frame's decision (a budget plans from them)
        self.block = max(1, int(block_s * TARGET_SR))
        self.counts = {name: 0 for name in plans}

    def windows(self) -> Iterator[ScannedWindow]:
        n = self.source.n_samples
        held: List[Tuple[int, object]] = []     # (start sample, block tensor)
        fed = 0
        while True:
            final = fed >= n
            if not final:
                block = self.source.read(fed, min(fed + self.block, n))
                held.append((fed, block))
                fed += int(block.shape[-1])
                if self.track is not None:
                    self.track.feed(block)
                final = fed >= n
                if final and self.track is not None:
                    self.track.finish()
            for name, plan in self.plans.items():
                for w in plan.ready(fed, self.track, final):
                    speech = self.track.fraction(w.start, w.end) if self.track is not None else None
                    yield ScannedWindow(name, self.counts[name], w, _slice(held, w), speech)
                    self.counts[name] += 1
            if final:
                return
            keep = min((s for s in (p.pending_start() for p in self.plans.values()) if s is not None),
                       default=fed)
            while held and held[0][0] + int(held[0][1].shape[-1]) <= keep:
                held.pop(0)
            if self.track is not None and not self.keep_track:
                self.track.drop_before(keep)


def _slice(held: List[Tuple[int, object]], w: Window):
    import torch

    parts = []
    for start, block in held:
        end = start + int(block.shape[-1])
        if end <= w.start or start >= w.end:
            continue
        parts.append(block[max(w.start - start, 0): min(w.end, end) - start])
    return parts[0] if len(parts) == 1 else torch.cat(parts)
