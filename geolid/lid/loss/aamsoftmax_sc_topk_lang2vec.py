"""Loss ``aamsoftmax_sc_topk_lang2vec``: sub-centre AAM-softmax + geo regression.

The classification part is ESPnet's released sub-centre AAM-softmax with inter-top-k
penalty, scoring through geolid's scoring head (:mod:`geolid.lid.loss.cosine_losses`). This adds the downstream GeoPred head (``lang2vec_head``,
Linear(embedding -> geo_dim)) and the rule that combines the class loss with the
final and intermediate geo losses.

Two weightings exist (lambda = ``lang2vec_weight``, w = the model's
``inter_lang2vec_loss_weight``, CE = margin cross-entropy, F = final geo loss,
I = mean of the intermediate geo losses):

* ``published`` (the released code; needed to reproduce its checkpoints): the class
  loss was scaled in place, so the stat ``class_loss`` is (1-lambda) CE + lambda F and
  the total is (1-lambda)^2 CE + (lambda(1-lambda) + lambda(1-w)) F + lambda w I
  (0.64 CE + 0.28 F + 0.08 I at the published 0.2 / 0.4);
* ``documented`` (the paper's formula): total = (1-lambda) CE + lambda ((1-w) F + w I)
  and ``class_loss`` is CE.

The geo criterion is MSE for "geo" and BCE-with-logits for the binary lang2vec sets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import nn

from geolid.geo.lang2vec_targets import is_binary
from geolid.geo.lang2vec_targets import lang2vec_dim as dim_of_type
from geolid.lid.loss.cosine_losses import SubcentreAAMSoftmax

WEIGHTINGS = ("published", "documented")


@dataclass
class LossTerms:
    total: torch.Tensor
    class_loss: torch.Tensor      # as logged (see module docstring)
    geo_loss_all: torch.Tensor    # (1-w) F + w I


class AAMSoftmaxSCTopKLang2Vec(SubcentreAAMSoftmax):
    def __init__(
        self,
        nout: int,
        nclasses: int,
        scale: float = 32.0,
        margin: float = 0.2,
        easy_margin: bool = False,
        K: int = 3,
        mp: float = 0.06,
        k_top: int = 5,
        do_lm: bool = False,
        lang2vec_dim: Optional[int] = None,
        lang2vec_type: str = "geo",
        lang2vec_weight: float = 0.2,
        weighting: str = "published",
    ):
        if nclasses is None:
            raise ValueError("The number of languages is unknown: pass --lang_num (the line count of lang2utt)")
        if k_top >= nclasses:
            raise ValueError(f"loss_conf.k_top={k_top} must be smaller than the number of languages ({nclasses})")
        super().__init__(nout, nclasses, scale=scale, margin=margin, easy_margin=easy_margin,
                         K=K, mp=mp, k_top=k_top, do_lm=do_lm)
        expected = dim_of_type(lang2vec_type)
        if lang2vec_dim is not None and lang2vec_dim != expected:
            raise ValueError(f"loss_conf.lang2vec_dim={lang2vec_dim} but lang2vec_type "
                             f"'{lang2vec_type}' has {expected} dimensions")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"loss_conf.weighting must be one of {WEIGHTINGS}, got '{weighting}'")
        if not 0.0 <= lang2vec_weight <= 1.0:
            raise ValueError(f"loss_conf.lang2vec_weight must be in [0, 1], got {lang2vec_weight}")
        self.lang2vec_type = lang2vec_type
        self.lang2vec_weight = lang2vec_weight
        self.weighting = weighting
        self.lang2vec_head = nn.Sequential(nn.Linear(nout, expected))
        self.geo_criterion = (nn.BCEWithLogitsLoss() if is_binary(lang2vec_type) else nn.MSELoss())

    # ------------------------------------------------------------- geo head
    def predict_lang2vec(self, embd: torch.Tensor) -> torch.Tensor:
        """Downstream GeoPred. For binary sets these are logits (apply sigmoid)."""
        return self.lang2vec_head(embd)

    def geo_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.geo_criterion(pred.float(), target.to(pred.device).float())

    # ---------------------------------------------------------- combining
    def combine(self, ce: torch.Tensor, geo_final: torch.Tensor,
                geo_inter_mean: Optional[torch.Tensor], inter_weight: float) -> LossTerms:
        """Total loss and logged terms from CE, final and intermediate geo losses."""
        lam = self.lang2vec_weight
        geo_all = geo_final if geo_inter_mean is None else (
            (1 - inter_weight) * geo_final + inter_weight * geo_inter_mean)
        if self.weighting == "published":
            class_loss = (1 - lam) * ce + lam * geo_final
        else:
            class_loss = ce
        return LossTerms((1 - lam) * class_loss + lam * geo_all, class_loss, geo_all)

    def forward(self, input: torch.Tensor, label: Optional[torch.Tensor] = None,
                lang2vec: Optional[torch.Tensor] = None, weight: Optional[torch.Tensor] = None
                ) -> Tuple[Optional[torch.Tensor], ...]:
        """ESPnet loss contract: margin CE (None without labels), accuracy, argmax.

        The published module's call ``loss(input=x, label=y, lang2vec=v)`` returns, as it
        did, ``(loss, accuracy, pred, class_loss, geo_loss)`` with
        ``loss = (1-lambda) CE + lambda geo(GeoPred(x), v)``, in train and eval mode. The
        published code scaled its class loss in place, so its ``class_loss`` was that same
        total: kept. Without labels it returns ``(None, None, pred)`` as published.
        """
        if weight is not None:
            raise NotImplementedError(
                "loss(weight=...): separate sub-centre weights belong to the published "
                "self-conditioning LID variant, which geolid does not implement")
        ce, accuracy, pred = super().forward(input, label)
        if lang2vec is None or label is None:
            return ce, accuracy, pred
        geo = self.geo_loss(self.predict_lang2vec(input), lang2vec)
        loss = (1 - self.lang2vec_weight) * ce + self.lang2vec_weight * geo
        return loss, accuracy, pred, loss, geo
