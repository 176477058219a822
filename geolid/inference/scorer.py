"""Scorers: a padded batch of 16 kHz waveforms in, one row of outputs per waveform out.

A *scorer* is what runs the network. Two implement the same protocol
(:class:`Scorer`): :class:`TorchScorer` (the torch model, CPU or GPU, fp32 or
autocast) and :class:`~geolid.inference.onnx_scorer.OnnxScorer` (an exported graph
in ONNX Runtime). Both return a :class:`BatchOutput` whose ``scores`` are the
scoring head's logits (extra centres, offsets and temperature applied inside the
model or graph), so everything above them (windows, aggregation, post-processing)
is shared and gives the same answer whichever runs.

A row whose outputs are not finite (a NaN input, an fp16 overflow) gets no
language: ``languages[i]`` is None and ``ok[i]`` False.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import List, Optional, Protocol, Sequence, Tuple

import numpy as np

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class BatchOutput:
    """One row per input, on the host.

    ``scores`` (B, C) logits; ``probabilities`` their softmax; ``embeddings`` (B, D)
    language embeddings (not normalised); ``geo_vectors`` (B, geo_dim) predicted
    lang2vec vectors (None for models without a geo head); ``languages`` top-1 ISO
    639-3 codes (None where ``ok`` is False); ``indices`` (B,) their class indices
    (-1 where not ok); ``ok`` (B,) whether every output of the row is finite.
    """

    scores: np.ndarray
    probabilities: np.ndarray
    embeddings: np.ndarray
    geo_vectors: Optional[np.ndarray]
    languages: List[Optional[str]]
    indices: np.ndarray
    ok: np.ndarray

    def __len__(self) -> int:
        return len(self.languages)

    @classmethod
    def from_arrays(cls, scores: np.ndarray, embeddings: np.ndarray, geo: Optional[np.ndarray],
                    languages: Sequence[str]) -> "BatchOutput":
        scores = np.asarray(scores, dtype=np.float32)
        ok = np.isfinite(scores).all(axis=1) & np.isfinite(embeddings).all(axis=1)
        if geo is not None:
            ok &= np.isfinite(geo).all(axis=1)
        z = scores.astype(np.float64)
        z = z - np.where(np.isfinite(z), z, -np.inf).max(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp(z)
            probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        indices = np.where(ok, np.nan_to_num(probs, nan=-1.0).argmax(axis=1), -1)
        return cls(scores, probs, np.asarray(embeddings, dtype=np.float32),
                   None if geo is None else np.asarray(geo, dtype=np.float32),
                   [languages[i] if i >= 0 else None for i in indices], indices, ok)


class Scorer(Protocol):
    """What :class:`~geolid.inference.api.GeoLID` needs from a runtime."""

    languages: List[str]
    geo_type: Optional[str]      # "geo" (decodable to a location), another lang2vec set, or None
    device: str
    dtype: str

    def classify_batch(self, wavs, wav_lens=None) -> BatchOutput: ...

    @property
    def on_gpu(self) -> bool: ...


class TorchScorer:
    """The torch model (``model.score``) under ``inference_mode`` and optional autocast."""

    def __init__(self, model, languages: Sequence[str], device: str = "cpu", dtype: str = "float32",
                 geo_type: Optional[str] = None):
        import torch

        self.model = model.eval()
        self.languages = list(languages)
        self.device = str(torch.device(device))
        self.dtype = dtype
        self.geo_type = geo_type

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")

    def classify_batch(self, wavs, wav_lens=None) -> BatchOutput:
        """Score a batch of 16 kHz mono waveforms in one forward pass (as SpeechBrain's
        ``classify_batch``). ``wavs``: (B, T) right-padded, or a list of 1-D waveforms;
        ``wav_lens``: (B,) lengths in samples, or relative lengths in (0, 1]."""
        import torch

        speech, lengths = as_batch(wavs, wav_lens, self.device)
        with torch.inference_mode(), self._autocast():
            out = self.model.score(speech, lengths)
        geo = out.get("lang2vec")
        parts = [out["scores"].float(), out["embedding"].float()] + ([geo.float()] if geo is not None else [])
        host = torch.cat(parts, dim=1).cpu().numpy()  # one device->host copy per batch
        n_lang, n_emb = out["scores"].shape[1], out["embedding"].shape[1]
        return BatchOutput.from_arrays(host[:, :n_lang], host[:, n_lang:n_lang + n_emb],
                                       host[:, n_lang + n_emb:] if geo is not None else None,
                                       self.languages)

    def _autocast(self):
        import torch

        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=getattr(torch, self.dtype))

    def __repr__(self) -> str:
        return f"TorchScorer({len(self.languages)} languages, device={self.device}, dtype={self.dtype})"


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto``: bf16 on a GPU that supports it (checked later against fp32), else fp32."""
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got '{dtype}'")
    if dtype != "auto":
        return dtype
    if torch.device(device).type == "cuda":  # never float16: it overflows to NaN (numerics.py)
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "float32"


def check_device(device: Optional[str]) -> str:
    """A usable torch device string; a device that is not there is a ValueError that says so."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device {device}: not a torch device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: no CUDA GPU is visible on this machine "
                             "(torch.cuda.is_available() is false); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s)")
    elif dev.type != "cpu":
        raise ValueError(f"--device {device}: geolid runs on cpu or cuda, not {dev.type}")
    return str(dev)


def as_batch(wavs, wav_lens, device) -> Tuple["object", "object"]:
    """(B, T) float32 speech and (B,) long sample lengths on ``device``."""
    import torch

    from geolid.inference.batching import collate

    if isinstance(wavs, (list, tuple)):
        if wav_lens is not None:
            raise ValueError("classify_batch: give wav_lens only with a padded (B, T) batch")
        return collate([torch.as_tensor(np.asarray(w) if not isinstance(w, torch.Tensor) else w,
                                        dtype=torch.float32) for w in wavs], device)
    speech = torch.as_tensor(wavs, dtype=torch.float32).to(device)
    if speech.dim() != 2:
        raise ValueError(f"classify_batch: wavs must be (batch, samples), got shape {tuple(speech.shape)}")
    if wav_lens is None:
        lengths = torch.full((speech.size(0),), speech.size(1), dtype=torch.long)
    else:
        lengths = torch.as_tensor(wav_lens)
        if lengths.is_floating_point():  # SpeechBrain's relative lengths
            if lengths.min() <= 0 or lengths.max() > 1:
                raise ValueError("classify_batch: float wav_lens are relative lengths in (0, 1]")
            lengths = torch.round(lengths * speech.size(1)).long()
        if lengths.shape != (speech.size(0),) or lengths.min() < 1 or lengths.max() > speech.size(1):
            raise ValueError(f"classify_batch: wav_lens must be {speech.size(0)} lengths in "
                             f"1..{speech.size(1)} samples, got {lengths.tolist()}")
    return speech, lengths.long().to(device)
