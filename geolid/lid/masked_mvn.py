"""ESPnet's utterance mean (and variance) normalisation, masked and export-clean
(registered as ``utterance_mvn``; no parameters, so checkpoints are unaffected).

ESPnet's ``utterance_mvn`` builds its padding mask with ``make_pad_mask``, whose
traceable form specialises on the frame count (``torch.export`` rejects a dynamic
time axis), edits its input in place, and with ``norm_vars`` adds the padded
frames (holding ``-mean``) to the variance, so the variance depends on the batch.
Here the mask is an ``arange`` comparison, the input is left alone, statistics
use valid frames only, and padded frames come out as zeros.

``batch_invariant = False`` (set by the LID model from ``model_conf``) runs
ESPnet's own function instead: the published arithmetic, bit for bit.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from espnet2.layers.utterance_mvn import UtteranceMVN


class MaskedUtteranceMVN(UtteranceMVN):
    batch_invariant: bool = True

    def forward(self, x: torch.Tensor, ilens: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D), ilens (B,) -> normalised x (padded frames 0), ilens."""
        if ilens is None or not self.batch_invariant:
            return super().forward(x, ilens)
        ilens = ilens.to(x.device)
        valid = (torch.arange(x.size(1), device=x.device)[None, :] < ilens[:, None]).unsqueeze(-1)
        n = ilens.clamp(min=1).to(x.dtype).view(-1, 1, 1)
        x = x.masked_fill(~valid, 0.0)
        mean = x.sum(dim=1, keepdim=True) / n
        centred = (x - mean).masked_fill(~valid, 0.0)
        if self.norm_vars:
            std = torch.clamp((centred.pow(2).sum(dim=1, keepdim=True) / n).sqrt(), min=self.eps)
            return (centred if self.norm_means else x) / std, ilens
        return (centred if self.norm_means else x), ilens
