"""URIEL language vectors (the geolocation target) through ``lang2vec``, offline.

The published system regresses, for every utterance, the URIEL "geo" vector of its
language: 299 values in [0, 1], each relating the language's location to a fixed
point on the Earth. ``lang2vec`` ships the URIEL data in its wheel, so this works
without network (:mod:`geolid.languages` loads it). Other feature sets are binary
and are trained with BCE-with-logits instead of MSE (see :data:`LANG2VEC_TYPES`).
"""
from __future__ import annotations

from typing import Dict, Iterable

import numpy as np

from geolid.languages import UnknownLanguageError, uriel_vector

__all__ = ["LANG2VEC_TYPES", "UnknownLanguageError", "get_lang2vec", "is_binary", "lang2vec_dim",
           "lang2vec_table"]

# name -> (dimension, loss family). Dimensions are those lang2vec 1.1.2 returns.
LANG2VEC_TYPES: Dict[str, tuple] = {
    "geo": (299, "mse"),
    "phonology_knn": (28, "bce"),
    "syntax_knn": (103, "bce"),
    "inventory_knn": (158, "bce"),
}


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


def get_lang2vec(iso3: str, lang2vec_type: str = "geo") -> np.ndarray:
    """The URIEL vector of ``iso3`` as float32, shape (dim,), from
    :func:`geolid.languages.uriel_vector` (cached per process; read-only).

    Raises :class:`UnknownLanguageError` naming the code and close matches when
    URIEL does not know it, or has no value for this feature set.
    """
    _check_type(lang2vec_type)
    return uriel_vector(iso3, lang2vec_type)


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
