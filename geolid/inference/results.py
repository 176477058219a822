"""The result schema of ``GeoLID.predict`` and ``geolid predict`` (version 1).

One :class:`Prediction` per input; ``to_dict()`` is what the JSON / JSONL
outputs contain. Every record has every key (``null`` where not applicable),
so consumers can rely on the shape; docs/cli.md documents each field. Adding a
key is a compatible change; renaming or removing one bumps ``SCHEMA_VERSION``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from geolid import languages

SCHEMA_VERSION = 1
UNKNOWN = "unknown"
NONE_OF_THESE = "none"   # a candidate list (--languages) that holds none of the likely languages


def language_name(code: str) -> str:
    """The ``name`` field: English name of a code (:func:`geolid.languages.language_name`),
    the code itself if it has none, and a note for the rejection label."""
    if code == UNKNOWN:
        return "unknown (rejected)"
    if code == NONE_OF_THESE:
        return "none of the candidate languages"
    return languages.language_name(code) or code


@dataclass
class LanguageScore:
    code: str
    name: str
    probability: float


@dataclass
class Location:
    lat: float
    lon: float


@dataclass
class Segment:
    """One window of a long file: its time span and its top language."""

    start: float
    end: float
    language: str
    name: str
    probability: float


@dataclass
class Prediction:
    """The answer for one input (see docs/cli.md for the field meanings)."""

    key: str
    path: Optional[str] = None
    language: Optional[str] = None
    name: Optional[str] = None
    probability: Optional[float] = None
    rejected: bool = False
    top_k: List[LanguageScore] = field(default_factory=list)
    location: Optional[Location] = None
    duration: Optional[float] = None
    num_windows: int = 0
    segments: Optional[List[Segment]] = None
    geo_vector: Optional[np.ndarray] = None     # (geo_dim,), Python API; JSON on request
    model: Optional[Dict[str, str]] = None      # {"name", "sha256", "head"} (CLI records)
    error: Optional[str] = None
    prior: Optional[Dict[str, Any]] = None      # location prior used, and whether it changed the answer
    # share of the input the speech detector calls speech (null: detector off)
    speech_fraction: Optional[float] = None
    options: Optional[Dict[str, Any]] = None    # the result-changing options (CLI records)
    # candidate list: {"languages", "allowed_mass", "none_of_these"} (null without --languages)
    candidates: Optional[Dict[str, Any]] = None
    # the measured known-language score (higher = known; null unless --reject-unknown)
    unknown_score: Optional[float] = None
    # with --budget: {"budget", "speech_seconds", "windows", "planned", "agreement", "stopped_early"}
    analysed: Optional[Dict[str, Any]] = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self, include_geo_vector: bool = False) -> Dict[str, Any]:
        d = asdict(self)
        d["geo_vector"] = (None if self.geo_vector is None or not include_geo_vector
                           else [round(float(v), 6) for v in np.asarray(self.geo_vector)])
        return {"schema_version": SCHEMA_VERSION, **d}

    def to_json(self, include_geo_vector: bool = False) -> str:
        return json.dumps(self.to_dict(include_geo_vector), ensure_ascii=False)

    @classmethod
    def failure(cls, key: str, error: str, path: Optional[str] = None) -> "Prediction":
        return cls(key=key, path=path, error=error)
