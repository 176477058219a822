"""Every knob of a prediction, in one validated object.

:class:`PredictOptions` is what the Python API, the CLI, the recipe's inference,
the HTTP service and the Ray stage all build and pass on, so an option means the
same thing at every door. ``GeoLID.predict(x, top_k=3)`` is
``GeoLID.predict(x, options=PredictOptions(top_k=3))``.

Groups:

* cutting an input (the segmenter): ``window``, ``overlap``, ``vad`` (cut at
  pauses), ``speech_detector``, ``min_duration``, ``budget`` (a compute budget for
  long inputs: :mod:`geolid.inference.budget`);
* batching (speed and memory only; results do not depend on it): ``batch_size``,
  ``batch_seconds``;
* decisions (post-processing): ``top_k``, ``reject_below``, ``reject_unknown``,
  ``languages`` (a candidate list), ``near`` (a location prior), ``locate``,
  ``segments``, ``timeline``.

:meth:`PredictOptions.result_key` is the subset that changes results: it goes
into ``--out`` records beside the model's identity, so a resumed run cannot mix
answers made with other options.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Dict, Optional, Tuple

from geolid.inference.short_inputs import MIN_DURATION
from geolid.inference.vad import DETECTORS

DEFAULT_BATCH_SECONDS = 240.0
SPEECH_DETECTOR_ENV = "GEOLID_SPEECH_DETECTOR"


def default_speech_detector() -> str:
    return os.environ.get(SPEECH_DETECTOR_ENV, "silero")


@dataclass(frozen=True)
class TimelineOptions:
    """Analysis windows and smoothing of the language timeline (docs/timeline.md)."""

    window: float = 1.5              # seconds; tuned on the demo model (bench/timeline_switch.py)
    hop: float = 0.5
    switch_penalty: float = 48.0     # nats of the model's log-posteriors; 40-56 is a plateau
    floor: float = 0.0               # share of a uniform distribution mixed into each posterior

    def check(self) -> None:
        for name in ("window", "hop"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"timeline_{name} must be a positive number of seconds, got {v}")
        if self.hop > self.window:
            raise ValueError(f"timeline_hop ({self.hop} s) must not exceed the timeline window "
                             f"({self.window} s)")
        if not (math.isfinite(self.switch_penalty) and self.switch_penalty >= 0):
            raise ValueError(f"switch_penalty must be >= 0, got {self.switch_penalty}")
        if not 0 <= self.floor < 1:
            raise ValueError(f"timeline floor must be in [0, 1), got {self.floor}")


@dataclass(frozen=True)
class PredictOptions:
    # --- cutting an input
    window: Optional[float] = 30.0     # seconds; longer inputs are split (None: never)
    overlap: float = 5.0               # seconds between fixed windows
    vad: bool = False                  # cut long inputs at pauses instead of fixed windows
    speech_detector: str = field(default_factory=default_speech_detector)
    min_duration: float = MIN_DURATION  # shorter inputs get an error, not a guess (0: off)
    # long inputs: analyse at most this many seconds of detected speech, in windows spread
    # over the whole input, stopping once the answer has settled (None: every window)
    budget: Optional[float] = None
    # --- batching: speed and memory only
    batch_size: Optional[int] = None   # None: 1 on CPU; on GPU as many as fit in batch_seconds
    batch_seconds: float = DEFAULT_BATCH_SECONDS
    # --- decisions
    top_k: int = 5
    reject_below: Optional[float] = None   # 'unknown' when the top probability is below it
    reject_unknown: bool = False       # 'unknown' when the measured unknown-language score says so
    languages: Optional[Tuple[str, ...]] = None   # candidate list (None: every language)
    near: Optional[object] = None      # geolid.inference.prior.Near
    locate: bool = True                # decode the geo vector to a place
    segments: bool = False             # report each window's language
    timeline: Optional[TimelineOptions] = None

    def __post_init__(self):
        # convenient spellings, normalised once: "eng,fra" / ["eng"], "LAT,LON", timeline=True
        if isinstance(self.languages, str):
            object.__setattr__(self, "languages", tuple(c.strip() for c in self.languages.split(",")))
        elif self.languages is not None:
            object.__setattr__(self, "languages", tuple(self.languages))
        if self.near is not None:
            from geolid.inference.prior import parse_near

            object.__setattr__(self, "near", parse_near(self.near))
        if self.timeline is True:
            object.__setattr__(self, "timeline", TimelineOptions())
        elif self.timeline is False:
            object.__setattr__(self, "timeline", None)
        self.check()

    # ---------------------------------------------------------- building
    @classmethod
    def of(cls, options: Optional["PredictOptions"] = None, **overrides) -> "PredictOptions":
        """``options`` (default: the defaults) with ``overrides``; an unknown name is an error."""
        base = options or cls()
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unknown prediction option(s) {unknown}; options are "
                            f"{sorted(f.name for f in fields(cls))}")
        return replace(base, **overrides) if overrides else base

    # -------------------------------------------------------- validation
    def check(self) -> None:
        """ValueError naming the option (the CLI's flag of the same name) and the rule."""
        def positive(name, value):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")

        if self.window is not None:
            positive("window", self.window)
            if not self.vad and not (math.isfinite(self.overlap) and 0 <= self.overlap < self.window):
                raise ValueError(f"overlap must be >= 0 and below the window ({self.window} s), "
                                 f"got {self.overlap}")
        if self.speech_detector not in DETECTORS:
            raise ValueError(f"speech_detector must be one of {DETECTORS}, got '{self.speech_detector}'"
                             f" (from ${SPEECH_DETECTOR_ENV}?)" if os.environ.get(SPEECH_DETECTOR_ENV)
                             else f"speech_detector must be one of {DETECTORS}, got "
                                  f"'{self.speech_detector}'")
        if not (isinstance(self.min_duration, (int, float)) and math.isfinite(self.min_duration)
                and self.min_duration >= 0):
            raise ValueError(f"min_duration must be >= 0 seconds, got {self.min_duration}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size}")
        positive("batch_seconds", self.batch_seconds)
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {self.top_k}")
        if self.reject_below is not None and not (isinstance(self.reject_below, (int, float))
                                                  and 0.0 <= self.reject_below <= 1.0):
            raise ValueError(f"reject_below must be a probability in [0, 1], got {self.reject_below}")
        if self.languages is not None and not self.languages:
            raise ValueError("languages: the candidate list is empty")
        if self.timeline is not None:
            self.timeline.check()
        if self.budget is not None:
            positive("budget", self.budget)
            if self.speech_detector == "none":
                raise ValueError("budget needs a speech detector (it analyses detected speech); "
                                 "drop speech_detector='none'")
            if self.timeline is not None or self.vad:
                raise ValueError("budget plans its own windows over the speech; it cannot be "
                                 "combined with timeline or vad (which need every window)")

    # ------------------------------------------------------------ identity
    def result_key(self) -> Dict:
        """The options that change a record's content (JSON-ready, stable order)."""
        d = asdict(self)
        for name in ("batch_size", "batch_seconds"):
            d.pop(name)
        if self.near is not None:
            d["near"] = self.near.as_dict()
        if self.languages is not None:
            d["languages"] = list(self.languages)
        return d
