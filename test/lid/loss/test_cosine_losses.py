"""geolid's cosine losses equal ESPnet's (loss, gradients, predictions) while scoring
through the scoring head; their state-dict keys are ESPnet's."""
from __future__ import annotations

import pytest
import torch
from espnet2.spk.loss.aamsoftmax import AAMSoftmax
from espnet2.spk.loss.aamsoftmax_subcenter_intertopk import ArcMarginProduct_intertopk_subcenter
from espnet2.spk.loss.softmax import Softmax

from geolid.lid.loss.cosine_losses import ScoredAAMSoftmax, ScoredSoftmax, SubcentreAAMSoftmax

CASES = [
    (SubcentreAAMSoftmax, ArcMarginProduct_intertopk_subcenter,
     dict(nout=8, nclasses=6, scale=30, margin=0.5, K=3, mp=0.06, k_top=2)),
    (SubcentreAAMSoftmax, ArcMarginProduct_intertopk_subcenter,
     dict(nout=8, nclasses=6, scale=30, margin=0.2, K=2, mp=0.06, k_top=0, easy_margin=True)),
    (ScoredAAMSoftmax, AAMSoftmax, dict(nout=8, nclasses=6, margin=0.3, scale=15)),
    (ScoredSoftmax, Softmax, dict(nout=8, nclasses=6)),
]


@pytest.mark.parametrize("ours_cls,espnet_cls,conf", CASES)
def test_same_loss_gradients_and_predictions_as_espnet(ours_cls, espnet_cls, conf):
    torch.manual_seed(0)
    ours = ours_cls(**conf)
    torch.manual_seed(0)
    theirs = espnet_cls(**conf)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    theirs.load_state_dict(ours.state_dict())
    if hasattr(ours, "update"):   # a margin schedule step changes mp too
        ours.update(0.3), theirs.update(0.3)
    x = torch.randn(7, 8)
    y = torch.tensor([0, 1, 2, 3, 4, 5, 0])
    outs = []
    for loss in (ours, theirs):
        xi = x.clone().requires_grad_(True)
        value, acc, pred = loss(xi, y.view(-1, 1))
        value.backward()
        outs.append((value.detach(), acc, pred, xi.grad, loss.weight.grad.clone()))
    for a, b in zip(*outs):
        assert torch.equal(a, b)          # the same arithmetic, bit for bit
    _, _, pred = ours(x, None)
    assert torch.equal(pred, theirs(x, None)[2])


def test_head_buffers_are_not_in_the_checkpoint():
    loss = SubcentreAAMSoftmax(nout=8, nclasses=4, K=3)
    assert set(loss.state_dict()) == {"weight"}
    assert {n for n, _ in loss.named_buffers()} == {"head.temperature", "head.extra_classes",
                                                    "head.extra_centres", "head.offsets"}
