"""Enrolling new languages with a per-class logit offset that protects the known ones.

Numpy in and out; the scores come from the scoring head. With enrolled classes::

    logit[c] = scale * max_k cos(embedding, row[c * K + k]) + offset[c]     (then / T)

:func:`enrol` returns, for N new languages, the N * K rows to append to the
classifier weight (the normalised mean of each language's clip embeddings, K
times: the published checkpoint format, ESPnet's inference still works) and the
offset vector over all C + N classes (0 for the C known classes). Each new
class's offset ``b`` is the smaller of

* ``needed``: leave-one-out on its enrolment clips, the offset at which a fraction
  ``recall`` of them would win against the known classes and the other new ones
  (each clip scored against the mean of the others). For a language far from the
  known ones this is negative: a margin the new class must clear, so known clips
  near the boundary stay with their language;
* ``safe``: with reference clips of the *known* languages (``known_embeddings``,
  ``known_labels``: e.g. the dev set the calibration stage uses), the largest
  offset at which the new class takes at most ``max_known_loss`` of the reference
  clips the model identifies correctly, minus ``safety`` logits; without them
  ``max_offset`` (default 0: a new class is never raised above plain cosine parity
  without evidence that it is safe).

Measured on the demo model (``python bench/enroll_curve.py``, docs/enroll.md; 6 pairs
of unseen espeak-ng languages, 12 clips a language, known = the demo test set, 95.8%):
``mean`` (today) 59.5% on the new languages, known -2.5 points (worst pair -6.1);
this function without reference clips 57.3%, -2.4 (-6.0); with the dev set (10 clips a
known language) as reference and safety 1: 44.1%, -0.8 (-2.2); safety 2: 38.2%,
-0.3 (-1.1). The issue's target (>= 80% on each enrolled language, known within 2
points) is met on no pair at 12 clips and on one (gug+kor) at 24; even offsets set on
the test data itself meet it on one pair of six: the demo's embedding does not
separate most of these languages from the known ones (the bench's ``--ceiling``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ["DEFAULT_RECALL", "DEFAULT_SAFETY", "DEFAULT_MAX_OFFSET", "Enrolment", "enrol",
           "class_logits"]

DEFAULT_RECALL = 0.9       # share of the enrolment clips (leave-one-out) the offset aims to keep
DEFAULT_SAFETY = 1.0       # logits kept between the offset and the first reference clip it would take
DEFAULT_MAX_OFFSET = 0.0   # without reference clips: never raise a new class above cosine parity


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def class_logits(embeddings: np.ndarray, class_weight: np.ndarray, K: int, scale: float,
                 offsets: Optional[np.ndarray] = None) -> np.ndarray:
    """(N, C) ``scale * max_k cos(embedding, row c*K+k) + offsets[c]`` (T = 1), computed by
    the model's own scoring head (:func:`geolid.lid.scoring_head.score_arrays`)."""
    from geolid.lid.scoring_head import score_arrays

    return score_arrays(embeddings, class_weight, K, scale, offsets)


@dataclass
class Enrolment:
    """What :func:`enrol` returns.

    ``rows``: (N * K, D) unit rows to append to the classifier weight (new class j
    = rows ``j*K .. j*K+K-1``, class index C + j). ``offsets``: (C + N,) logit
    offsets for all classes (0 for the known ones). ``details``: per new class
    ``{"clips", "offset", "needed", "safe", "loo_recall"}``.
    """

    rows: np.ndarray
    offsets: np.ndarray
    details: List[Dict] = field(default_factory=list)


def _needed(own: np.ndarray, competitor: np.ndarray, recall: float) -> float:
    """Smallest offset b with at least ``recall`` of the clips having own + b > competitor."""
    gap = np.sort(competitor - own)                   # clip i wins iff b > gap_i
    k = int(np.ceil(recall * len(gap))) - 1
    return float(gap[max(k, 0)] + 1e-6)


def enrol(new_embeddings: Sequence[np.ndarray], class_weight: np.ndarray, K: int, scale: float, *,
          recall: float = DEFAULT_RECALL, known_embeddings: Optional[np.ndarray] = None,
          known_labels: Optional[np.ndarray] = None, max_known_loss: float = 0.0,
          safety: float = DEFAULT_SAFETY, max_offset: float = DEFAULT_MAX_OFFSET,
          offsets: Optional[np.ndarray] = None) -> Enrolment:
    """Centres and logit offsets for new languages (see the module docstring).

    ``new_embeddings``: one (n_j, D) array of clip embeddings per new language
    (n_j >= 1; with one clip there is no leave-one-out and ``needed`` is 0).
    ``class_weight``: (K * C, D) the model's classifier weight; ``K``; ``scale``.
    ``known_embeddings`` (M, D) / ``known_labels`` (M,) class indices in [0, C):
    optional reference clips of the known languages. ``max_known_loss``: share of
    the correctly identified reference clips the new classes together may take
    (split evenly between them). ``offsets``: (C,) offsets the model already has
    (from an earlier enrolment; default 0), kept as they are and used in the scoring.
    Returns an :class:`Enrolment` whose ``offsets`` cover all C + N classes.
    """
    w = np.asarray(class_weight, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] % K:
        raise ValueError(f"class_weight must be (K*C, D) with K={K}, got {w.shape}")
    if not 0 < recall <= 1:
        raise ValueError(f"recall must be in (0, 1], got {recall}")
    if not 0 <= max_known_loss < 1:
        raise ValueError(f"max_known_loss must be in [0, 1), got {max_known_loss}")
    n_known, dim = w.shape[0] // K, w.shape[1]
    prior = np.zeros(n_known) if offsets is None else np.asarray(offsets, dtype=np.float64)
    if prior.shape != (n_known,):
        raise ValueError(f"offsets must have one value per existing class ({n_known}), got {prior.shape}")
    new = [_unit(np.atleast_2d(e)) for e in new_embeddings]
    if not new:
        raise ValueError("no new languages")
    for j, e in enumerate(new):
        if len(e) == 0 or e.shape[1] != dim:
            raise ValueError(f"new language {j}: need (n >= 1, {dim}) embeddings, got {e.shape}")
    centres = np.stack([_unit(e.mean(0)) for e in new])                 # (N, D)
    n_new = len(new)

    ref = None
    if known_embeddings is not None:
        if known_labels is None or len(known_labels) != len(known_embeddings):
            raise ValueError("known_embeddings need known_labels of the same length")
        kz = class_logits(known_embeddings, w, K, scale, prior)
        ok = kz.argmax(1) == np.asarray(known_labels)
        ref = (_unit(np.asarray(known_embeddings))[ok], kz.max(1)[ok])

    new_offsets = np.zeros(n_new)
    details: List[Dict] = []
    for _ in range(2):       # second pass: the other new classes compete with their offsets
        for j, e in enumerate(new):
            competitor = class_logits(e, w, K, scale, prior).max(1)
            for jj in range(n_new):
                if jj != j:
                    competitor = np.maximum(competitor, scale * (e @ centres[jj]) + new_offsets[jj])
            if len(e) >= 2:
                loo = _unit(e.sum(0)[None] - e)                         # mean of the others
                own = scale * np.sum(e * loo, axis=1)
                needed = _needed(own, competitor, recall)
            else:
                own, needed = None, 0.0
            if ref is not None and len(ref[0]):
                # reference clip i is taken iff b > its known logit - the new class's logit
                gap = np.sort(ref[1] - scale * (ref[0] @ centres[j]))
                allowed = int(np.floor(max_known_loss / n_new * len(gap) + 1e-9))
                safe = float(gap[allowed] - safety) if allowed < len(gap) else float("inf")
            else:
                safe = float(max_offset)
            new_offsets[j] = min(needed, safe)
            details_j = {"clips": int(len(e)), "offset": float(new_offsets[j]), "needed": needed, "safe": safe,
                         "loo_recall": None if own is None else float(np.mean(own + new_offsets[j] > competitor))}
            if len(details) < n_new:
                details.append(details_j)
            else:
                details[j] = details_j
    rows = np.repeat(centres, K, axis=0).astype(np.float32)
    return Enrolment(rows=rows, offsets=np.r_[prior, new_offsets], details=details)
