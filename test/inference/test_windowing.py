"""Windows for long audio, the energy VAD, streaming, and aggregation."""
from __future__ import annotations

import numpy as np
import pytest

from geolid.audio import audio_info
from geolid.inference.windowing import (Window, aggregate, frame_energies_db, plan_windows,
                                        plan_windows_vad, silence_midpoints, windows_for)

from .conftest import noise, write

SR = 16000


def test_short_input_is_one_window():
    assert plan_windows(10 * SR) == [Window(0, 10 * SR)]


def test_fixed_windows_cover_with_overlap():
    w = plan_windows(70 * SR, 30, 5)
    assert [x.start // SR for x in w] == [0, 25, 40]
    assert all(x.length == 30 * SR for x in w) and w[-1].end == 70 * SR
    with pytest.raises(ValueError, match="overlap"):
        plan_windows(70 * SR, 30, 30)


def test_vad_windows_cut_at_pauses():
    w = plan_windows_vad(70 * SR, cuts_s=[12.0, 22.0, 41.0, 55.0], window_s=30)
    assert [(x.start_s, x.end_s) for x in w] == [(0, 22), (22, 41), (41, 70)]
    # no pause in range: hard cut at the window length
    assert [x.end_s for x in plan_windows_vad(70 * SR, [], 30)] == [30, 60, 70]
    # a scrap at the end joins the previous window
    assert [x.end_s for x in plan_windows_vad(61 * SR, [], 30)] == [30, 61]


def test_silences_are_found_in_a_file(tmp_path):
    speechy = [noise(9.0, seed=i) for i in range(4)]
    gap = np.zeros(SR // 2, "float32")
    x = np.concatenate([speechy[0], gap, speechy[1], gap, speechy[2], gap, speechy[3]])
    p = write(tmp_path / "talk.wav", x)
    energy = frame_energies_db(audio_info(p), block_s=1.0)  # small blocks: streamed
    assert len(energy) == int(np.ceil(len(x) / 160))
    cuts = silence_midpoints(energy)
    np.testing.assert_allclose(cuts, [9.25, 18.75, 28.25], atol=0.02)
    win = windows_for(audio_info(p), window_s=20, vad=True)
    assert [round(w.end_s, 2) for w in win] == [18.75, round(len(x) / SR, 2)]


def test_aggregate_is_duration_weighted():
    wins = [Window(0, 3 * SR), Window(3 * SR, 4 * SR)]
    np.testing.assert_allclose(aggregate(np.array([[1.0, 0.0], [0.0, 1.0]]), wins), [0.75, 0.25])
