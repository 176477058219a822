"""Reduced precision that is checked, and non-finite outputs that never become answers.

float16 autocast can overflow in the wav2vec2 encoder and give NaN
probabilities; a NaN compares false with everything, so ``argsort`` still
yields a "top-1 language". Two guards:

* every window's outputs (probabilities, embedding, geo vector) are checked with
  ``np.isfinite``; a window that fails makes its input an error record that
  says which dtype produced it and to rerun with float32 (:func:`nonfinite_error`);
* ``--dtype auto`` picks bfloat16 only on a GPU that supports it (float16 is
  never picked automatically: its 5-bit exponent overflows where bf16 does
  not), and only after :func:`low_precision_agrees` has run a fixed 2 s probe
  signal through the loaded model in both precisions and found finite outputs
  whose probabilities agree with float32 to within :data:`AGREE_TOL`;
  otherwise it falls back to float32 with a warning.
"""
from __future__ import annotations

import logging
from typing import Tuple

import numpy as np

logger = logging.getLogger(__name__)

AGREE_TOL = 0.05           # max |p_low - p_fp32| over the probe's class probabilities
PROBE_SECONDS = 2.0


def nonfinite_error(dtype: str) -> str:
    return (f"model output is not finite (NaN/inf) under dtype {dtype}; no label given. "
            + ("Rerun with --dtype float32." if dtype != "float32" else
               "The model or this input is numerically broken."))


def finite(row: np.ndarray) -> bool:
    return bool(np.isfinite(row).all())


def _probe_wave() -> np.ndarray:
    """Deterministic speech-like probe: harmonics with a moving pitch plus noise."""
    sr = 16000
    t = np.arange(int(PROBE_SECONDS * sr)) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = x + 0.02 * np.random.default_rng(0).standard_normal(t.shape)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _probe_outputs(model, device, dtype: str) -> Tuple[np.ndarray, int]:
    import contextlib

    import torch

    speech = torch.from_numpy(_probe_wave())[None].to(device)
    lengths = torch.tensor([speech.shape[1]], device=device)
    ctx = (contextlib.nullcontext() if dtype == "float32"
           else torch.autocast(torch.device(device).type, dtype=getattr(torch, dtype)))
    with torch.inference_mode(), ctx:
        out = model.score(speech, lengths)
    parts = [torch.softmax(out["scores"].float(), dim=-1), out["embedding"].float()]
    if out.get("lang2vec") is not None:
        parts.append(out["lang2vec"].float())
    return torch.cat(parts, dim=1)[0].cpu().numpy(), parts[0].shape[1]


def low_precision_agrees(model, device, dtype: str) -> Tuple[bool, str]:
    """Does ``dtype`` autocast give finite outputs that agree with float32 on the probe?"""
    ref, n_lang = _probe_outputs(model, device, "float32")
    low, _ = _probe_outputs(model, device, dtype)
    if not finite(low):
        return False, f"{dtype} outputs are not finite on the probe signal"
    if not finite(ref):
        return False, "float32 outputs are not finite on the probe signal"
    diff = float(np.abs(low[:n_lang] - ref[:n_lang]).max())
    if diff > AGREE_TOL:
        return False, f"{dtype} probabilities differ from float32 by {diff:.3f} (> {AGREE_TOL})"
    return True, f"{dtype} agrees with float32 (max probability difference {diff:.4f})"


def checked_auto_dtype(model, device, candidate: str) -> str:
    """``candidate`` if it passes :func:`low_precision_agrees`, else float32 (warned)."""
    if candidate == "float32":
        return candidate
    ok, why = low_precision_agrees(model, device, candidate)
    if ok:
        logger.debug("dtype auto: %s", why)
        return candidate
    logger.warning("dtype auto: %s; using float32", why)
    return "float32"
