"""The segmenter: window plans, and one streaming pass that reads every sample once."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from geolid.inference.segmenter import (TIMELINE, UTTERANCE, AudioSource, FixedPlan, PauseCutPlan,
                                        Scan, Window, plan_windows, timeline_windows)
from geolid.inference.vad import EnergyDetector, SpeechTrack

from .conftest import noise, tone, write

SR = 16000


def test_short_input_is_one_window():
    assert plan_windows(10 * SR) == [Window(0, 10 * SR)]
    assert plan_windows(100 * SR, None) == [Window(0, 100 * SR)]   # window None: never split


def test_fixed_windows_cover_with_overlap():
    w = plan_windows(70 * SR, 30, 5)
    assert [x.start // SR for x in w] == [0, 25, 40]
    assert all(x.length == 30 * SR for x in w) and w[-1].end == 70 * SR
    with pytest.raises(ValueError, match="overlap"):
        plan_windows(70 * SR, 30, 30)


def test_timeline_windows_end_at_the_end():
    w = timeline_windows(int(3.2 * SR), 1.5, 0.5)
    assert [x.start / SR for x in w] == [0.0, 0.5, 1.0, 1.5, 1.7] and w[-1].end == int(3.2 * SR)
    assert timeline_windows(SR, 1.5, 0.5) == [Window(0, SR)]


def _scan(x, plans, track=None, block_s=10.0):
    src = AudioSource("x", wave=torch.from_numpy(x))
    return list(Scan(src, plans, track, block_s=block_s).windows())


def test_scan_windows_hold_exactly_their_samples():
    x = noise(71.3, seed=1)
    n = len(x)
    plans = {UTTERANCE: FixedPlan(plan_windows(n, 30, 5)), TIMELINE: FixedPlan(timeline_windows(n, 1.5, 0.5))}
    got = _scan(x, plans, block_s=7.0)   # blocks smaller than a window: windows span blocks
    utt = [w for w in got if w.plan == UTTERANCE]
    tl = [w for w in got if w.plan == TIMELINE]
    assert [w.window for w in utt] == plan_windows(n, 30, 5)
    assert len(tl) == len(timeline_windows(n, 1.5, 0.5)) and [w.index for w in tl] == list(range(len(tl)))
    for w in utt + tl:
        np.testing.assert_array_equal(w.wave.numpy(), x[w.window.start:w.window.end])


def test_file_is_read_once_in_blocks(tmp_path, block_reads):
    path = write(tmp_path / "long.flac", noise(125.0), SR)
    reads = block_reads
    src = AudioSource.of("long", str(path))
    n = src.n_samples
    plans = {UTTERANCE: FixedPlan(plan_windows(n, 30, 5)), TIMELINE: FixedPlan(timeline_windows(n, 1.5, 0.5))}
    windows = list(Scan(src, plans).windows())
    assert len(windows) == len(plan_windows(n, 30, 5)) + len(timeline_windows(n, 1.5, 0.5))
    assert max(reads) <= 10 * SR + 2 and sum(reads) <= n + 2 * len(reads)   # each sample once


@pytest.mark.parametrize("seconds", [30.0, 60.0, 10.0 + 100 / SR, 29.984 + 0.001])
def test_lengths_at_block_boundaries_are_read_whole(tmp_path, seconds):
    """A file whose last block is a few samples long (30 s, 60 s: the old detector's
    29.984 s block) is read, never refused as too short."""
    x = 0.1 * np.random.default_rng(0).standard_normal(int(round(seconds * SR))).astype("float32")
    src = AudioSource.of("t", str(write(tmp_path / "t.wav", x)))
    track = SpeechTrack(EnergyDetector())
    windows = list(Scan(src, {UTTERANCE: FixedPlan(plan_windows(src.n_samples, 30, 5))}, track).windows())
    assert windows[-1].window.end == len(x) and track.n_samples == len(x)


def test_pause_cut_plan_cuts_at_the_latest_pause():
    loud = [tone(12, 300 + 50 * i) for i in range(5)]
    gap = np.zeros(SR // 2, "float32")
    x = np.concatenate([loud[0], gap, loud[1], gap, loud[2], gap, loud[3], gap, loud[4]])
    n = len(x)
    track = SpeechTrack(EnergyDetector())
    got = [w.window for w in _scan(x, {UTTERANCE: PauseCutPlan(n, 30)}, track)]
    ends = [w.end / SR for w in got]
    np.testing.assert_allclose(ends, [24.75, 49.75, n / SR], atol=0.04)  # the 2nd pause, then the 4th
    assert got[0].start == 0 and all(a.end == b.start for a, b in zip(got, got[1:]))
    hard = [w.window.end / SR for w in _scan(noise(70), {UTTERANCE: PauseCutPlan(70 * SR, 30)})]
    assert hard == [30, 60, 70]                              # no detector, no pause: hard cuts
    assert [w.window.end / SR for w in _scan(noise(61), {UTTERANCE: PauseCutPlan(61 * SR, 30)})] == [30, 61]


def test_truncated_file_is_an_audio_error(tmp_path):
    from geolid.audio import AudioError

    src = AudioSource.of("t", str(write(tmp_path / "t.wav", noise(3.0))))
    src.info = type(src.info)(src.info.path, src.info.frames * 2, src.info.sample_rate,
                              src.info.channels)            # the header claims twice the samples
    with pytest.raises(AudioError, match="before the"):
        list(Scan(src, {UTTERANCE: FixedPlan(plan_windows(src.n_samples, 30, 5))}).windows())
