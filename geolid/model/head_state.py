"""What a model folder adds to the class scores beyond the weights: the scoring head's state.

A trained checkpoint scores a language as the scaled cosine between the utterance
embedding and the closest of the language's sub-centres. Two side files beside
``config.yaml`` change those scores, and so belong to the model as much as its
weights do:

* ``calibration.json``: one temperature T (Guo et al., 2017), fitted by the
  recipe's stage 7; logits are divided by it. No file: T = 1 (the published models).
* ``enrolled.json``: what ``geolid enroll`` added without training: *extra
  centres* for languages the model already knows (a language's cosine is the max
  over its trained sub-centres and its extra centres), per-language logit
  *offsets*, and a record of the enrolled languages (location, clips, history).

:class:`HeadState` is that state as plain arrays. It is read and validated here
(finite, positive, within bounds, codes in the class order; its embedding size is
checked when it is installed into a model), written here, and fingerprinted for
the model's identity: everything that changes a model's outputs is in the weights
hash or in :meth:`HeadState.fingerprint`. The scoring head
(:class:`geolid.lid.scoring_head.ScoringHead`) holds it as buffers, so it travels
into an ONNX export as part of the graph.

Import-light: numpy and json only.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from geolid.model.errors import ModelError

CALIBRATION_FILE = "calibration.json"
ENROLLED_FILE = "enrolled.json"
ENROLLED_FORMAT = 1
# A temperature outside these bounds is not a calibration but a broken file: at 1e300
# every input gets the uniform distribution, at 1e-300 every logit overflows.
T_BOUNDS = (0.05, 20.0)
# Logit offsets are in the units of the scaled cosines (scale 30 in the published models).
MAX_ABS_OFFSET = 100.0


@dataclass(frozen=True)
class EnrolledLanguage:
    """What ``enrolled.json`` records of one enrolled language."""

    new: bool                                   # appended to the class order (else: extra centres)
    clips: int = 0
    method: str = ""
    location: Optional[Tuple[float, float]] = None   # URIEL (lat, lon), None if URIEL has none

    def to_json(self) -> Dict:
        return {"new": self.new, "clips": self.clips, "method": self.method,
                "location": list(self.location) if self.location else None,
                "uriel_geo": self.location is not None}


@dataclass(frozen=True)
class HeadState:
    """Temperature, extra centres and logit offsets of a model's scoring head.

    ``extra_classes`` (M,) class indices and ``extra_centres`` (M, D) unit rows: a
    class's cosine is raised to its best extra centre's. ``offsets`` (C,) or None:
    added to the scaled cosines before the temperature.
    """

    temperature: float = 1.0
    extra_classes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    extra_centres: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    offsets: Optional[np.ndarray] = None
    enrolled: Dict[str, EnrolledLanguage] = field(default_factory=dict)
    history: Tuple[Dict, ...] = ()
    calibration_info: Optional[Dict] = None
    # the unknown-language score's statistics, fitted with the temperature (stage 7):
    # {"mean": {...}, "std": {...}, "threshold": z} (geolid.inference.open_set)
    unknown: Optional[Dict] = None

    @property
    def is_identity(self) -> bool:
        """True when the head scores exactly as the weights alone do."""
        return (self.temperature == 1.0 and len(self.extra_classes) == 0 and self.unknown is None
                and (self.offsets is None or not np.any(self.offsets)))

    def cosines(self, logits, scale: float, calibrated: bool = True) -> np.ndarray:
        """The class cosines behind ``logits`` that this head produced (the inverse of the
        scoring head's scale, offsets and, when ``calibrated``, temperature): what the
        unknown-language score reads, the same from torch, ONNX or stage-6 files."""
        z = np.asarray(logits, dtype=np.float64)
        if calibrated:
            z = z * self.temperature
        if self.offsets is not None:
            z = z - self.offsets
        return z / float(scale)

    def uncalibrated(self) -> "HeadState":
        """The same head at T = 1 (the model's posteriors as trained, e.g. stage 6)."""
        return replace(self, temperature=1.0, calibration_info=None, unknown=None)

    def with_temperature(self, temperature: float, unknown: Optional[Dict] = None, **info) -> "HeadState":
        check_temperature(temperature, "temperature")
        return replace(self, temperature=float(temperature), unknown=unknown,
                       calibration_info={"method": "temperature", **info})

    def fingerprint(self) -> str:
        """sha256 over what changes scores (T, extra centres, offsets); '' for the identity."""
        if self.is_identity:
            return ""
        h = hashlib.sha256()
        h.update(repr(round(float(self.temperature), 6)).encode())
        h.update(np.ascontiguousarray(self.extra_classes, dtype=np.int64).tobytes())
        h.update(np.round(np.asarray(self.extra_centres, dtype=np.float64), 6).tobytes())
        if self.offsets is not None:
            h.update(np.round(np.asarray(self.offsets, dtype=np.float64), 6).tobytes())
        if self.unknown is not None:
            h.update(json.dumps(self.unknown, sort_keys=True).encode())
        return h.hexdigest()

    def check_against(self, n_classes: int, embedding_dim: int, where: str) -> None:
        """Shapes against the model they are installed into (one-line ModelError)."""
        if len(self.extra_classes) and (self.extra_classes.max() >= n_classes or self.extra_classes.min() < 0):
            raise ModelError(f"{where}: extra centres name class {int(self.extra_classes.max())} of a "
                             f"{n_classes}-language model; re-run `geolid enroll` on this model")
        if len(self.extra_classes) and self.extra_centres.shape[1] != embedding_dim:
            raise ModelError(f"{where}: extra centres have dimension {self.extra_centres.shape[1]} but "
                             f"the model's language embedding has {embedding_dim}; they were made with "
                             "another model: re-run `geolid enroll` on this one")
        if self.offsets is not None and len(self.offsets) != n_classes:
            raise ModelError(f"{where}: {len(self.offsets)} logit offsets for a {n_classes}-language "
                             "model; re-run `geolid enroll` on this model")


# ------------------------------------------------------------------ checks
def check_temperature(value, where: str) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: temperature must be a number, got {value!r}; refit it with the "
                         "recipe's stage 7 or delete the file") from None
    if not math.isfinite(t) or not T_BOUNDS[0] <= t <= T_BOUNDS[1]:
        raise ModelError(f"{where}: temperature {t:g} is outside [{T_BOUNDS[0]}, {T_BOUNDS[1]}], which "
                         "no fitted calibration gives; refit it with the recipe's stage 7 "
                         "(python -m geolid.bin.calibrate) or delete the file")
    return t


def _read_json(path: Path):
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except ValueError as e:
        raise ModelError(f"{path}: not valid JSON ({e}); restore or delete the file") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read it ({e.strerror})") from None


def _mapping(value, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ModelError(f"{where}: expected a mapping (JSON object), got {type(value).__name__}")
    return value


def _location(value, where: str) -> Optional[Tuple[float, float]]:
    if value is None:
        return None
    try:
        lat, lon = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: location must be [lat, lon] in degrees or null, got {value!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ModelError(f"{where}: location {lat}, {lon} is not a latitude/longitude")
    return lat, lon


# ------------------------------------------------------------------ reading
def read_head_state(exp_dir: os.PathLike, languages: Sequence[str]) -> HeadState:
    """The head state of the model folder whose ``config.yaml`` lies in ``exp_dir``."""
    exp_dir = Path(exp_dir)
    state = HeadState()
    cal_path = exp_dir / CALIBRATION_FILE
    if cal_path.is_file():
        data = _mapping(_read_json(cal_path), str(cal_path))
        if "temperature" not in data:
            raise ModelError(f"{cal_path}: no 'temperature' key; refit it with the recipe's stage 7 "
                             "or delete the file")
        t = check_temperature(data["temperature"], f"{cal_path}: key 'temperature'")
        unknown = None if data.get("unknown") is None else _unknown_stats(data["unknown"], cal_path)
        state = replace(state, temperature=t, calibration_info=dict(data), unknown=unknown)
    enr_path = exp_dir / ENROLLED_FILE
    if enr_path.is_file():
        state = _read_enrolled(enr_path, languages, state)
    return state


def _unknown_stats(value, path: Path) -> Dict:
    """The unknown-language score's fitted statistics (geolid.inference.open_set), checked."""
    where = f"{path}: key 'unknown'"
    try:
        mean, std = dict(value["mean"]), dict(value["std"])
        out = {"mean": {k: float(v) for k, v in mean.items()},
               "std": {k: float(v) for k, v in std.items()}, "threshold": float(value["threshold"])}
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{where}: expected mean, std (per signal) and a threshold; refit it with "
                         "the recipe's stage 7 or delete the key") from None
    numbers = list(out["mean"].values()) + list(out["std"].values()) + [out["threshold"]]
    if set(mean) != set(std) or not mean or not all(math.isfinite(v) for v in numbers) \
            or min(out["std"].values()) <= 0:
        raise ModelError(f"{where}: statistics must be finite, the same signals in mean and std, "
                         "positive std; refit them with the recipe's stage 7")
    return out


def _read_enrolled(path: Path, languages: Sequence[str], state: HeadState) -> HeadState:
    data = _mapping(_read_json(path), str(path))
    index = {c: i for i, c in enumerate(languages)}
    classes: List[int] = []
    rows: List[List[float]] = []
    for code, centres in _mapping(data.get("extra_centres") or {}, f"{path}: key 'extra_centres'").items():
        where = f"{path}: extra_centres['{code}']"
        if code not in index:
            raise ModelError(f"{where}: '{code}' is not in the model's class order; re-run "
                             "`geolid enroll` on this model")
        if not isinstance(centres, list) or not centres or not all(isinstance(c, list) for c in centres):
            raise ModelError(f"{where}: expected a list of centres (lists of numbers)")
        for c in centres:
            classes.append(index[code])
            rows.append(c)
    extra = np.zeros((0, 0), dtype=np.float32)
    if rows:
        try:
            extra = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelError(f"{path}: extra centres must be lists of numbers of one length") from None
        if extra.ndim != 2 or not np.isfinite(extra).all():
            raise ModelError(f"{path}: extra centres must be finite numbers, one length per centre")
        norms = np.linalg.norm(extra, axis=1, keepdims=True)
        if (norms < 1e-6).any():
            raise ModelError(f"{path}: an extra centre is the zero vector; re-run `geolid enroll`")
        extra = (extra / norms).astype(np.float32)
    offsets = None
    raw_offsets = _mapping(data.get("offsets") or {}, f"{path}: key 'offsets'")
    if raw_offsets:
        offsets = np.zeros(len(languages), dtype=np.float32)
        for code, value in raw_offsets.items():
            where = f"{path}: offsets['{code}']"
            if code not in index:
                raise ModelError(f"{where}: '{code}' is not in the model's class order")
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ModelError(f"{where}: must be a number, got {value!r}") from None
            if not math.isfinite(v) or abs(v) > MAX_ABS_OFFSET:
                raise ModelError(f"{where}: {v:g} is not a logit offset (|offset| <= {MAX_ABS_OFFSET:g})")
            offsets[index[code]] = v
    enrolled = {}
    for code, info in _mapping(data.get("languages") or {}, f"{path}: key 'languages'").items():
        info = _mapping(info, f"{path}: languages['{code}']")
        enrolled[code] = EnrolledLanguage(
            new=bool(info.get("new", False)), clips=int(info.get("clips") or 0),
            method=str(info.get("method") or ""),
            location=_location(info.get("location"), f"{path}: languages['{code}'].location"))
    history = data.get("history") or []
    if not isinstance(history, list):
        raise ModelError(f"{path}: key 'history' must be a list")
    return replace(state, extra_classes=np.asarray(classes, dtype=np.int64), extra_centres=extra,
                   offsets=offsets, enrolled=enrolled, history=tuple(history))


# ------------------------------------------------------------------ writing
def write_head_state(exp_dir: os.PathLike, state: HeadState, languages: Sequence[str]) -> List[Path]:
    """Write ``calibration.json`` / ``enrolled.json`` for ``state`` (atomically); the
    files a head with nothing to say does not need are removed. Returns what was written."""
    exp_dir = Path(exp_dir)
    calibration = None
    if state.temperature != 1.0 or state.unknown is not None:
        calibration = dict(state.calibration_info or {})
        calibration.update(method="temperature", temperature=round(float(state.temperature), 6))
        if state.unknown is not None:
            calibration["unknown"] = state.unknown
    docs = ((exp_dir / CALIBRATION_FILE, calibration),
            (exp_dir / ENROLLED_FILE, enrolled_document(state, languages)))
    return [path for path, doc in docs if _write_or_remove(path, doc)]


def _write_or_remove(path: Path, doc: Optional[dict]) -> bool:
    """``doc`` as JSON at ``path`` (atomically), or no file when ``doc`` is None."""
    from geolid.utils.fileio import atomic_write

    if doc is None:
        if path.exists():
            path.unlink()
        return False
    with atomic_write(path) as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return True


def enrolled_document(state: HeadState, languages: Sequence[str]) -> Optional[Dict]:
    """The ``enrolled.json`` content of ``state`` (None when nothing was enrolled)."""
    if not len(state.extra_classes) and state.offsets is None and not state.enrolled:
        return None
    table: Dict[str, List[List[float]]] = {}
    for cls, row in zip(state.extra_classes, state.extra_centres):
        table.setdefault(languages[int(cls)], []).append([round(float(v), 6) for v in row])
    offsets = {}
    if state.offsets is not None:
        offsets = {languages[i]: round(float(v), 6) for i, v in enumerate(state.offsets) if v}
    return {"format": ENROLLED_FORMAT,
            "languages": {c: e.to_json() for c, e in state.enrolled.items()},
            "extra_centres": table, "offsets": offsets, "history": list(state.history)}


def history_entry(source: str, method: str, codes: Sequence[str]) -> Dict:
    return {"source": str(source), "method": method, "languages": sorted(codes),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
