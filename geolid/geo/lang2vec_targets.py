"""URIEL language vectors (the geolocation target) through ``lang2vec``, offline.

The published system regresses, for every utterance, the URIEL "geo" vector of its
language: 299 values in [0, 1], each relating the language's location to a fixed
point on the Earth. ``lang2vec`` ships the URIEL data in its wheel, so this works
without network. Other feature sets are binary and are trained with
BCE-with-logits instead of MSE (see :data:`LANG2VEC_TYPES`).
"""
from __future__ import annotations

import difflib
import functools
import re
import warnings
from typing import Dict, Iterable, List

import numpy as np

# name -> (dimension, loss family). Dimensions are those lang2vec 1.1.2 returns.
LANG2VEC_TYPES: Dict[str, tuple] = {
    "geo": (299, "mse"),
    "phonology_knn": (28, "bce"),
    "syntax_knn": (103, "bce"),
    "inventory_knn": (158, "bce"),
}


class UnknownLanguageError(KeyError):
    """An ISO 639-3 code that URIEL does not know, or that lacks the feature set."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def lang2vec_dim(lang2vec_type: str) -> int:
    _check_type(lang2vec_type)
    return LANG2VEC_TYPES[lang2vec_type][0]


def is_binary(lang2vec_type: str) -> bool:
    _check_type(lang2vec_type)
    return LANG2VEC_TYPES[lang2vec_type][1] == "bce"


def _check_type(lang2vec_type: str) -> None:
    if lang2vec_type not in LANG2VEC_TYPES:
        raise ValueError(
            f"Unknown lang2vec_type '{lang2vec_type}'; choose one of "
            f"{sorted(LANG2VEC_TYPES)}"
        )


@functools.lru_cache(maxsize=1)
def _l2v():
    with warnings.catch_warnings():
        # lang2vec imports pkg_resources, which warns about its own deprecation.
        warnings.simplefilter("ignore")
        import lang2vec.lang2vec as l2v
    return l2v


@functools.lru_cache(maxsize=1)
def known_languages() -> frozenset:
    """Codes URIEL lists (for suggestions; lang2vec also resolves some others,
    e.g. macrolanguages such as 'ara' or 'que', through its own code table)."""
    l2v = _l2v()
    return frozenset(str(c) for c in set(l2v.available_uriel_languages()) | set(l2v.LANGUAGES))


def suggest_codes(code: str, n: int = 5) -> List[str]:
    """Close matches among the known codes, for error messages."""
    return difflib.get_close_matches(code.lower(), sorted(known_languages()), n=n, cutoff=0.5)


def _language_name(code: str) -> str | None:
    """English name if ``code`` is a real ISO 639 code (langcodes), else None."""
    if not re.fullmatch(r"[a-z]{3}", code or ""):
        return None
    try:
        import langcodes

        lang = langcodes.Language.get(code)
        return lang.display_name() if lang.is_valid() and lang.has_name_data() else None
    except Exception:  # langcodes is optional here: only the message gets poorer
        return None


@functools.lru_cache(maxsize=None)
def get_lang2vec(iso3: str, lang2vec_type: str = "geo") -> np.ndarray:
    """The URIEL vector of ``iso3`` as float32, shape (dim,). Cached per process.

    Raises :class:`UnknownLanguageError` naming the code and close matches when
    URIEL does not know it, or has no value for this feature set (lang2vec marks
    missing values with "--").
    """
    _check_type(lang2vec_type)
    try:
        raw = _l2v().get_features([iso3], lang2vec_type)[iso3]
    except Exception:  # lang2vec raises a bare Exception for unknown codes
        name = _language_name(iso3)
        if name:
            raise UnknownLanguageError(
                f"Language '{iso3}' ({name}) is a valid code, but URIEL/lang2vec has no "
                f"'{lang2vec_type}' vector for it. Map it to a related code that has one "
                "(preprocessor_conf.lang2vec_aliases), or drop it from the language list."
            ) from None
        hint = suggest_codes(iso3)
        raise UnknownLanguageError(
            f"Language code '{iso3}' is not an ISO 639-3 code known to URIEL/lang2vec"
            + (f"; did you mean one of {hint}?" if hint else ".")
            + " Labels must be ISO 639-3 codes (e.g. 'eng', 'cmn', 'swh')."
        ) from None
    if any(v == "--" for v in raw):
        raise UnknownLanguageError(
            f"Language '{iso3}' has no '{lang2vec_type}' vector in URIEL (missing values). "
            "Use a related code that has one, or drop the language from training."
        )
    return np.asarray(raw, dtype=np.float64).astype(np.float32)


def lang2vec_table(iso3_codes: Iterable[str], lang2vec_type: str = "geo") -> np.ndarray:
    """Stack the vectors of ``iso3_codes`` in order: (n, dim) float32.

    Every unknown code is reported at once, so a long language list is fixed in
    one pass.
    """
    codes = list(iso3_codes)
    errors, rows = [], []
    for code in codes:
        try:
            rows.append(get_lang2vec(code, lang2vec_type))
        except UnknownLanguageError as e:
            errors.append(str(e))
    if errors:
        raise UnknownLanguageError("\n".join(errors))
    return np.stack(rows) if rows else np.zeros((0, lang2vec_dim(lang2vec_type)), np.float32)
