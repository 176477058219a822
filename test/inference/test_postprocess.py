"""Post-processing steps, each alone on hand-made utterances, then in order through the API."""
from __future__ import annotations

import numpy as np
import pytest

from geolid.inference.options import PredictOptions
from geolid.inference.pipeline import Utterance
from geolid.inference.postprocess import (CandidateStep, NoSpeechStep, RejectionStep,
                                          TopLanguageStep, UnknownLanguageStep, decide, steps_for,
                                          to_prediction)

from .conftest import LANGS, noise

LOGITS = np.log(np.array([0.5, 0.3, 0.15, 0.05]))   # eng fra deu cmn


def utt(logits=LOGITS, no_speech=False, embedding=(3.0, 4.0)):
    from geolid.inference.calibration import softmax

    logits = np.asarray(logits, dtype=np.float64)
    return Utterance("k", probabilities=softmax(logits), logits=logits, embedding=np.asarray(embedding),
                     no_speech=no_speech, duration=2.0, n_windows=1)


def run(steps, u=None):
    return decide([u or utt()], LANGS, steps)[0]


def test_candidates_renormalise_and_say_none_of_these():
    d = run([CandidateStep([1, 2], LANGS), TopLanguageStep()])
    np.testing.assert_allclose(d.probabilities, [0, 0.3 / 0.45, 0.15 / 0.45, 0], rtol=1e-9)
    assert d.language == "none" and d.notes["candidates"] == {
        "languages": ["fra", "deu"], "allowed_mass": 0.45, "none_of_these": True}   # 0.45 < 0.46
    p = to_prediction(d, top_k=4)
    assert [s.code for s in p.top_k] == ["fra", "deu"]          # the allowed distribution, still
    d = run([CandidateStep([1, 2, 3], LANGS), TopLanguageStep()])
    assert d.language == "fra" and d.notes["candidates"]["allowed_mass"] == 0.5
    d = run([CandidateStep([0, 1], LANGS), TopLanguageStep(), RejectionStep(0.99)])
    assert d.language == "unknown" and not d.notes["candidates"]["none_of_these"]
    d = run([CandidateStep([2, 3], LANGS), TopLanguageStep(), RejectionStep(0.99)])
    assert d.language == "none" and not d.rejected              # none of these wins over unknown
    assert to_prediction(d, 5).name == "none of the candidate languages"


def test_rejection_no_speech_and_order():
    assert run([TopLanguageStep(), RejectionStep(0.6)]).language == "unknown"
    assert run([TopLanguageStep(), RejectionStep(0.4)]).language == "eng"
    d = run([TopLanguageStep(), RejectionStep(0.6), NoSpeechStep()], utt(no_speech=True))
    assert d.language == "zxx"                                  # no speech overrides a rejection
    kinds = [type(s).__name__ for s in steps_for(PredictOptions(reject_below=0.2, languages=("eng", "fra"),
                                                                speech_detector="silero"),
                                                 LANGS, "geo")]
    assert kinds == ["CandidateStep", "TopLanguageStep", "RejectionStep", "NoSpeechStep"]


def test_unknown_score_undoes_the_head_and_rejects_below_threshold():
    stats = {"mean": {"max_cosine": 0.5, "embedding_norm": 5.0},
             "std": {"max_cosine": 0.1, "embedding_norm": 1.0}, "threshold": 0.0}
    # raw logits = scale * cos + offset; the scorer's are divided by T = 2
    cos = np.array([0.7, 0.2, 0.1, 0.0])
    offsets = np.array([0.0, 0.0, 0.0, 3.0])
    logits = (10.0 * cos + offsets) / 2.0
    from geolid.model.head_state import HeadState

    step = UnknownLanguageStep(HeadState(temperature=2.0, offsets=offsets, unknown=stats), scale=10.0)
    d = run([TopLanguageStep(), step], utt(logits, embedding=(3.0, 4.0)))   # norm 5: z 0
    assert d.notes["unknown_score"] == pytest.approx((0.7 - 0.5) / 0.1) and d.language == "eng"
    far = run([TopLanguageStep(), step], utt(logits * 0.1, embedding=(0.3, 0.4)))
    assert far.language == "unknown" and far.rejected and far.notes["unknown_score"] < 0


def test_api_candidates_and_unknown(lid, model_root, tmp_path):
    import shutil

    from geolid.inference.api import GeoLID
    from geolid.model.head_state import HeadState, write_head_state

    from .conftest import EXP_REL

    x = (noise(1.0, seed=3), 16000)
    full = lid.predict(x, top_k=4)
    some = lid.predict(x, top_k=4, languages="fra,cmn")
    assert {s.code for s in some.top_k} == {"fra", "cmn"} and some.candidates["languages"] == ["fra", "cmn"]
    mass = sum(s.probability for s in full.top_k if s.code in ("fra", "cmn"))
    assert some.candidates["allowed_mass"] == pytest.approx(mass, abs=1e-5)
    with pytest.raises(ValueError, match="'de'.*did you mean 'deu'"):
        lid.predict(x, languages=["de"])
    with pytest.raises(ValueError, match="no fitted unknown-language score"):
        lid.predict(x, reject_unknown=True)
    root = tmp_path / "repo"
    shutil.copytree(model_root, root)
    never = {"mean": {"max_cosine": 0.0, "embedding_norm": 0.0},
             "std": {"max_cosine": 1.0, "embedding_norm": 1.0}, "threshold": 1e9}
    write_head_state(root / EXP_REL, HeadState().with_temperature(1.5, unknown=never), LANGS)
    strict = GeoLID.from_pretrained(str(root), device="cpu")
    p = strict.predict(x, reject_unknown=True)
    assert p.language == "unknown" and p.unknown_score is not None and p.rejected
    assert strict.predict(x).unknown_score is None                 # only when asked
    assert strict.identity().head != GeoLID.from_pretrained(str(model_root), device="cpu").identity().head
