"""Language codes in geolid: one module for ISO 639-3 checks, names, URIEL vectors and
the class order of a model.

* :func:`is_iso3`: the shape check every label must pass (3 lowercase letters);
* :func:`language_name`: English names through ``langcodes``;
* :func:`uriel_vector` / :func:`uriel_table`: URIEL vectors from the data that ships
  in the ``lang2vec`` wheel, loaded once per feature set and process;
* :func:`read_class_order`: the languages of a ``lang2utt`` file in file order,
  which is the order of a model's output classes.

Unknown codes raise :class:`UnknownLanguageError` naming the code and close matches.
"""
from __future__ import annotations

import difflib
import functools
import json
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

import numpy as np

PathLike = Union[str, os.PathLike]

ISO3_RE = re.compile(r"[a-z]{3}")


class UnknownLanguageError(KeyError):
    """An ISO 639-3 code that URIEL does not know, or that lacks the feature set."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class LanguageListError(ValueError):
    """A language list (class order) file that is missing, empty or repeats a language."""


# --------------------------------------------------------------------------- codes and names


def is_iso3(code: str) -> bool:
    """True for a string that looks like an ISO 639-3 code (3 lowercase letters)."""
    return isinstance(code, str) and ISO3_RE.fullmatch(code) is not None


@functools.lru_cache(maxsize=4096)
def language_name(code: str) -> Optional[str]:
    """English name of an ISO 639 code (``langcodes``), or None when it has none."""
    try:
        import langcodes

        name = langcodes.Language.get(code).display_name("en")
    except Exception:  # malformed tags, e.g. dataset-specific labels
        return None
    return None if name.lower().startswith("unknown language") else name


# --------------------------------------------------------------------------- URIEL

# lang2vec's (file, source, feature prefix) of the feature sets geolid trains with,
# as in lang2vec.FEATURE_SETS_DICT (lang2vec 1.1.2).
URIEL_SETS = {
    "geo": ("geocoord_features.npz", "GEOCOORDS", ""),
    "phonology_knn": ("feature_predictions.npz", "predicted", "P_"),
    "syntax_knn": ("feature_predictions.npz", "predicted", "S_"),
    "inventory_knn": ("feature_predictions.npz", "predicted", "INV_"),
}


def uriel_data_path(filename: str) -> str:
    """Path of a data file shipped in the ``lang2vec`` wheel.

    Located through the installed distribution's metadata rather than by importing
    lang2vec (whose import scans every feature file: 2-20 s) or ``find_spec``
    (lang2vec also installs a ``bin/lang2vec.py`` script that shadows the package
    whenever the venv's bin folder is on ``sys.path``, as under pytest).
    """
    from importlib import metadata

    try:
        path = str(metadata.distribution("lang2vec").locate_file(
            os.path.join("lang2vec", "data", filename)))
    except metadata.PackageNotFoundError:
        raise ImportError("lang2vec is not installed: pip install lang2vec==1.1.2") from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} missing: reinstall lang2vec (its wheel ships URIEL data)")
    return path


@dataclass(frozen=True)
class UrielTable:
    """One URIEL feature set: ``values[i]`` is the vector of ``langs[i]`` (-1 = missing)."""

    feature_set: str
    langs: np.ndarray        # (L,) ISO 639-3 codes
    features: List[str]      # (F,) feature names, e.g. "GC_-83_42" (geo) or "S_SVO"
    values: np.ndarray       # (L, F) float64
    index: Dict[str, int]


@functools.lru_cache(maxsize=None)
def uriel_table(feature_set: str = "geo") -> UrielTable:
    """A URIEL feature set, read once per process from lang2vec's data.

    Why not ``lang2vec.get_features``: importing lang2vec takes seconds (it scans
    every feature file through pkg_resources) and each call reloads the file; the
    selection below is the one ``get_features`` makes, and the tests check that
    the vectors agree.
    """
    if feature_set not in URIEL_SETS:
        raise ValueError(f"Unknown URIEL feature set '{feature_set}'; choose one of "
                         f"{sorted(URIEL_SETS)}")
    filename, source, prefix = URIEL_SETS[feature_set]
    with np.load(uriel_data_path(filename)) as z:
        langs = np.asarray(z["langs"]).astype(str)
        names = [str(f) for f in z["feats"]]
        cols = [i for i, name in enumerate(names) if name.startswith(prefix)]
        src = int(np.nonzero(np.asarray(z["sources"]) == source)[0][0])
        values = np.asarray(z["data"][:, cols, src], dtype=np.float64)
    return UrielTable(feature_set, langs, [names[i] for i in cols], values,
                      {str(code): i for i, code in enumerate(langs)})


@functools.lru_cache(maxsize=1)
def _letter_codes() -> Dict[str, str]:
    """lang2vec's two-letter -> ISO 639-3 table (``get_features`` accepts 'en' for 'eng')."""
    with open(uriel_data_path("letter_codes.json"), encoding="utf-8") as f:
        return json.load(f)


def uriel_languages(feature_set: str = "geo") -> frozenset:
    """Codes URIEL has a row for in ``feature_set``."""
    return frozenset(uriel_table(feature_set).index)


def suggest_codes(code: str, n: int = 5, feature_set: str = "geo") -> List[str]:
    """Close matches among the codes URIEL knows, for error messages."""
    return difflib.get_close_matches(str(code).lower(), sorted(uriel_languages(feature_set)),
                                     n=n, cutoff=0.5)


@functools.lru_cache(maxsize=None)
def uriel_vector(code: str, feature_set: str = "geo") -> np.ndarray:
    """The URIEL vector of ``code`` as float32 (read-only), shape (F,). Cached.

    Raises :class:`UnknownLanguageError` naming the code and close matches when
    URIEL does not know it, or has no value for this feature set.
    """
    table = uriel_table(feature_set)
    key = _letter_codes().get(code, code)
    if key not in table.index:
        name = language_name(code) if is_iso3(code) else None
        if name:
            raise UnknownLanguageError(
                f"Language '{code}' ({name}) is a valid code, but URIEL/lang2vec has no "
                f"'{feature_set}' vector for it. Map it to a related code that has one "
                "(preprocessor_conf.lang2vec_aliases), or drop it from the language list.")
        hint = suggest_codes(code, feature_set=feature_set)
        raise UnknownLanguageError(
            f"Language code '{code}' is not an ISO 639-3 code known to URIEL/lang2vec"
            + (f"; did you mean one of {hint}?" if hint else ".")
            + " Labels must be ISO 639-3 codes (e.g. 'eng', 'cmn', 'swh').")
    row = table.values[table.index[key]]
    if np.any(row == -1):
        raise UnknownLanguageError(
            f"Language '{code}' has no '{feature_set}' vector in URIEL (missing values). "
            "Use a related code that has one, or drop the language from training.")
    vec = row.astype(np.float32)
    vec.flags.writeable = False  # shared by every caller through the cache
    return vec


def has_uriel_vector(code: str, feature_set: str = "geo") -> bool:
    """True if URIEL has a complete ``feature_set`` vector for ``code``."""
    try:
        uriel_vector(code, feature_set)
    except UnknownLanguageError:
        return False
    return True


# --------------------------------------------------------------------------- class order


def read_class_order(path: PathLike) -> List[str]:
    """The languages of a ``lang2utt`` file (first column), in file order.

    That order is the order of a model's output classes, so a missing or empty
    file and a language listed twice are errors (:class:`LanguageListError`).
    """
    from geolid.utils.fileio import read_kaldi_lines

    if not os.path.isfile(path):
        raise LanguageListError(f"{path}: language list (lang2utt) not found")
    rows = read_kaldi_lines(path)
    if not rows:
        raise LanguageListError(f"{path} is empty: it should list one language per line")
    first: Dict[str, int] = {}
    for lineno, code, _ in rows:
        if code in first:
            raise LanguageListError(f"{path}:{lineno}: language '{code}' listed twice (first on "
                                    f"line {first[code]}); each class appears once")
        first[code] = lineno
    return [code for _, code, _ in rows]
