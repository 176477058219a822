"""ESPnet's cosine-classifier losses, scoring through geolid's one scoring head.

``aamsoftmax_sc_topk`` (sub-centre AAM-softmax with inter-top-k penalty),
``aamsoftmax`` and ``softmax`` are ESPnet's classes (same constructor, same
``weight`` parameter and state-dict key, same margins), registered under ESPnet's
names. The one change: the class cosines come from the loss's
:class:`~geolid.lid.scoring_head.ScoringHead` (``self.head``), which is also what
inference, the ONNX graph and enrolment score with; ESPnet's ``forward`` computes
its cosines inline, so its margin step is written out here, term for term as
ESPnet's (``test/lid/loss/test_cosine_losses.py`` checks loss, gradients and
predictions against ESPnet's own classes).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from espnet2.spk.loss.aamsoftmax import AAMSoftmax
from espnet2.spk.loss.aamsoftmax_subcenter_intertopk import ArcMarginProduct_intertopk_subcenter
from espnet2.spk.loss.softmax import Softmax

from geolid.lid.scoring_head import ScoringHead

LossOutput = Tuple[Optional[torch.Tensor], Optional[torch.Tensor], torch.Tensor]


def _decide(cosine: torch.Tensor, label: Optional[torch.Tensor]):
    """(argmax predictions, labels as a vector or None, accuracy or None): ESPnet's
    losses predict by the plain cosine, before any margin."""
    preds = torch.argmax(cosine, dim=1)
    if label is None:
        return preds, None, None
    label = label.squeeze(1) if label.dim() == 2 else label
    return preds, label, (preds == label).float().mean()


def _one_hot(cosine: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(cosine).scatter_(1, label.view(-1, 1), 1)


class SubcentreAAMSoftmax(ArcMarginProduct_intertopk_subcenter):
    """``aamsoftmax_sc_topk``: ESPnet's sub-centre AAM-softmax with inter-top-k penalty."""

    def __init__(self, nout: int, nclasses: int, scale: float = 32.0, margin: float = 0.2,
                 easy_margin: bool = False, K: int = 3, mp: float = 0.06, k_top: int = 5,
                 do_lm: bool = False):
        super().__init__(nout, nclasses, scale=scale, margin=margin, easy_margin=easy_margin,
                         K=K, mp=mp, k_top=k_top, do_lm=do_lm)
        self.head = ScoringHead(sub_centres=K, scale=scale)

    def forward(self, input: torch.Tensor, label: Optional[torch.Tensor] = None) -> LossOutput:
        cosine = self.head.cosine(input, self.weight)
        preds, label, accuracy = _decide(cosine, label)
        if label is None:
            return None, None, preds
        return self.ce(self.margin_logits(cosine, label, input), label), accuracy, preds

    def margin_logits(self, cosine: torch.Tensor, label: torch.Tensor, input: torch.Tensor) -> torch.Tensor:
        """Scaled logits with the angular margin m on the target, the penalty mp on the
        k_top hardest other classes, and the plain cosine elsewhere (ESPnet's terms)."""
        sine = torch.sqrt(1.0 - torch.pow(cosine, 2))
        phi = cosine * self.cos_m - sine * self.sin_m          # cos(theta + m)
        phi_mp = cosine * self.cos_mp + sine * self.sin_mp     # cos(theta - mp)
        if self.easy_margin:
            phi = torch.where(cosine > 0, phi, cosine)
        else:
            phi = torch.where(cosine > self.th, phi, cosine - self.mmm)
        one_hot = _one_hot(cosine, label)
        if self.k_top > 0:
            _, hardest = torch.topk(cosine - 2 * one_hot, self.k_top)
            hard = input.new_zeros(cosine.size()).scatter_(1, hardest, 1)
            output = (one_hot * phi) + (hard * phi_mp) + ((1.0 - one_hot - hard) * cosine)
        else:
            output = (one_hot * phi) + ((1.0 - one_hot) * cosine)
        output *= self.scale
        return output


class ScoredAAMSoftmax(AAMSoftmax):
    """``aamsoftmax``: ESPnet's AAM-softmax (one centre a class)."""

    def __init__(self, nout: int, nclasses: int, margin: float = 0.3, scale: int = 15,
                 easy_margin: bool = False, **kwargs):
        super().__init__(nout, nclasses, margin=margin, scale=scale, easy_margin=easy_margin, **kwargs)
        self.head = ScoringHead(sub_centres=1, scale=scale)

    def forward(self, input: torch.Tensor, label: Optional[torch.Tensor] = None) -> LossOutput:
        cosine = self.head.cosine(input, self.weight)
        preds, label, accuracy = _decide(cosine, label)
        if label is None:
            return None, None, preds
        sine = torch.sqrt((1.0 - cosine.pow(2)).clamp(0, 1))
        phi = cosine * self.cos_m - sine * self.sin_m
        if self.easy_margin:
            phi = torch.where(cosine > 0, phi, cosine)
        else:
            phi = torch.where(cosine > self.th, phi, cosine - self.mm)
        one_hot = _one_hot(cosine, label)
        output = ((one_hot * phi) + ((1.0 - one_hot) * cosine)) * self.s
        return self.ce(output, label), accuracy, preds


class ScoredSoftmax(Softmax):
    """``softmax``: ESPnet's cosine softmax (no margin, no scale)."""

    def __init__(self, nout: int, nclasses: int):
        super().__init__(nout, nclasses)
        self.head = ScoringHead(sub_centres=1, scale=1.0)

    def forward(self, input: torch.Tensor, label: Optional[torch.Tensor] = None) -> LossOutput:
        logits = self.head.cosine(input, self.weight)
        preds, label, accuracy = _decide(logits, label)
        if label is None:
            return None, None, preds
        return self.ce(logits, label), accuracy, preds
