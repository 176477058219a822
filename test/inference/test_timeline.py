"""Language timeline: Viterbi on synthetic posteriors, streaming decoder = offline
decoder, segment merging, and ``GeoLID.timeline`` / ``--timeline`` end to end with a
deterministic scorer (one pass over the audio for the record and its timeline)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from geolid.inference.options import TimelineOptions
from geolid.inference.timeline import OnlineViterbi, decode_timeline, emission_scores, viterbi

from .conftest import tone, write
from .test_long_audio import stub  # noqa: F401  (deterministic two-language scorer)

SR = 16000


def reference_viterbi(scores: np.ndarray, penalty: float) -> np.ndarray:
    """Textbook Viterbi with a full (T, S) backpointer table."""
    T, S = scores.shape
    trans = np.where(np.eye(S, dtype=bool), 0.0, -penalty)
    delta, back = scores[0].copy(), np.zeros((T, S), dtype=int)
    for t in range(1, T):
        cand = delta[:, None] + trans          # from x to
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(S)] + scores[t]
    path = [int(np.argmax(delta))]
    for t in range(T - 1, 0, -1):
        path.append(back[t][path[-1]])
    return np.array(path[::-1])


def noisy_switch(T=80, switch=50, n_lang=4, flip=0.2, seed=0):
    """Log-posteriors: language 1 then language 2 from ``switch``, with a share
    ``flip`` of windows voting for a random wrong language."""
    rng = np.random.default_rng(seed)
    truth = np.where(np.arange(T) < switch, 1, 2)
    votes = truth.copy()
    flips = rng.random(T) < flip
    votes[flips] = rng.integers(0, n_lang, flips.sum())
    post = np.full((T, n_lang), 0.1 / (n_lang - 1))
    post[np.arange(T), votes] = 0.9
    return np.log(post), truth, votes


def test_viterbi_recovers_a_known_switch_through_noisy_windows():
    log_post, truth, votes = noisy_switch()
    assert (votes != truth).sum() >= 10          # the raw argmax is wrong on many windows
    np.testing.assert_array_equal(viterbi(log_post, 8.0), truth)
    np.testing.assert_array_equal(viterbi(log_post, 0.0), votes)   # no penalty: argmax


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_online_decoder_equals_the_textbook_viterbi(chunk):
    rng = np.random.default_rng(chunk)
    scores = np.log(rng.dirichlet(np.ones(5) * 0.3, size=300))
    ref = reference_viterbi(scores, 3.0)
    dec = OnlineViterbi(5, 3.0)
    got = []
    for i in range(0, len(scores), chunk):
        got += dec.push(scores[i:i + chunk])
    got += dec.finish()
    assert [t for _, t in got] == list(range(len(scores)))
    np.testing.assert_array_equal([s for s, _ in got], ref)


def test_online_decoder_forgets_decided_steps():
    log_post, _, _ = noisy_switch(T=5000, switch=2500)
    dec = OnlineViterbi(4, 8.0)
    for i in range(0, 5000, 64):
        dec.push(log_post[i:i + 64])
        assert len(dec.rows) < 200                  # only the undecided stretch is held
    assert dec.max_pending < 200 and dec.max_undecided < 100


def test_decode_timeline_merges_windows_into_segments():
    log_post, _, _ = noisy_switch(T=80, switch=50, flip=0.0)
    duration = 79 * 0.5 + 2.0                      # 80 windows of 2 s every 0.5 s
    segs = decode_timeline(log_post, ["eng", "fra", "deu", "cmn"], 2.0, 0.5, duration)
    assert [(s.language, s.start, s.end) for s in segs] == [("fra", 0.0, 25.75), ("deu", 25.75, duration)]
    assert segs[0].name == "French" and segs[0].probability == pytest.approx(0.9)


def test_silence_becomes_a_zxx_segment():
    log_post, _, _ = noisy_switch(T=80, switch=80, flip=0.0)
    speech = np.ones(80)
    speech[30:45] = 0.0
    segs = decode_timeline(log_post, ["eng", "fra", "deu", "cmn"], 2.0, 0.5, 41.5, speech=speech)
    assert [s.language for s in segs] == ["fra", "zxx", "fra"]
    assert segs[1].start == pytest.approx(30 * 0.5 + 0.75) and segs[1].probability == 1.0
    scores = emission_scores(log_post[:2], np.array([0.9, 0.1]))
    assert scores.shape == (2, 5) and np.argmax(scores[0]) == 1 and np.argmax(scores[1]) == 4


def test_cli_defaults_are_the_api_defaults():
    from geolid.cli.main import build_parser

    args = build_parser().parse_args(["predict", "x.wav"])
    d = TimelineOptions()
    assert (args.timeline_window, args.timeline_hop, args.switch_penalty) == (d.window, d.hop, d.switch_penalty)


def test_options_are_checked():
    for bad in (TimelineOptions(window=0), TimelineOptions(hop=3.0), TimelineOptions(switch_penalty=-1),
                TimelineOptions(window=float("inf"))):
        with pytest.raises(ValueError):
            bad.check()


def test_timeline_finds_the_change_in_a_file(stub, tmp_path):  # noqa: F811
    lid, _ = stub
    x = np.concatenate([tone(7.3, 200), tone(6.1, 2000)])   # "eng" then "fra"
    path = write(tmp_path / "two.wav", x, subtype="FLOAT")  # PCM zeros would fool the stub
    opts = TimelineOptions()
    tl = lid.timeline(str(path), speech_detector="none")
    assert [s.language for s in tl.segments] == ["eng", "fra"]
    assert tl.segments[0].end == pytest.approx(7.3, abs=0.5)   # within one hop
    assert tl.segments[0].start == 0.0 and tl.segments[-1].end == tl.duration == 13.4
    # arrays work like files
    arr = lid.timeline((x, SR), speech_detector="none")
    assert [(s.language, s.start, s.end) for s in arr.segments] == \
        [(s.language, s.start, s.end) for s in tl.segments]
    # decoding the same windows offline gives the same segments
    from geolid.inference.segmenter import timeline_windows
    from geolid.inference.calibration import log_softmax

    windows = timeline_windows(len(x), opts.window, opts.hop)
    logits = lid.classify_batch([x[w.start:w.end] for w in windows]).scores
    offline = decode_timeline(log_softmax(logits), lid.languages, opts.window, opts.hop, len(x) / SR)
    assert [(s.language, s.start, s.end) for s in offline] == [(s.language, s.start, s.end) for s in tl.segments]
    # a file shorter than one window is one segment
    short = lid.timeline((tone(1.0, 200), SR), speech_detector="none")
    assert [(s.language, s.start, s.end) for s in short.segments] == [("eng", 0.0, 1.0)]


def test_timeline_with_the_detector_marks_silence_zxx(stub, tmp_path, monkeypatch):  # noqa: F811
    """Speech detector on: the stub scores speech by pitch, Silero finds the pause."""
    monkeypatch.delenv("GEOLID_SPEECH_DETECTOR", raising=False)
    from geolid_demo.espeak import synthesize

    lid, _ = stub
    talk = synthesize("The farmer carried water up the hill after lunch, and then he slept.", "en-gb")
    x = np.concatenate([talk, np.zeros(4 * SR, "float32"), talk])
    tl = lid.timeline((x, SR))
    langs = [s.language for s in tl.segments]
    assert "zxx" in langs and langs[0] != "zxx" and langs[-1] != "zxx"
    z = tl.segments[langs.index("zxx")]
    assert z.start == pytest.approx(len(talk) / SR, abs=1.0) and z.end == pytest.approx(len(talk) / SR + 4, abs=1.0)
    assert 0.3 < tl.speech_fraction < 0.9


def test_timeline_and_the_record_read_the_audio_once(stub, tmp_path, monkeypatch):  # noqa: F811
    import soundfile as sf

    lid, scorer = stub
    path = write(tmp_path / "long.wav", tone(120.0, 200))
    reads = []
    real = sf.SoundFile.read
    monkeypatch.setattr(sf.SoundFile, "read",
                        lambda self, frames=-1, *a, **kw: reads.append(frames) or real(self, frames, *a, **kw))
    p = lid.predict(str(path), timeline=True, speech_detector="none", locate=False)
    assert [s.language for s in p.segments] == ["eng"] and p.language == "eng"
    assert sum(reads) <= 120 * SR + 2 * len(reads) and max(reads) <= 10 * SR + 2   # once, by block
    assert max(b * t for b, t in scorer.shapes) <= 30 * SR


def test_cli_timeline_fills_segments(model_root, tmp_path, capsys):
    from geolid.cli.main import main

    path = write(tmp_path / "a.wav", tone(5.0, 300))
    rc = main(["predict", str(path), "--model", str(model_root), "--format", "jsonl", "-q",
               "--no-location", "--timeline", "--speech-detector", "none", "--switch-penalty", "0"])
    rec = json.loads(capsys.readouterr().out)
    assert rc == 0 and rec["segments"]
    assert rec["segments"][0]["start"] == 0.0 and rec["segments"][-1]["end"] == 5.0
    for a, b in zip(rec["segments"], rec["segments"][1:]):
        assert a["end"] == b["start"] and a["language"] != b["language"]
    rc = main(["predict", str(path), "--model", str(model_root), "-q", "--timeline",
               "--timeline-hop", "9"])
    assert rc == 2 and "hop" in capsys.readouterr().err
