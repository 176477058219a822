"""Is this a language the model knows? Unknown-language signals and the chosen score.

Pure numpy over one forward pass's outputs (no model calls here):

* ``logits``: (N, C) what the model emits: ``scale * max_k cos / T`` (T = the
  calibration temperature, 1 when the folder has no ``calibration.json``);
* ``embeddings``: (N, D) language embeddings (not normalised);
* ``class_weight``: (K * C, D) classifier weight, row ``c * K + k`` = sub-centre k
  of class c; ``K``, ``scale`` (30 in the published models);
* ``geo_vectors``: (N, 299) predicted URIEL geo vectors (geo models only);
* ``predicted_codes``: the ISO 639-3 code of each clip's top class (for its URIEL
  geo vector), or ``class_geo`` (C, 299) URIEL vectors in class order.

Every signal is oriented "higher = more likely a known language" (AUROC with
known = positive). :func:`signals` returns them all; :func:`unknown_score` is
the one measured best, and :data:`DEFAULT_UNKNOWN_THRESHOLD` its default cut.

Measurement (``python bench/unknown_languages.py``): the trained demo models
(``egs2/geolid/demo1``, tiny 4x64 wav2vec2 + ECAPA, 12 espeak-ng languages);
known = the demo's test (240) and accent-shifted test (120) clips; unknown = 12
espeak-ng languages the models never saw (German, Japanese, Arabic, Amharic,
Guarani, Italian, Turkish, Indonesian, Finnish, Polish, Dutch, Korean), 40 clips
each. Held-out AUROC, geo model, in-variant / accent-shifted test: top probability
0.894 / 0.764 (T = 1: 0.884 / 0.758), energy 0.915 / 0.800, max cosine 0.916 /
0.798, cosine margin 0.878 / 0.755, embedding norm 0.815 / 0.792, geo agreement
0.666 / 0.720; the chosen z(max cosine) + z(embedding norm) 0.922 / 0.841. On the
baseline (no geo head) max cosine 0.910 / 0.860 and the same sum 0.899 / 0.851.
The geo signal is weak on the demo model and adds nothing in any combination.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ["SIGNALS", "signals", "class_cosines", "auroc", "threshold_at_acceptance",
           "false_accept_rate", "ZScoreCombination", "UNKNOWN_SIGNALS", "DEFAULT_UNKNOWN_STATS",
           "DEFAULT_UNKNOWN_THRESHOLD", "fit_unknown_score", "unknown_score", "is_unknown"]

# name -> what it is (all oriented: higher = more likely known)
SIGNALS = {
    "max_prob": "top softmax probability of the logits as given (calibrated when T != 1)",
    "max_prob_T1": "top softmax probability at T = 1 (scale * cosine logits)",
    "energy": "T * logsumexp(logits as given) (Liu et al. 2020, negative free energy)",
    "energy_T1": "logsumexp of the T = 1 logits",
    "max_cosine": "cosine between the embedding and the nearest sub-centre of any class",
    "cosine_margin": "nearest class's cosine minus the runner-up class's cosine",
    "embedding_norm": "L2 norm of the (unnormalised) embedding, which the cosine classifier ignores",
    "geo_agreement": "minus the RMS distance between the predicted geo vector and the "
                     "URIEL geo vector of the predicted language (geo models only)",
}


# ----------------------------------------------------------------------------- helpers
def _logsumexp(z: np.ndarray) -> np.ndarray:
    from scipy.special import logsumexp

    return logsumexp(z, axis=-1)


def _max_softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(z.max(axis=-1) - _logsumexp(z))


def class_cosines(embeddings: np.ndarray, class_weight: np.ndarray, K: int) -> np.ndarray:
    """(N, C) cosine between each embedding and each class's nearest sub-centre (the
    scoring head at scale 1)."""
    from geolid.lid.scoring_head import score_arrays

    return score_arrays(embeddings, class_weight, K)


def geo_agreement(geo_vectors: np.ndarray, target_vectors: np.ndarray) -> np.ndarray:
    """Minus the RMS difference of two (N, F) sets of geo vectors (NaN rows stay NaN)."""
    d = np.asarray(geo_vectors, np.float64) - np.asarray(target_vectors, np.float64)
    return -np.sqrt(np.mean(d * d, axis=-1))


def _targets(predicted_codes, n: int, dim: int) -> np.ndarray:
    """URIEL geo vectors of ``predicted_codes`` (NaN where URIEL has none)."""
    from geolid.languages import UnknownLanguageError, uriel_vector

    out = np.full((n, dim), np.nan)
    for i, code in enumerate(predicted_codes):
        try:
            out[i] = uriel_vector(str(code), "geo")
        except UnknownLanguageError:
            pass
    return out


# ----------------------------------------------------------------------------- signals
def signals(logits: np.ndarray, embeddings: np.ndarray, class_weight: np.ndarray, K: int,
            scale: float, geo_vectors: Optional[np.ndarray] = None,
            predicted_codes: Optional[Sequence[str]] = None, temperature: float = 1.0,
            class_geo: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """All unknown-language signals, (N,) each, higher = more likely a known language.

    ``logits`` are taken as given (the API's, i.e. divided by ``temperature``);
    ``temperature`` recovers the T = 1 logits (``logits * T``) for the ``_T1``
    variants. ``max_cosine`` and ``cosine_margin`` come from the embeddings and
    ``class_weight`` alone (so rows enrolled into the weight count; the model's
    extra-centres table does not). ``geo_agreement`` needs ``geo_vectors`` and the
    predicted language's URIEL vector: ``class_geo[argmax logits]`` when
    ``class_geo`` (C, F) is given, else the URIEL vector of ``predicted_codes``
    (NaN for a code URIEL does not locate); omitted without ``geo_vectors``.
    ``scale`` is accepted for symmetry with the scoring head and checked > 0.
    """
    z = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if not scale > 0 or not temperature > 0:
        raise ValueError(f"scale and temperature must be positive, got {scale}, {temperature}")
    emb = np.atleast_2d(embeddings)
    if len(emb) != len(z):
        raise ValueError(f"{len(z)} logit rows but {len(emb)} embeddings")
    cos = class_cosines(emb, class_weight, K)
    if cos.shape[1] != z.shape[1]:
        raise ValueError(f"class_weight has {cos.shape[1]} classes (K={K}), logits {z.shape[1]}")
    z1 = z * temperature
    top2 = np.sort(cos, axis=1)[:, -2:] if cos.shape[1] > 1 else np.concatenate(
        [np.zeros_like(cos), cos], axis=1)
    out = {
        "max_prob": _max_softmax(z),
        "max_prob_T1": _max_softmax(z1),
        "energy": temperature * _logsumexp(z),
        "energy_T1": _logsumexp(z1),
        "max_cosine": cos.max(axis=1),
        "cosine_margin": top2[:, 1] - top2[:, 0],
        "embedding_norm": np.linalg.norm(np.asarray(emb, dtype=np.float64), axis=1),
    }
    if geo_vectors is not None and np.size(geo_vectors):
        geo = np.atleast_2d(np.asarray(geo_vectors, dtype=np.float64))
        if class_geo is not None:
            target = np.asarray(class_geo, dtype=np.float64)[z.argmax(axis=1)]
        elif predicted_codes is not None:
            if len(predicted_codes) != len(z):
                raise ValueError(f"{len(predicted_codes)} predicted codes for {len(z)} rows")
            target = _targets(predicted_codes, len(z), geo.shape[1])
        else:
            raise ValueError("geo_agreement needs predicted_codes or class_geo")
        out["geo_agreement"] = geo_agreement(geo, target)
    return out


# ----------------------------------------------------------------------------- metrics
def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank."""
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inv.ravel()]


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve of scores ``pos`` (positives, e.g. known languages)
    against ``neg``: P(pos > neg) + P(pos == neg) / 2 (Mann-Whitney U / (n_pos n_neg)).
    NaN scores are dropped."""
    pos = np.asarray(pos, dtype=np.float64).ravel()
    neg = np.asarray(neg, dtype=np.float64).ravel()
    pos, neg = pos[~np.isnan(pos)], neg[~np.isnan(neg)]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("auroc needs at least one positive and one negative score")
    r = _ranks(np.concatenate([pos, neg]))
    u = r[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def threshold_at_acceptance(known_scores: np.ndarray, accept: float = 0.95) -> float:
    """The cut that accepts a fraction ``accept`` of ``known_scores`` (score >= cut):
    their (1 - accept) quantile, lower interpolation (so at least ``accept`` pass)."""
    s = np.sort(np.asarray(known_scores, dtype=np.float64).ravel())
    s = s[~np.isnan(s)]
    if not 0 < accept <= 1 or len(s) == 0:
        raise ValueError("need known scores and 0 < accept <= 1")
    return float(s[int(np.floor((1 - accept) * len(s) + 1e-9))]) if accept < 1 else float(s[0])


def false_accept_rate(unknown_scores: np.ndarray, threshold: float) -> float:
    """Fraction of unknown-language scores at or above ``threshold`` (taken as known)."""
    u = np.asarray(unknown_scores, dtype=np.float64).ravel()
    return float(np.mean(u >= threshold))


class ZScoreCombination:
    """Sum of z-scored signals, the z-scores taken on *known* clips only:
    ``sum_s (x_s - mean_known_s) / std_known_s``. ``fit`` needs known clips only,
    so it can be fitted wherever the model's own held-out data is."""

    def __init__(self, names: Sequence[str], mean: Optional[Dict[str, float]] = None,
                 std: Optional[Dict[str, float]] = None):
        self.names = list(names)
        self.mean = dict(mean or {})
        self.std = dict(std or {})

    def fit(self, known: Dict[str, np.ndarray]) -> "ZScoreCombination":
        for n in self.names:
            x = np.asarray(known[n], dtype=np.float64)
            self.mean[n] = float(np.nanmean(x))
            self.std[n] = float(max(np.nanstd(x), 1e-12))
        return self

    def __call__(self, sig: Dict[str, np.ndarray]) -> np.ndarray:
        return sum((np.asarray(sig[n], np.float64) - self.mean[n]) / self.std[n] for n in self.names)


# ------------------------------------------------------------------------ the chosen score
#: The signals :func:`unknown_score` sums (each z-scored on known-language clips).
UNKNOWN_SIGNALS = ("max_cosine", "embedding_norm")
#: Their mean / std over the known clips of the demo geo model (dev + test + test_accent,
#: 480 clips; ``bench/unknown_languages.py``). Embedding norms are model-specific:
#: fit these for any other model with :func:`fit_unknown_score`.
DEFAULT_UNKNOWN_STATS = {"mean": {"max_cosine": 0.73805, "embedding_norm": 20.8962},
                         "std": {"max_cosine": 0.10609, "embedding_norm": 4.02598}}
#: In z units of :func:`unknown_score`: keeps 95% of the correctly identified known
#: clips of the demo geo model. Measured (bench/unknown_languages.py, demo geo model,
#: 12 unseen espeak-ng languages x 40 clips): false-accept rate of unknown-language
#: clips 40.5% ± 5.9 (threshold fitted on one half, FAR on 6 unknown languages never
#: fitted, 20 splits), 36.9% for this value over all 480 unknown clips; AUROC
#: 0.922 (in-variant test) / 0.841 (accent-shifted test) against 0.916 / 0.798 for
#: the best single signal (max cosine) and 0.894 / 0.764 for the top probability
#: (today's ``--reject-below``).
DEFAULT_UNKNOWN_THRESHOLD = -2.21


def fit_unknown_score(known: Dict[str, np.ndarray], correct: Optional[np.ndarray] = None,
                      accept: float = 0.95) -> Dict:
    """Statistics and threshold of :func:`unknown_score` for one model, from its
    held-out *known-language* clips only (e.g. the dev set the calibration stage uses).

    ``known``: :func:`signals` of those clips; ``correct``: (N,) bool, which of them
    the model identifies correctly (None: all). The threshold keeps ``accept`` of
    the correct ones (a wrong answer on a known language may be rejected). Returns
    ``{"mean": {...}, "std": {...}, "threshold": float}``, JSON-ready.
    """
    zc = ZScoreCombination(UNKNOWN_SIGNALS).fit(known)
    score = zc(known)
    keep = np.ones(len(score), bool) if correct is None else np.asarray(correct, bool)
    return {"mean": zc.mean, "std": zc.std, "threshold": threshold_at_acceptance(score[keep], accept)}


def unknown_score(logits: np.ndarray, embeddings: np.ndarray, class_weight: np.ndarray, K: int,
                  scale: float, stats: Optional[Dict] = None) -> np.ndarray:
    """The measured known-language score, (N,), higher = known:
    ``z(max cosine to any class's nearest sub-centre) + z(embedding norm)``, the
    z-scores taken with the known-clip ``stats`` (``{"mean": {...}, "std": {...}}``,
    from :func:`fit_unknown_score`; default: the demo geo model's). Below
    :data:`DEFAULT_UNKNOWN_THRESHOLD` (or the fitted ``threshold``) = unknown.
    Independent of the calibration temperature (neither signal uses it)."""
    st = DEFAULT_UNKNOWN_STATS if stats is None else stats
    sig = signals(logits, embeddings, class_weight, K, scale)
    return ZScoreCombination(UNKNOWN_SIGNALS, st["mean"], st["std"])(sig)


def is_unknown(score: np.ndarray, threshold: float = DEFAULT_UNKNOWN_THRESHOLD) -> np.ndarray:
    """True where ``score`` (from :func:`unknown_score`) is below ``threshold``."""
    return np.asarray(score) < threshold


def known_language_score(max_cosine, embedding_norm, stats: Dict) -> np.ndarray:
    """:func:`unknown_score` from its two signals directly (the pipeline has them without the
    class weights: an ONNX export's logits give the max cosine once the head's temperature,
    offsets and scale are undone)."""
    zc = ZScoreCombination(UNKNOWN_SIGNALS, stats["mean"], stats["std"])
    return zc({"max_cosine": np.asarray(max_cosine, np.float64),
               "embedding_norm": np.asarray(embedding_norm, np.float64)})

