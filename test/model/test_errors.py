"""The finite-weights check at load (issue 7 item 5, last point)."""
from __future__ import annotations

import pytest
import torch

from geolid.model.errors import ModelError, check_finite_weights


def test_nan_and_inf_are_found_and_large_finite_weights_pass():
    m = torch.nn.Linear(4, 3)
    with torch.no_grad():
        m.weight.fill_(3e38)          # finite, but its sum overflows
    check_finite_weights(m, "w.pth")
    with torch.no_grad():
        m.bias[1] = float("inf")
        m.weight[0, 0] = -float("inf")
    with pytest.raises(ModelError, match=r"w.pth: weights contain NaN/inf in 2 tensor\(s\) \(weight, bias\)"):
        check_finite_weights(m, "w.pth")
