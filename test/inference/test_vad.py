"""Speech detection: Silero says speech on espeak-ng speech and no speech on noise,
tones and silence; streaming equals one pass; zxx records; --vad cuts at its pauses."""
from __future__ import annotations

import json

import numpy as np
import pytest

from geolid.inference.vad import (FRAME, FRAME_S, ZXX, EnergyDetector, SileroDetector, SpeechTrack,
                                  is_no_speech, track_array)
from geolid_demo.nonspeech import NON_SPEECH

from .conftest import LANGS, write

SR = 16000
SENTENCES = {"en-gb": "The farmer carried water up the hill after lunch, and then he slept.",
             "fr-fr": "Le boulanger ouvre sa boutique avant le lever du soleil chaque matin.",
             "cmn": "我们明天早上一起去公园散步，然后吃午饭。"}


@pytest.fixture(autouse=True)
def speech_check_off(monkeypatch):
    """Overrides conftest's: these tests are about the detector, so it stays on."""
    monkeypatch.delenv("GEOLID_SPEECH_DETECTOR", raising=False)


@pytest.fixture(scope="module")
def speech():
    from geolid_demo.espeak import synthesize

    return {voice: synthesize(text, voice) for voice, text in SENTENCES.items()}


class StubDetector:
    """Frame score = the frame's mean sample value (so tests write scores as audio)."""

    name = "stub"

    def reset(self):
        pass

    @staticmethod
    def scores(frames):
        return frames.mean(axis=1)

    @staticmethod
    def decide(scores):
        return scores >= 0.5


def frames_of(flags) -> np.ndarray:
    return np.repeat(np.asarray(flags, dtype=np.float32), FRAME)


def test_silero_finds_speech_in_espeak_speech(speech):
    for voice, x in speech.items():
        track = track_array(x)
        assert track.fraction() > 0.7, voice
        assert not track.no_speech()


@pytest.mark.parametrize("kind", sorted(NON_SPEECH))
def test_silero_finds_no_speech_in_noise_tones_and_silence(kind):
    track = track_array(NON_SPEECH[kind](4.0, seed=1))
    assert track.speech_seconds() < 0.1, kind
    assert track.no_speech()


def test_energy_rule_calls_noise_speech():
    """Why the energy rule was replaced: it is relative to the loudest frames."""
    for kind in ("white_noise", "silence", "tone"):
        track = track_array(NON_SPEECH[kind](4.0), EnergyDetector())
        assert track.fraction() > 0.9 and not track.no_speech()


def test_streaming_in_odd_blocks_equals_one_pass(speech):
    x = np.concatenate([speech["en-gb"], np.zeros(SR, "float32"), speech["fr-fr"]])
    whole = track_array(x)
    streamed = SpeechTrack(whole.detector)
    for start in range(0, len(x), 7777):  # not a multiple of the 512-sample frame
        streamed.feed(x[start:start + 7777])
    streamed.finish()
    np.testing.assert_allclose(streamed.scores, whole.scores, atol=1e-6)
    assert streamed.n_samples == whole.n_samples == len(x)


def test_onnx_and_torchscript_runtimes_agree(speech):
    pytest.importorskip("onnxruntime", reason="the onnx runtime of Silero needs onnxruntime")
    from geolid.inference.vad import SileroDetector

    x = np.concatenate([speech["cmn"], np.zeros(SR // 3, "float32"), speech["en-gb"]])
    onnx = SpeechTrack(SileroDetector("onnx"))
    for start in range(0, len(x), 5000):
        onnx.feed(x[start:start + 5000])
    jit = track_array(x, SileroDetector("jit"))
    # two runtimes of one network: float32 sums in another order (1.3e-4 seen under load)
    np.testing.assert_allclose(onnx.finish().scores, jit.scores, atol=5e-4)


def test_track_fed_by_the_segmenter_matches_the_array(speech, tmp_path):
    """The segmenter feeds the detector block by block from the file: the same speech
    fraction as the whole array at once."""
    from geolid.inference.segmenter import UTTERANCE, AudioSource, FixedPlan, Scan, plan_windows

    x = np.concatenate([speech["en-gb"]] * 3)
    path = write(tmp_path / "s.wav", x, subtype="FLOAT")
    src = AudioSource.of("s", str(path))
    track = SpeechTrack(SileroDetector())
    list(Scan(src, {UTTERANCE: FixedPlan(plan_windows(src.n_samples))}, track, block_s=1.0).windows())
    assert track.n_samples == len(x)
    assert track.fraction() == pytest.approx(track_array(x).fraction(), abs=0.02)


def test_fraction_and_pauses_follow_the_frames():
    flags = [1] * 10 + [0] * 10 + [1] * 5 + [0] * 3 + [1] * 2   # 30 frames
    track = SpeechTrack(StubDetector()).feed(frames_of(flags)).finish()
    assert track.fraction() == pytest.approx(17 / 30)
    assert track.speech_seconds() == pytest.approx(17 * FRAME_S)
    assert track.fraction(0, 10 * FRAME) == 1.0 and track.fraction(10 * FRAME, 20 * FRAME) == 0.0
    assert track.fraction(5 * FRAME, 15 * FRAME) == pytest.approx(0.5)
    assert track.fraction(9 * FRAME + FRAME // 2, 10 * FRAME + FRAME // 2) == pytest.approx(0.5)
    # pauses of >= 0.2 s (7 frames): only the 10-frame one, centred on frame 15
    assert track.pause_midpoints() == pytest.approx([15 * FRAME_S])
    # dropping frames keeps the totals and the positions
    track.drop_before(12 * FRAME)
    assert track.first_frame == 12
    assert track.fraction() == pytest.approx(17 / 30)
    assert track.fraction(20 * FRAME, 25 * FRAME) == 1.0


def test_zxx_rule():
    assert is_no_speech(0.0, 10.0) and is_no_speech(0.4, 60.0)
    assert not is_no_speech(0.6, 3600.0)          # half a second of speech in an hour counts
    assert not is_no_speech(0.2, 1.0)             # a short clip: 20% speech counts
    assert is_no_speech(0.05, 1.0)


def test_noise_is_zxx_and_speech_is_a_language(lid, speech, tmp_path):
    from geolid_demo.nonspeech import white_noise

    noise_path = write(tmp_path / "noise.wav", white_noise(3.0))
    speech_path = write(tmp_path / "speech.wav", speech["en-gb"])
    noise_p, speech_p = lid.predict([str(noise_path), str(speech_path)])
    assert noise_p.language == ZXX and noise_p.name == "No linguistic content"
    assert noise_p.speech_fraction == 0.0 and len(noise_p.top_k) == len(LANGS)
    assert speech_p.language in LANGS and speech_p.speech_fraction > 0.7
    rec = json.loads(noise_p.to_json())
    assert rec["language"] == "zxx" and rec["speech_fraction"] == 0.0
    # in-memory input, and the detector switched off
    assert lid.predict((white_noise(3.0), SR)).language == ZXX
    off = lid.predict((white_noise(3.0), SR), speech_detector="none")
    assert off.language in LANGS and off.speech_fraction is None


def test_segments_without_speech_are_zxx(lid, speech):
    from geolid_demo.nonspeech import chords

    x = np.concatenate([speech["en-gb"], chords(6.0), speech["fr-fr"]])
    p = lid.predict((x, SR), segments=True, window=4.0, overlap=0.5)
    langs = [s.language for s in p.segments]
    assert langs[0] in LANGS and langs[-1] in LANGS and ZXX in langs


def test_vad_windows_cut_at_the_detectors_pause(lid, speech, tmp_path):
    """--vad: long speech with one clear pause is cut there (the energy rule would see
    no pause in noisy audio; Silero does)."""
    from geolid_demo.nonspeech import white_noise

    talk = np.concatenate([speech["en-gb"]] * 6)            # > 20 s without a long pause
    gap = white_noise(1.0, level=0.02)                       # a pause with background noise
    x = np.concatenate([talk, gap, talk])
    x = x + white_noise(len(x) / SR, level=0.02, seed=5)[: len(x)]
    pause_centre = (len(talk) + SR / 2) / SR
    p = lid.predict((x, SR), segments=True, window=len(talk) / SR + 5, vad=True)
    assert p.num_windows == 2
    assert p.segments[0].end == pytest.approx(pause_centre, abs=0.3)


def test_cli_jsonl_has_zxx_and_speech_fraction(model_root, speech, tmp_path, capsys):
    from geolid.cli.main import main
    from geolid_demo.nonspeech import chords

    music = write(tmp_path / "music.wav", chords(3.0))
    talk = write(tmp_path / "talk.wav", speech["fr-fr"])
    rc = main(["predict", str(music), str(talk), "--model", str(model_root), "--format", "jsonl",
               "-q", "--no-location"])
    recs = {json.loads(line)["key"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}
    assert rc == 0
    assert recs[str(music)]["language"] == "zxx" and recs[str(music)]["speech_fraction"] < 0.05
    assert recs[str(talk)]["language"] in LANGS and recs[str(talk)]["speech_fraction"] > 0.7
