"""The one scoring head: class scores from a language embedding.

Every class score in geolid (training's margin loss, ``model.score``, the recipe's
inference, ``geolid predict``, the ONNX graph, enrolment) is computed here:

1. cosine between the L2-normalised embedding and each L2-normalised class row;
2. the max over a class's K sub-centres (row ``c * K + k``; K = 1 for plain
   AAM-softmax and softmax), and over the class's *extra centres* (added by
   ``geolid enroll`` for languages the model knows);
3. times the loss's scale (30 in the published models), plus a per-class logit
   *offset* (enrolment), divided by the *temperature* (calibration).

Steps 1-2 are :meth:`ScoringHead.cosine` (the margin losses take it as their
input); steps 1-3 are :meth:`ScoringHead.forward` (the logits whose softmax is a
language's probability, and whose argmax is the loss's own prediction). The
temperature, extra centres and offsets are non-persistent buffers: they are not in
the checkpoint (so the published format loads unchanged), they are set from the
model folder's side files (:class:`geolid.model.head_state.HeadState`), they move
with the model between devices, and they are constants of an exported ONNX graph.

The head holds no parameter: the class rows stay the loss's ``weight`` (ESPnet's
key ``loss.weight``) and are passed in.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class ScoringHead(nn.Module):
    def __init__(self, sub_centres: int = 1, scale: float = 1.0):
        super().__init__()
        self.sub_centres = int(sub_centres)
        self.scale = float(scale)
        self.reset_non_persistent_buffers()

    def reset_non_persistent_buffers(self) -> None:
        """The identity head: T = 1, no extra centres, no offsets (also what a model built
        on the meta device gets before its folder's head state is installed)."""
        self.register_buffer("temperature", torch.ones(()), persistent=False)
        self.register_buffer("extra_classes", torch.zeros(0, dtype=torch.long), persistent=False)
        self.register_buffer("extra_centres", torch.zeros(0, 0), persistent=False)
        self.register_buffer("offsets", torch.zeros(0), persistent=False)

    # ------------------------------------------------------------ state
    def install(self, temperature: float = 1.0, extra_classes=None, extra_centres=None,
                offsets=None) -> None:
        """Set the head's state (from :class:`~geolid.model.head_state.HeadState`)."""
        device = self.temperature.device
        self.temperature = torch.tensor(float(temperature), device=device)
        if extra_classes is not None and len(extra_classes):
            self.extra_classes = torch.as_tensor(np.asarray(extra_classes), dtype=torch.long, device=device)
            self.extra_centres = torch.as_tensor(np.asarray(extra_centres), dtype=torch.float32,
                                                 device=device)
        else:
            self.extra_classes = torch.zeros(0, dtype=torch.long, device=device)
            self.extra_centres = torch.zeros(0, 0, device=device)
        self.offsets = (torch.as_tensor(np.asarray(offsets), dtype=torch.float32, device=device)
                        if offsets is not None else torch.zeros(0, device=device))

    @property
    def has_extra_centres(self) -> bool:
        return self.extra_classes.numel() > 0

    # ----------------------------------------------------------- scores
    def cosine(self, embd: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """(B, C): cosine to each class's closest sub-centre or extra centre."""
        cos = F.linear(F.normalize(embd), F.normalize(weight))
        if self.sub_centres > 1:
            cos = cos.view(embd.size(0), -1, self.sub_centres).amax(dim=2)
        if self.has_extra_centres:
            extra = F.linear(F.normalize(embd), self.extra_centres.to(embd.dtype))
            idx = self.extra_classes.unsqueeze(0).expand(embd.size(0), -1)
            cos = cos.scatter_reduce(1, idx, extra.to(cos.dtype), reduce="amax", include_self=True)
        return cos

    def forward(self, embd: torch.Tensor, weight: torch.Tensor,
                calibrated: bool = True) -> torch.Tensor:
        """(B, C) logits: scale x cosine + offsets, divided by the temperature."""
        logits = self.cosine(embd, weight) * self.scale
        if self.offsets.numel():
            logits = logits + self.offsets.to(logits.dtype)
        if calibrated:
            logits = logits / self.temperature.to(logits.dtype)
        return logits

    def extra_repr(self) -> str:
        return (f"sub_centres={self.sub_centres}, scale={self.scale}, "
                f"temperature={float(self.temperature):.4g}, extra_centres={self.extra_classes.numel()}")


def score_arrays(embeddings, class_weight, K: int, scale: float = 1.0, offsets=None) -> np.ndarray:
    """(N, C) uncalibrated logits of the head for embeddings and class rows given as numpy
    arrays (float64): what analyses of stored embeddings (enrolment offsets, the
    unknown-language signals) score with, so they cannot drift from the model's scores.
    ``scale=1`` and no offsets give the class cosines."""
    emb = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
    w = np.asarray(class_weight, dtype=np.float64)
    if w.shape[0] % K:
        raise ValueError(f"class_weight has {w.shape[0]} rows, not a multiple of K={K}")
    if offsets is not None and np.shape(offsets) != (w.shape[0] // K,):
        raise ValueError(f"offsets must have one value per class ({w.shape[0] // K}), "
                         f"got {np.shape(offsets)}")
    head = ScoringHead(sub_centres=K, scale=scale)
    head.install(offsets=None if offsets is None else np.asarray(offsets, dtype=np.float64))
    head = head.double()
    with torch.no_grad():
        return head(torch.from_numpy(emb), torch.from_numpy(w), calibrated=False).numpy()


def head_of(loss: nn.Module) -> Optional[ScoringHead]:
    """The scoring head a loss owns (None for a loss geolid cannot score)."""
    head = getattr(loss, "head", None)
    return head if isinstance(head, ScoringHead) else None
