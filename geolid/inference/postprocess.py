"""From a scored utterance to an answer: small steps applied in order.

Each step takes a list of :class:`Decision` (a chunk of inputs, so that a step
such as location decoding works on all of them at once) and changes them; each can
be built and tested alone. :func:`steps_for` builds the list the options ask for, in this order:

1. :class:`LocationPriorStep` (``near``): reweight the distribution by a prior
   over where the audio was recorded (:mod:`geolid.inference.prior`);
2. :class:`CandidateStep` (``languages``): renormalise over the candidate
   languages; ``none`` ("none of these") when the model puts too little of its
   mass on them (:mod:`geolid.inference.candidates`);
3. :class:`TopLanguageStep`: the most likely (allowed) language;
4. :class:`RejectionStep` (``reject_below``): ``unknown`` when the top
   probability is below the threshold;
5. :class:`UnknownLanguageStep` (``reject_unknown``): ``unknown`` when the measured
   unknown-language score says the model does not know the language
   (:mod:`geolid.inference.open_set`; statistics fitted by the recipe's stage 7);
6. :class:`NoSpeechStep`: ``zxx`` when the speech detector found no speech;
7. :class:`LocationStep` (``locate``): the predicted geo vector decoded to a place.

:func:`to_prediction` then writes the record (:class:`~geolid.inference.results.Prediction`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from geolid.inference.pipeline import Utterance
from geolid.inference.results import (NONE_OF_THESE, UNKNOWN, LanguageScore, Location, Prediction,
                                      Segment, language_name)
from geolid.inference.vad import ZXX


@dataclass
class Decision:
    """An utterance on its way to a record."""

    utterance: Utterance
    languages: Sequence[str]
    probabilities: np.ndarray                  # (C,) the distribution reported
    window_probabilities: Optional[np.ndarray] = None   # (W, C) with segments
    language: Optional[str] = None
    rejected: bool = False
    location: Optional[Location] = None
    notes: Dict[str, object] = field(default_factory=dict)

    @property
    def top(self) -> int:
        return int(np.argmax(self.probabilities))


class LocationPriorStep:
    """``near``: p'(l) proportional to p(l) w(l) (:class:`~geolid.inference.prior.LocationPrior`)."""

    def __init__(self, prior):
        self.prior = prior

    def __call__(self, ds: List[Decision]) -> None:
        for d in ds:
            before = d.probabilities
            d.probabilities = self.prior.reweight(before)
            if d.window_probabilities is not None:
                d.window_probabilities = self.prior.reweight(d.window_probabilities)
            d.notes["prior"] = self.prior.note(before, d.probabilities)


class CandidateStep:
    """``languages``: the distribution renormalised over the allowed classes; ``none`` when
    their share of the model's mass is below ``min_mass``."""

    def __init__(self, allowed: Sequence[int], languages: Sequence[str], min_mass: Optional[float] = None):
        from geolid.inference.candidates import DEFAULT_MIN_ALLOWED_MASS

        self.allowed = list(allowed)
        self.codes = [languages[i] for i in self.allowed]
        self.min_mass = DEFAULT_MIN_ALLOWED_MASS if min_mass is None else float(min_mass)

    def __call__(self, ds: List[Decision]) -> None:
        from geolid.inference.candidates import restrict

        for d in ds:
            d.probabilities, mass = restrict(d.probabilities, self.allowed)
            if d.window_probabilities is not None:
                d.window_probabilities, _ = restrict(d.window_probabilities, self.allowed)
            none = bool(mass < self.min_mass)
            d.notes["candidates"] = {"languages": self.codes, "allowed_mass": round(float(mass), 6),
                                     "none_of_these": none}
            d.notes["allowed"] = self.allowed
            if none:
                d.language = NONE_OF_THESE


class TopLanguageStep:
    def __call__(self, ds: List[Decision]) -> None:
        for d in ds:
            if d.language is None:
                d.language = d.languages[d.top]


class RejectionStep:
    """``unknown`` when the top probability is below ``threshold``."""

    def __init__(self, threshold: float):
        self.threshold = float(threshold)

    def __call__(self, ds: List[Decision]) -> None:
        for d in ds:
            if d.language != NONE_OF_THESE and d.probabilities[d.top] < self.threshold:
                d.language, d.rejected = UNKNOWN, True


class UnknownLanguageStep:
    """``unknown`` when the known-language score (z-scored max cosine + embedding norm,
    :func:`geolid.inference.open_set.known_language_score`) is below the model's fitted
    threshold. The max cosine is read off the utterance's logits: the head's temperature,
    offsets and scale undone, so it is the same for torch and an ONNX export."""

    def __init__(self, head, scale: float):
        self.head, self.scale, self.stats = head, float(scale), head.unknown

    def score(self, u: Utterance) -> float:
        from geolid.inference.open_set import known_language_score

        cos = self.head.cosines(u.logits, self.scale)
        return float(known_language_score(cos.max(), np.linalg.norm(u.embedding), self.stats))

    def __call__(self, ds: List[Decision]) -> None:
        for d in ds:
            score = self.score(d.utterance)
            d.notes["unknown_score"] = round(score, 4)
            if d.language != NONE_OF_THESE and score < self.stats["threshold"]:
                d.language, d.rejected = UNKNOWN, True


class NoSpeechStep:
    """``zxx`` (ISO 639-2 "no linguistic content") when the detector found no speech."""

    def __call__(self, ds: List[Decision]) -> None:
        for d in ds:
            if d.utterance.no_speech:
                d.language = ZXX


class LocationStep:
    """The geo vector decoded to (lat, lon) (:mod:`geolid.geo.location`)."""

    def __init__(self, decoder):
        self.decoder = decoder

    def __call__(self, ds: List[Decision]) -> None:
        located = [d for d in ds if d.utterance.geo_vector is not None]
        if not located:
            return
        lat, lon = self.decoder.decode(np.stack([d.utterance.geo_vector for d in located]))
        for d, a, o in zip(located, np.atleast_1d(lat), np.atleast_1d(lon)):
            d.location = Location(round(float(a), 4), round(float(o), 4))


def steps_for(options, languages: Sequence[str], geo_type: Optional[str], prior=None,
              decoder_factory=None, folder=None) -> List:
    """The steps ``options`` asks for, in order (``folder``: the model folder, whose head
    state the unknown-language step needs)."""
    steps: List = []
    if prior is not None:
        steps.append(LocationPriorStep(prior))
    if options.languages is not None:
        from geolid.inference.candidates import parse_languages

        steps.append(CandidateStep(parse_languages(options.languages, languages), languages))
    steps.append(TopLanguageStep())
    if options.reject_below is not None:
        steps.append(RejectionStep(options.reject_below))
    if options.reject_unknown:
        head = folder.head if folder is not None else None
        if head is None or head.unknown is None:
            where = folder.exp if folder is not None else "this model"
            raise ValueError(f"reject_unknown: {where} has no fitted unknown-language score; the "
                             "recipe's stage 7 (python -m geolid.bin.calibrate) fits it with the "
                             "temperature")
        steps.append(UnknownLanguageStep(head, folder.head_scale))
    if options.speech_detector != "none":
        steps.append(NoSpeechStep())
    if options.locate and geo_type == "geo" and decoder_factory is not None:
        steps.append(LocationStep(decoder_factory()))
    return steps


def decide(utterances: Sequence[Utterance], languages: Sequence[str], steps: Sequence,
           segments: bool = False) -> List[Decision]:
    """The decisions for the scored ``utterances`` (failed ones are left out)."""
    ds = []
    for u in utterances:
        if not u.ok:
            continue
        window_probs = np.stack([w.probabilities for w in u.windows]) if segments and u.windows else None
        ds.append(Decision(u, languages, u.probabilities, window_probs))
    for step in steps:
        step(ds)
    return ds


def window_segments(d: Decision, reject_below: Optional[float]) -> List[Segment]:
    """``--segments``: each utterance window's top language (``unknown``, ``zxx`` as the file's)."""
    from geolid.audio import TARGET_SR
    from geolid.inference.vad import is_no_speech

    out = []
    for w, p in zip(d.utterance.windows, d.window_probabilities):
        j = int(np.argmax(p))
        code = UNKNOWN if reject_below is not None and p[j] < reject_below else d.languages[j]
        seconds = w.window.length / TARGET_SR
        if w.speech is not None and is_no_speech(w.speech * seconds, seconds):
            code = ZXX
        out.append(Segment(round(w.window.start_s, 3), round(w.window.end_s, 3), code,
                           language_name(code), round(float(p[j]), 6)))
    return out


def to_prediction(d: Decision, top_k: int, reject_below: Optional[float] = None) -> Prediction:
    u = d.utterance
    allowed = d.notes.get("allowed")
    order = np.argsort(-d.probabilities, kind="stable")
    if allowed is not None:   # a candidate list: only its languages are listed
        order = [i for i in order if i in set(allowed)]
    order = order[:top_k]
    top = [LanguageScore(d.languages[i], language_name(d.languages[i]),
                         round(float(d.probabilities[i]), 6)) for i in order]
    segments = None
    if u.timeline is not None:
        segments = u.timeline
    elif d.window_probabilities is not None:
        segments = window_segments(d, reject_below)
    return Prediction(key=u.key, path=u.path, language=d.language, name=language_name(d.language),
                      probability=top[0].probability, rejected=d.rejected, top_k=top,
                      location=d.location, duration=u.duration, num_windows=u.n_windows,
                      segments=segments, geo_vector=u.geo_vector, prior=d.notes.get("prior"),
                      speech_fraction=u.speech_fraction, candidates=d.notes.get("candidates"),
                      unknown_score=d.notes.get("unknown_score"), analysed=u.analysed)
