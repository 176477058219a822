"""Calibrated probabilities: one temperature fitted on held-out data (Guo et al., 2017).

The classifier's logits are scaled cosines (scale 30 in the published models), and
the AAM margin used in training makes the softmax of those logits over-confident.
Temperature scaling divides the logits by one scalar T, chosen to minimise the
negative log-likelihood of the validation set: it changes no argmax, only how
sharp the probabilities are. The recipe's stage 7 fits T on the posteriors stage 6
wrote for the validation set (``python -m geolid.bin.calibrate``) and stores it in
the model folder's ``calibration.json`` (:mod:`geolid.model.head_state`); the
model's scoring head divides its logits by it, so ``predict``'s probabilities,
``--reject-below``, the timeline and an ONNX export all use calibrated values. A
model folder without the file keeps T = 1 (the published behaviour).

An utterance of several windows has the weighted mean of its windows' probabilities
(:mod:`geolid.inference.utterance`), so the temperature acts on each window's logits
before the mean: :class:`Windowed` holds stage 6's window logits and weights, and
:func:`fit_temperature` / :func:`summarise` take either plain (N, C) logits (one window
an utterance) or a :class:`Windowed`.

Expected calibration error (ECE): top-label confidence in equal-width bins,
``sum_b |B_b|/N * |accuracy(B_b) - confidence(B_b)|`` (15 bins by default).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple, Union

import numpy as np

from geolid.model.head_state import T_BOUNDS

N_BINS = 15


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(logits, dtype=np.float64) / temperature))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under softmax(logits / T)."""
    lp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature)
    return float(-lp[np.arange(len(labels)), labels].mean())


@dataclass
class Windowed:
    """Utterances as windows: ``logits`` (M, C) of every window, ``utt`` (M,) the index of
    each window's utterance in 0..N-1, ``weights`` (M,) their weights in the utterance rule."""

    logits: np.ndarray
    utt: np.ndarray
    weights: np.ndarray

    @classmethod
    def single(cls, logits: np.ndarray) -> "Windowed":
        n = len(logits)
        return cls(np.asarray(logits, dtype=np.float64), np.arange(n), np.ones(n))

    def __len__(self) -> int:
        return int(self.utt.max()) + 1 if len(self.utt) else 0

    def probabilities(self, temperature: float = 1.0) -> np.ndarray:
        """(N, C): each utterance's weighted mean of its windows' softmax(logits / T)."""
        p = softmax(self.logits, temperature) * np.asarray(self.weights, dtype=np.float64)[:, None]
        n = len(self)
        out = np.zeros((n, p.shape[1]))
        np.add.at(out, self.utt, p)
        return out / np.bincount(self.utt, weights=self.weights, minlength=n)[:, None]

    def subset(self, keep: np.ndarray) -> "Windowed":
        """The windows of the utterances where ``keep`` (N,) is true, renumbered."""
        keep = np.asarray(keep, dtype=bool)
        new_index = np.cumsum(keep) - 1
        m = keep[self.utt]
        return Windowed(self.logits[m], new_index[self.utt[m]], self.weights[m])


Scores = Union[np.ndarray, Windowed]


def _windowed(x: Scores) -> Windowed:
    return x if isinstance(x, Windowed) else Windowed.single(np.asarray(x, dtype=np.float64))


def windowed_nll(x: Scores, labels: np.ndarray, temperature: float = 1.0) -> float:
    p = _windowed(x).probabilities(temperature)
    return float(-np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-300)).mean())


def fit_temperature(logits: Scores, labels: np.ndarray) -> float:
    """The T minimising the NLL of ``labels`` under the utterance rule at temperature T
    (plain logits: softmax(logits / T)).

    One convex-enough scalar problem in log T: scipy's bounded Brent search.
    """
    from scipy.optimize import minimize_scalar

    labels = np.asarray(labels, dtype=np.int64)
    if isinstance(logits, Windowed):
        n_classes, n = logits.logits.shape[1], len(logits)
        objective = lambda lt: windowed_nll(logits, labels, float(np.exp(lt)))  # noqa: E731
    else:
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 2:
            raise ValueError(f"need logits (N, C), got {logits.shape}")
        n_classes, n = logits.shape[1], len(logits)
        objective = lambda lt: nll(logits, labels, float(np.exp(lt)))  # noqa: E731
    if n != len(labels) or len(labels) == 0:
        raise ValueError(f"need N utterances and N labels, got {n} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError("labels must be class indices in [0, C)")
    res = minimize_scalar(objective,
                          bounds=tuple(np.log(T_BOUNDS)), method="bounded",
                          options={"xatol": 1e-5})
    return float(np.exp(res.x))


def reliability(probs: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> Dict[str, np.ndarray]:
    """Per equal-width confidence bin: count, mean confidence, accuracy."""
    probs = np.asarray(probs, dtype=np.float64)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, n_bins) / count
        acc = np.bincount(which, correct, n_bins) / count
    return {"edges": edges, "count": count, "confidence": mean_conf, "accuracy": acc}


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    r = reliability(probs, labels, n_bins)
    ok = r["count"] > 0
    return float((r["count"][ok] * np.abs(r["accuracy"][ok] - r["confidence"][ok])).sum()
                 / r["count"].sum())


def confident_errors(probs: np.ndarray, labels: np.ndarray, above: float = 0.9) -> int:
    """Wrong answers given with a top probability above ``above``."""
    probs = np.asarray(probs)
    return int(((probs.max(1) > above) & (probs.argmax(1) != np.asarray(labels))).sum())


def summarise(logits: Scores, labels: np.ndarray, temperature: float) -> Tuple[Dict, Dict]:
    """ECE, NLL, accuracy and confident errors before (T=1) and after (T)."""
    out = []
    w = _windowed(logits)
    for t in (1.0, temperature):
        p = w.probabilities(t)
        out.append({"ece": round(expected_calibration_error(p, labels), 4),
                    "nll": round(windowed_nll(w, labels, t), 4),
                    "accuracy": round(float((p.argmax(1) == labels).mean()), 4),
                    "wrong_above_0.9": confident_errors(p, labels), "n": int(len(labels))})
    return out[0], out[1]
