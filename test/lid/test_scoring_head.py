"""The scoring head: sub-centre max, extra centres, offsets and temperature, by hand."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geolid.lid.scoring_head import ScoringHead


def _unit(*v):
    v = torch.tensor(v, dtype=torch.float32)
    return v / v.norm()


def test_subcentre_max_extra_centres_offsets_and_temperature():
    weight = torch.stack([_unit(1, 0), _unit(0, 1), _unit(-1, 0), _unit(0, -1)]) * 4  # 2 classes x K=2
    head = ScoringHead(sub_centres=2, scale=10.0)
    x = torch.stack([_unit(1, 1), _unit(-1, 0.2)])
    cos = head.cosine(x, weight)
    np.testing.assert_allclose(cos.numpy(), [[2 ** -0.5, -(2 ** -0.5)],
                                             [F.cosine_similarity(x[1], weight[1], 0).item(),
                                              F.cosine_similarity(x[1], weight[2], 0).item()]], rtol=1e-6)
    # an extra centre for class 1 right on sample 0 raises only class 1, only where it is closer
    head.install(extra_classes=[1], extra_centres=[_unit(1, 1).numpy()])
    cos2 = head.cosine(x, weight)
    assert cos2[0, 1].item() == pytest.approx(1.0) and torch.equal(cos2[:, 0], cos[:, 0])
    assert cos2[1, 1].item() == pytest.approx(cos[1, 1].item())
    # offsets then temperature: (scale * cos + offset) / T
    head.install(temperature=2.0, extra_classes=[1], extra_centres=[_unit(1, 1).numpy()], offsets=[0.5, -1.0])
    expected = (10 * cos2 + torch.tensor([0.5, -1.0])) / 2.0
    torch.testing.assert_close(head(x, weight), expected)
    torch.testing.assert_close(head(x, weight, calibrated=False), expected * 2.0)
    head.reset_non_persistent_buffers()
    torch.testing.assert_close(head(x, weight), 10 * cos)


def test_head_state_travels_with_the_module():
    head = ScoringHead(sub_centres=3, scale=30.0)
    head.install(temperature=1.5, extra_classes=[0], extra_centres=[[1.0, 0.0]])
    moved = head.to(torch.float64)
    assert float(moved.temperature) == 1.5 and moved.extra_classes.dtype == torch.long
    assert "temperature=1.5" in repr(head) and "extra_centres=1" in repr(head)


def test_score_arrays_is_the_head_on_numpy_arrays():
    """The analyses of stored embeddings (enrolment offsets, unknown-language signals)
    score with the head itself: same logits as the module on float32 tensors."""
    from geolid.lid.scoring_head import score_arrays

    g = torch.Generator().manual_seed(0)
    emb, w = torch.randn(5, 8, generator=g), torch.randn(4 * 3, 8, generator=g)
    offsets = np.array([0.0, 1.5, -2.0, 0.25])
    head = ScoringHead(sub_centres=3, scale=30.0)
    head.install(temperature=2.0, offsets=offsets)
    want = head(emb, w, calibrated=False).numpy()
    np.testing.assert_allclose(score_arrays(emb.numpy(), w.numpy(), 3, 30.0, offsets), want, atol=1e-4)
    cos = score_arrays(emb.numpy(), w.numpy(), 3)
    np.testing.assert_allclose(cos, ScoringHead(sub_centres=3).cosine(emb, w).numpy(), atol=1e-6)
    assert cos.max() <= 1.0 + 1e-12
