"""The compute budget: windows over the speech only, spread over the whole input,
early stop once settled, and a record of what was analysed."""
from __future__ import annotations

import numpy as np
import pytest

from geolid.inference.budget import (MIN_WINDOW_S, Settling, budget_window, plan_budget,
                                     spread_order)
from geolid.inference.options import PredictOptions
from geolid.inference.vad import FRAME

SR = 16000


def test_spread_order_covers_the_range_early():
    for n in (1, 2, 5, 6, 17):
        order = spread_order(n)
        assert sorted(order) == list(range(n))
    order = spread_order(8)
    assert order[0] == 4 and order[1] == 0 and max(order[:4]) - min(order[:4]) >= 6   # middle, start, ...


def test_budget_window_and_plan_skip_leading_non_speech():
    assert budget_window(120, 30) == 10.0 and budget_window(6, 30) == MIN_WINDOW_S
    assert budget_window(600, 30) == 30
    n = 600 * SR
    frames = n // FRAME
    is_speech = np.zeros(frames, bool)
    is_speech[int(60 * SR / FRAME):] = True            # one minute of noise, then speech
    plan = plan_budget(is_speech, n, 120, 30)
    assert len(plan) == 12 and all(w.length == 10 * SR for w in plan)
    assert min(w.start for w in plan) >= 60 * SR - 5 * SR   # no window in the leading minute
    starts = sorted(w.start for w in plan)
    assert starts[-1] > 500 * SR and np.all(np.diff(starts) > 30 * SR)   # spread over the speech
    assert plan_budget(np.zeros(frames, bool), n, 60, 30) == [plan_budget(np.zeros(frames, bool), n, 60, 30)[0]]
    short = plan_budget(np.ones(frames, bool), n, 5, 30)      # budget below one window: one
    assert len(short) == 2 and short[0].length == MIN_WINDOW_S * SR


def test_settling_needs_a_run_of_confident_agreement():
    s = Settling()
    sure = np.array([0.99, 0.01])
    assert not s.add(sure) and not s.add(sure) and s.add(sure)
    s = Settling()
    assert not any(s.add(z) for z in (sure, np.array([0.01, 0.99]), sure, sure))
    assert s.add(sure)
    s = Settling()
    assert not any(s.add(np.array([0.6, 0.4])) for _ in range(5))    # never confident enough


def test_budget_options_are_checked():
    with pytest.raises(ValueError, match="budget"):
        PredictOptions(budget=0)
    with pytest.raises(ValueError, match="speech detector"):
        PredictOptions(budget=30, speech_detector="none")
    with pytest.raises(ValueError, match="timeline or vad"):
        PredictOptions(budget=30, timeline=True, speech_detector="silero")


def test_budget_end_to_end_matches_the_full_pass(energy_lid, talk):
    """40 s of silence then 4 minutes of speech: the budget looks at speech only, stops
    early, and answers as the full pass does."""
    x = np.concatenate([np.zeros(40 * SR, "float32")] + [talk] * 10)
    full = energy_lid.predict((x, SR))
    p = energy_lid.predict((x, SR), budget=120, segments=True)
    assert p.language == full.language == "eng"
    a = p.analysed
    assert a["planned"] == 12 and a["stopped_early"] and 3 <= a["windows"] < 12
    assert a["agreement"] == 1.0 and 25 <= a["speech_seconds"] <= 60
    assert all(s.start >= 35 for s in p.segments) and p.num_windows == a["windows"]
    assert full.analysed is None
