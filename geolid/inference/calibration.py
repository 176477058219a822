"""Calibrated probabilities: one temperature fitted on held-out data (Guo et al., 2017).

The classifier's logits are scaled cosines (scale 30 in the published models), and
the AAM margin used in training makes the softmax of those logits over-confident.
Temperature scaling divides the logits by one scalar T, chosen to minimise the
negative log-likelihood of the validation set: it changes no argmax, only how
sharp the probabilities are. The recipe fits T after training
(``python -m geolid.bin.calibrate``) and stores it in ``calibration.json`` beside
``config.yaml``; :class:`~geolid.inference.api.GeoLID` picks it up, so
``predict``'s probabilities and ``--reject-below`` use calibrated values. A model
folder without the file keeps T = 1 (the published behaviour).

Expected calibration error (ECE): top-label confidence in equal-width bins,
``sum_b |B_b|/N * |accuracy(B_b) - confidence(B_b)|`` (15 bins by default).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

CALIBRATION_FILE = "calibration.json"
N_BINS = 15
T_BOUNDS = (0.05, 20.0)


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


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T minimising the NLL of ``labels`` under softmax(logits / T).

    One convex-enough scalar problem in log T: scipy's bounded Brent search.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(f"need logits (N, C) and N labels, got {logits.shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError("labels must be class indices in [0, C)")
    res = minimize_scalar(lambda lt: nll(logits, labels, float(np.exp(lt))),
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


# ------------------------------------------------------------------ the stored file
@dataclass
class Calibration:
    temperature: float = 1.0
    info: Optional[Dict] = None

    def apply(self, logits):
        """Logits divided by T (torch or numpy)."""
        return logits if self.temperature == 1.0 else logits / self.temperature


def save_calibration(exp_dir, temperature: float, **info) -> Path:
    from geolid.utils.fileio import atomic_write

    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    path = Path(exp_dir) / CALIBRATION_FILE
    with atomic_write(path) as f:
        json.dump({"method": "temperature", "temperature": round(float(temperature), 6), **info}, f,
                  indent=1)
        f.write("\n")
    return path


def load_calibration(files) -> Calibration:
    """``calibration.json`` beside the model's config.yaml; T = 1 when absent."""
    path = Path(files.config).parent / CALIBRATION_FILE
    if not path.is_file():
        return Calibration()
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
        t = float(data["temperature"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: unreadable calibration ({type(e).__name__}: {e}); refit it with "
                         "`python -m geolid.bin.calibrate` or delete the file") from None
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"{path}: temperature must be a positive number, got {t}")
    return Calibration(t, data)


def summarise(logits: np.ndarray, labels: np.ndarray, temperature: float) -> Tuple[Dict, Dict]:
    """ECE, NLL, accuracy and confident errors before (T=1) and after (T)."""
    out = []
    for t in (1.0, temperature):
        p = softmax(logits, t)
        out.append({"ece": round(expected_calibration_error(p, labels), 4),
                    "nll": round(nll(logits, labels, t), 4),
                    "accuracy": round(float((p.argmax(1) == labels).mean()), 4),
                    "wrong_above_0.9": confident_errors(p, labels), "n": int(len(labels))})
    return out[0], out[1]
