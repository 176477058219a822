"""The utterance rule: windows without speech do not vote; the mean of the windows'
logits decides; record, speech fraction and timeline agree (issue: silence or noise
inside a speech file used to pick the language)."""
from __future__ import annotations

import numpy as np
import pytest

from geolid.inference.segmenter import Window
from geolid.inference.utterance import UtteranceAccumulator, window_weight

SR = 16000


def test_window_weight_is_its_speech():
    w = Window(0, 10 * SR)
    assert window_weight(w, None) == 10 * SR          # no detector: its length
    assert window_weight(w, 0.5) == 5 * SR
    assert window_weight(w, 0.0) == 0.0 and window_weight(w, 0.02) == 0.0   # 0.2 s of 10 s: no speech


def test_accumulator_means_and_fallback():
    from geolid.inference.calibration import softmax
    from geolid.inference.utterance import aggregate_probabilities

    acc = UtteranceAccumulator()
    acc.add(Window(0, 10), 0.0, np.array([9.0, 0.0]), np.array([1.0]), None)
    acc.add(Window(0, 10), 1.0, np.array([0.0, 3.0]), np.array([3.0]), None)
    np.testing.assert_allclose(acc.mean("logits"), [0.0, 3.0])    # the silent window had no vote
    np.testing.assert_allclose(acc.mean("probabilities"), softmax(np.array([0.0, 3.0])))
    assert acc.mean("geo") is None and acc.n_windows == 2
    silent = UtteranceAccumulator()
    for logits in ([1.0, 0.0], [0.0, 3.0]):
        silent.add(Window(0, 10), 0.0, np.array(logits), np.array([0.0]), None)
    np.testing.assert_allclose(silent.mean("logits"), [0.5, 1.5])   # no speech at all: by length
    # the rule is the mean of the windows' probabilities, not the softmax of their mean logits
    both = np.array([[6.0, 0.0], [0.0, 2.0], [0.0, 2.0]])
    p = aggregate_probabilities(both, np.ones(3))
    np.testing.assert_allclose(p, softmax(both).mean(0))
    assert p.argmax() == 1 and softmax(both.mean(0)).argmax() == 0   # a confident minority would win
    np.testing.assert_allclose(aggregate_probabilities(both, np.ones(3), 2.0), softmax(both / 2.0).mean(0))


@pytest.mark.parametrize("lead", ["silence", "noise"])
def test_leading_silence_or_noise_does_not_vote(energy_lid, talk, lead):
    """40 s of silence (or loud noise) then 24 s of speech is the speech's language; the
    record, its speech fraction and its timeline agree."""
    rng = np.random.default_rng(0)
    before = np.zeros(40 * SR, "float32") if lead == "silence" else \
        (0.5 * rng.standard_normal(40 * SR)).astype("float32")
    x = np.concatenate([before, talk])
    p = energy_lid.predict((x, SR), timeline=True)
    assert p.language == "eng" and p.probability > 0.99 and p.num_windows == 3
    assert p.speech_fraction == pytest.approx(24 / 64, abs=0.06)
    langs = [s.language for s in p.segments]
    assert langs[0] == "zxx" and langs[-1] == "eng" and "vie" not in langs
    assert p.segments[0].end == pytest.approx(40.0, abs=1.0)
    # without a detector every window votes, and the first (silence or noise only) pulls
    # towards 'vie': what the rule prevents
    voting = energy_lid.predict((x, SR), speech_detector="none")
    assert voting.probability < 0.99 < p.probability


@pytest.mark.parametrize("seconds", [30.0, 60.0])
def test_exactly_30_or_60_seconds_are_answered(energy_lid, tmp_path, seconds):
    """Files that end just past a block of the speech detector were refused as 'too short'."""
    import soundfile as sf

    path = tmp_path / "t.wav"
    sf.write(str(path), (0.1 * np.random.default_rng(1).standard_normal(int(seconds * SR))).astype("float32"), SR)
    tone = tmp_path / "tone.wav"
    sf.write(str(tone), (0.3 * np.sin(2 * np.pi * 1000 * np.arange(int(seconds * SR)) / SR)).astype("float32"), SR)
    noise_p, tone_p = energy_lid.predict([str(path), str(tone)])
    assert noise_p.ok and tone_p.ok and tone_p.language == "zxx" and noise_p.language == "zxx"
    assert noise_p.duration == seconds
