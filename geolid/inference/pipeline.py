"""Inputs -> scored utterances: segmenter, batches, scorer, the utterance rule.

:class:`Pipeline` runs a chunk of inputs: each becomes an :class:`AudioSource`,
one :class:`~geolid.inference.segmenter.Scan` cuts it into windows, windows of
the chunk are batched (:class:`BatchPolicy`) and scored by the scorer, and each
input's windows are combined by the utterance rule (:mod:`geolid.inference.utterance`)
and, with a timeline, decoded (:class:`~geolid.inference.timeline.TimelineDecoder`).
A bad input becomes an :class:`Utterance` with ``error`` set; the others go on.

No decision is taken here (labels, rejection, ``zxx``, priors, locations): that
is :mod:`geolid.inference.postprocess`. The recipe's stage 6 stops here and writes
the posteriors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from geolid.audio import TARGET_SR, AudioError
from geolid.inference.batching import plan_batches
from geolid.inference.numerics import nonfinite_error
from geolid.inference.options import PredictOptions
from geolid.inference.results import Segment
from geolid.inference.segmenter import (TIMELINE, UTTERANCE, AudioSource, FixedPlan, PauseCutPlan,
                                        Scan, ScannedWindow, plan_windows, timeline_windows)
from geolid.inference.short_inputs import short_input_error
from geolid.inference.timeline import TimelineDecoder
from geolid.inference.utterance import UtteranceAccumulator, WindowScore
from geolid.inference.vad import SpeechTrack, make_detector

GPU_MAX_BATCH = 256            # safety cap on windows per GPU batch; seconds decide first


@dataclass
class Utterance:
    """One input, scored (or failed): everything post-processing needs."""

    key: str
    path: Optional[str] = None
    duration: Optional[float] = None
    error: Optional[str] = None
    probabilities: Optional[np.ndarray] = None   # (C,) the utterance rule's probabilities
    logits: Optional[np.ndarray] = None          # (C,) the same weighted mean of window logits
    embedding: Optional[np.ndarray] = None       # (D,)
    geo_vector: Optional[np.ndarray] = None      # (geo_dim,) or None
    n_windows: int = 0
    windows: List[WindowScore] = field(default_factory=list)   # with segments=True
    speech_fraction: Optional[float] = None
    no_speech: bool = False
    timeline: Optional[List[Segment]] = None
    analysed: Optional[dict] = None              # with a budget: what was looked at

    @property
    def ok(self) -> bool:
        return self.error is None



@dataclass(frozen=True)
class BatchPolicy:
    """How windows become batches (speed and memory only: outputs do not depend on it,
    except for ``consecutive``, which reproduces the published recipe's batches)."""

    size: int = 1                     # windows per batch at most
    seconds: float = 240.0            # padded audio per batch at most
    consecutive: bool = False         # keep input order, pad to the longest (published stage 6)

    @classmethod
    def for_device(cls, on_gpu: bool, options: PredictOptions) -> "BatchPolicy":
        size = options.batch_size or (GPU_MAX_BATCH if on_gpu else 1)
        return cls(size=size, seconds=options.batch_seconds)

    def batches(self, lengths: Sequence[int]) -> List[List[int]]:
        if self.consecutive:
            return [list(range(i, min(i + self.size, len(lengths)))) for i in range(0, len(lengths), self.size)]
        return plan_batches(lengths, self.size, int(self.seconds * TARGET_SR))

    def full(self, lengths: Sequence[int]) -> bool:
        """Is the pool big enough to flush a batch without waiting for more windows?"""
        if len(lengths) >= self.size:
            return True
        return not self.consecutive and len(lengths) * max(lengths) >= self.seconds * TARGET_SR


class _State:
    """One input being scored."""

    def __init__(self, key: str, options: PredictOptions, keep_windows: bool):
        self.key, self.options = key, options
        self.source: Optional[AudioSource] = None
        self.error: Optional[str] = None
        self.path: Optional[str] = None
        self.acc = UtteranceAccumulator(keep_windows=keep_windows)
        self.track: Optional[SpeechTrack] = None
        self.timeline: Optional[TimelineDecoder] = None
        self.analysed: Optional[dict] = None

    def accept(self, sw: ScannedWindow, logits, embedding, geo, ok: bool, dtype: str) -> None:
        if self.error:
            return
        if not ok:  # NaN/inf never becomes a label
            self.error = nonfinite_error(dtype)
            return
        if sw.plan == UTTERANCE:
            self.acc.add(sw.window, sw.speech, logits, embedding, geo)
        else:
            self.timeline.add(sw.index, logits, sw.speech)

    def result(self) -> Utterance:
        u = Utterance(self.key, self.path, error=self.error)
        if self.source is not None:
            u.duration = round(self.source.duration, 3)
        if self.error:
            return u
        u.probabilities = self.acc.mean("probabilities")
        u.logits = self.acc.mean("logits")
        u.embedding = self.acc.mean("embedding").astype(np.float32)
        geo = self.acc.mean("geo")
        u.geo_vector = None if geo is None else geo.astype(np.float32)
        u.n_windows = self.acc.n_windows
        u.windows = self.acc.windows
        if self.track is not None:
            u.speech_fraction = round(self.track.fraction(), 4)
            u.no_speech = self.track.no_speech()
        if self.timeline is not None:
            u.timeline = self.timeline.finish()
        u.analysed = self.analysed
        return u


class Pipeline:
    """Scores chunks of inputs with one scorer under one set of options."""

    def __init__(self, scorer, options: PredictOptions, policy: Optional[BatchPolicy] = None,
                 whole_utterances: bool = False, keep_windows: bool = False):
        self.scorer, self.options = scorer, options
        self.keep_windows = keep_windows or options.segments   # stage 6 keeps them to calibrate
        self.policy = policy or BatchPolicy.for_device(scorer.on_gpu, options)
        self.whole = whole_utterances or options.window is None

    # ----------------------------------------------------------- sources
    def _open(self, key: str, x, sample_rate: Optional[int]) -> _State:
        st = _State(key, self.options, keep_windows=self.keep_windows)
        if isinstance(x, (str, bytes)) or hasattr(x, "__fspath__"):
            st.path = str(x)
        try:
            st.source = AudioSource.of(key, x, sample_rate)
        except AudioError as e:
            st.error = e.reason
            return st
        st.error = short_input_error(st.source.n_samples, self.options.min_duration)
        return st

    def _plans(self, st: _State) -> Dict[str, object]:
        n, o = st.source.n_samples, self.options
        if self.whole:
            plans = {UTTERANCE: FixedPlan(plan_windows(n, None))}
        elif o.vad:
            plans = {UTTERANCE: PauseCutPlan(n, o.window)}
        else:
            plans = {UTTERANCE: FixedPlan(plan_windows(n, o.window, o.overlap))}
        if o.timeline is not None:
            windows = timeline_windows(n, o.timeline.window, o.timeline.hop)
            plans[TIMELINE] = FixedPlan(windows)
            st.timeline = TimelineDecoder(self.scorer.languages, windows, n, o.timeline,
                                          with_speech=st.track is not None)
        return plans

    # -------------------------------------------------------------- run
    def run(self, chunk: Sequence[Tuple[str, object]], sample_rate: Optional[int] = None
            ) -> List[Utterance]:
        states = [self._open(key, x, sample_rate) for key, x in chunk]
        pool: List[Tuple[_State, ScannedWindow]] = []
        for st in states:
            if st.error:
                continue
            if self.options.speech_detector != "none":
                st.track = SpeechTrack(make_detector(self.options.speech_detector))
            if self.options.budget is not None:
                self._run_budget(st)
                continue
            scan = Scan(st.source, self._plans(st), st.track)
            try:
                for sw in scan.windows():
                    pool.append((st, sw))
                    if self.policy.full([int(w.window.length) for _, w in pool]):
                        pool = self._flush(pool, final=False)
            except AudioError as e:
                st.error = e.reason
        while pool:
            pool = self._flush(pool, final=True)
        return [st.result() for st in states]

    def _run_budget(self, st: _State) -> None:
        """A compute budget (:mod:`geolid.inference.budget`): the detector over the whole
        input, then windows spread over its speech, scored until the answer settles."""
        from geolid.inference.budget import Settling, analysed_record, plan_budget

        st.acc.keep_windows = True
        try:
            list(Scan(st.source, {}, st.track, keep_track=True).windows())   # detector pass
            plan = plan_budget(st.track.is_speech, st.source.n_samples, self.options.budget,
                               self.options.window)
            settling, stopped = Settling(), False
            for i, w in enumerate(plan):
                sw = ScannedWindow(UTTERANCE, i, w, st.source.read(w.start, w.end),
                                   st.track.fraction(w.start, w.end))
                out = self.scorer.classify_batch([sw.wave])
                geo = out.geo_vectors[0] if out.geo_vectors is not None else None
                st.accept(sw, out.scores[0], out.embeddings[0], geo, bool(out.ok[0]), self.scorer.dtype)
                if st.error:
                    return
                if settling.add(st.acc.mean("probabilities")) and i + 1 < len(plan):
                    stopped = True
                    break
        except AudioError as e:
            st.error = e.reason
            return
        final = int(np.argmax(st.acc.mean("probabilities")))
        st.analysed = analysed_record(self.options.budget, st.acc.windows, len(plan), final, stopped)
        st.acc.windows = sorted(st.acc.windows, key=lambda w: w.window.start) if self.keep_windows else []

    def _flush(self, pool, final: bool):
        """Score the pool's full batches (every batch when ``final``); the rest stays."""
        lengths = [int(sw.window.length) for _, sw in pool]
        batches = self.policy.batches(lengths)
        if not final and len(batches) > 1:
            batches = batches[:-1]          # the last may still grow
        done = set()
        for batch in batches:
            items = [pool[i] for i in batch]
            out = self.scorer.classify_batch([sw.wave for _, sw in items])
            for row, (st, sw) in enumerate(items):
                geo = out.geo_vectors[row] if out.geo_vectors is not None else None
                st.accept(sw, out.scores[row], out.embeddings[row], geo, bool(out.ok[row]),
                          self.scorer.dtype)
            done.update(batch)
        return [item for i, item in enumerate(pool) if i not in done]


def chunks(pairs, n: int):
    chunk: List = []
    for p in pairs:
        chunk.append(p)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


Callback = Callable[[int], None]
