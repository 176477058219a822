"""Per-language scores from any geolid/ESPnet LID model, not only the argmax.

``upstream_condition`` models have :meth:`score`; ESPnet's plain LID model (the
no-geo baseline) does not, so its scores are computed here from the same
quantities its loss uses (cosine to the closest sub-centre, times the scale).
"""
from __future__ import annotations

from typing import Dict

import torch
from torch.nn import functional as F


def score_batch(model: torch.nn.Module, speech: torch.Tensor, speech_lengths: torch.Tensor
                ) -> Dict[str, torch.Tensor]:
    """``scores`` (B, n_lang) logits, ``embedding`` (B, D), ``pred_lids`` (B,),
    and, for geo models, ``lang2vec`` (B, geo_dim) and ``inter_lang2vec``."""
    if hasattr(model, "score"):
        return model.score(speech, speech_lengths)
    embd, _ = model(speech, speech_lengths, extract_embd=True)
    loss = model.loss
    cos = F.linear(F.normalize(embd), F.normalize(loss.weight))
    k = getattr(loss, "K", 1)
    cos = cos.view(embd.size(0), -1, k).amax(dim=2)
    scores = cos * float(getattr(loss, "scale", getattr(loss, "s", 1.0)))
    return {"scores": scores, "embedding": embd, "pred_lids": scores.argmax(dim=-1)}
