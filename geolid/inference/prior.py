"""A location prior: "this recording comes from near LAT, LON".

Form. Each language l with a URIEL location at great-circle distance d_l from the
given point gets the weight

    w_l = (1 - s) + s * exp(-(d_l / R)^2 / 2)

(R = radius in km, default 1000; s = strength in [0, 1], default 0.9), and the
posterior becomes p'_l proportional to p_l * w_l among the *located* languages.
Languages without a URIEL location (and enrolled languages without one) keep
their probability exactly; the located languages share the rest of the mass.

Why this form: a Gaussian in distance says "languages within about R km are
likely", and the floor 1 - s says "but people travel, and URIEL gives one point
per language (English sits in England, Spanish in Spain, Portuguese in
Portugal)": no language is ever ruled out. The prior changes the odds between two
languages by at most 1/(1 - s) (10x at the default), so an answer whose
probability is more than 10x that of the runner-up can never change, and every
prediction made with a prior records whether its top answer changed.
``s = 0`` is the identity.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

DEFAULT_RADIUS_KM = 1000.0
DEFAULT_STRENGTH = 0.9


@dataclass(frozen=True)
class Near:
    lat: float
    lon: float
    radius_km: float = DEFAULT_RADIUS_KM
    strength: float = DEFAULT_STRENGTH

    def __post_init__(self):
        if not -90 <= self.lat <= 90 or not -180 <= self.lon <= 180:
            raise ValueError(f"near: latitude must be in [-90, 90] and longitude in [-180, 180], "
                             f"got {self.lat}, {self.lon}")
        if not self.radius_km > 0:
            raise ValueError(f"near: radius must be > 0 km, got {self.radius_km}")
        if not 0 <= self.strength <= 1:
            raise ValueError(f"near: strength must be in [0, 1], got {self.strength}")

    def as_dict(self) -> Dict[str, float]:
        return {"lat": self.lat, "lon": self.lon, "radius_km": self.radius_km,
                "strength": self.strength}


NearLike = Union[Near, str, Sequence[float]]


def parse_near(value: NearLike, strength: Optional[float] = None) -> Near:
    """``Near``, ``"LAT,LON[,RADIUS_KM]"`` or a ``(lat, lon[, radius_km])`` tuple."""
    if isinstance(value, Near):
        return value if strength is None else Near(value.lat, value.lon, value.radius_km, strength)
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            nums = []
        if len(nums) not in (2, 3) or len(parts) != len(nums):
            raise ValueError(f"near: expected LAT,LON or LAT,LON,RADIUS_KM in degrees/km "
                             f"(e.g. '-1.3,36.8,800'), got '{value}'")
    else:
        nums = [float(v) for v in value]
        if len(nums) not in (2, 3):
            raise ValueError(f"near: expected (lat, lon) or (lat, lon, radius_km), got {value!r}")
    radius = nums[2] if len(nums) == 3 else DEFAULT_RADIUS_KM
    return Near(nums[0], nums[1], radius, DEFAULT_STRENGTH if strength is None else strength)


def language_weights(near: Near, locations: Sequence[Optional[Tuple[float, float]]]) -> np.ndarray:
    """w_l for each language (NaN where the language has no location)."""
    from geolid.geo.location import haversine_km

    w = np.full(len(locations), np.nan)
    for i, loc in enumerate(locations):
        if loc is not None:
            d = haversine_km(near.lat, near.lon, loc[0], loc[1])
            w[i] = (1 - near.strength) + near.strength * np.exp(-0.5 * (d / near.radius_km) ** 2)
    return w


def reweight(probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Apply the prior to probabilities (..., C); unlocated (NaN) columns keep their mass."""
    p = np.asarray(probs, dtype=np.float64)
    located = ~np.isnan(weights)
    if not located.any():
        return p.copy()
    out = p.copy()
    mass = p[..., located].sum(-1, keepdims=True)
    q = p[..., located] * weights[located]
    out[..., located] = q * mass / np.maximum(q.sum(-1, keepdims=True), 1e-300)
    return out


class LocationPrior:
    """A :class:`Near` bound to a model's class order (weights computed once)."""

    def __init__(self, near: Near, languages: Sequence[str],
                 locations: Mapping[str, Optional[Tuple[float, float]]]):
        self.near = near
        self.languages = list(languages)
        self.weights = language_weights(near, [locations.get(c) for c in self.languages])

    @classmethod
    def for_languages(cls, near: NearLike, languages: Sequence[str],
                      overrides: Optional[Mapping[str, Optional[Tuple[float, float]]]] = None,
                      strength: Optional[float] = None) -> "LocationPrior":
        return cls(parse_near(near, strength), languages, language_locations(languages, overrides))

    def reweight(self, probs: np.ndarray) -> np.ndarray:
        """The prior applied to a distribution (C,) or to rows of them (..., C)."""
        return reweight(probs, self.weights)

    def note(self, before: np.ndarray, after: np.ndarray) -> Dict:
        """A record's ``prior`` entry: the prior used, and whether it changed the answer."""
        b, a = int(np.argmax(before)), int(np.argmax(after))
        return dict(self.near.as_dict(), changed=a != b, language_without_prior=self.languages[b],
                    probability_without_prior=round(float(before[b]), 6))


def language_locations(languages: Sequence[str],
                       overrides: Optional[Mapping[str, Optional[Tuple[float, float]]]] = None
                       ) -> Dict[str, Optional[Tuple[float, float]]]:
    """URIEL (lat, lon) per code (None where URIEL has none); ``overrides`` win."""
    from geolid.geo.location import language_coordinates

    out: Dict[str, Optional[Tuple[float, float]]] = {}
    for code in languages:
        if overrides and code in overrides:
            out[code] = overrides[code]
            continue
        try:
            out[code] = tuple(float(v) for v in language_coordinates(code))
        except KeyError:
            out[code] = None
    return out
