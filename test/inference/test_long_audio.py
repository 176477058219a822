"""Long files with a deterministic stub model: segments show a language change,
file scores follow the utterance rule (mean of the windows' logits), and a
10-minute file never reaches the model whole. (The tiny random model's predictions are random, so its end-to-end run in
test_api / test_cli checks structure only.)"""
from __future__ import annotations


import numpy as np
import pytest
import torch

from geolid.inference.api import GeoLID
from geolid.inference.scorer import TorchScorer
from geolid.model.folder import ModelFolder

from .conftest import noise, tone, write

SR = 16000


class ZeroCrossingScorer(torch.nn.Module):
    """A model whose ``score`` says language 0 for low-pitched audio, 1 for
    high-pitched; records batch shapes."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def score(self, speech, lengths):
        self.shapes.append(tuple(speech.shape))
        mask = torch.arange(speech.size(1))[None] < lengths[:, None]
        sign = torch.sign(speech)
        crossings = ((sign[:, 1:] != sign[:, :-1]) & mask[:, 1:]).sum(1).float()
        rate = crossings / lengths.float() * SR / 2  # ~ frequency in Hz
        high = (rate - 1000.0) / 100.0
        scores = torch.stack([-high, high], dim=1) * 5
        b = speech.size(0)
        return {"scores": scores, "embedding": torch.ones(b, 3), "pred_lids": scores.argmax(1),
                "lang2vec": torch.full((b, 299), 0.5)}


@pytest.fixture
def stub(tmp_path):
    model = ZeroCrossingScorer()
    folder = ModelFolder("stub", tmp_path, tmp_path, tmp_path / "m.pth", {}, ("eng", "fra"), None)
    return GeoLID(TorchScorer(model, folder.languages, "cpu", "float32", "geo"), folder), model


def test_language_change_shows_in_segments(stub, tmp_path):
    lid, _ = stub
    x = np.concatenate([tone(40, 200), tone(40, 2000)])  # "eng" 40 s then "fra" 40 s
    p = write(tmp_path / "two.wav", x)
    pred = lid.predict(str(p), segments=True, locate=False)
    assert [s.language for s in pred.segments] == ["eng", "fra", "fra"]
    assert [(s.start, s.end) for s in pred.segments] == [(0, 30), (25, 55), (50, 80)]
    assert pred.num_windows == 3 and pred.duration == 80.0
    # file level: the mean of the windows' probabilities (eng, fra, fra: 2/3 for fra)
    assert pred.language == "fra" and 0.6 < pred.probability < 0.7


def test_vad_windows_cut_between_languages(stub, tmp_path):
    lid, _ = stub
    x = np.concatenate([tone(25, 200), np.zeros(SR, "float32"), tone(25, 2000)])
    p = write(tmp_path / "two.wav", x)
    pred = lid.predict(str(p), segments=True, locate=False, window=30, vad=True,
                       speech_detector="energy")   # tones are "speech" to the energy rule
    assert [s.language for s in pred.segments] == ["eng", "fra"]
    np.testing.assert_allclose([(s.start, s.end) for s in pred.segments], [(0, 25.5), (25.5, 51.0)],
                               atol=0.032)    # the detector decides per 32 ms frame
    assert all(s.probability > 0.99 for s in pred.segments)


def test_ten_minute_file_is_streamed(stub, tmp_path, block_reads):
    lid, scorer = stub
    p = write(tmp_path / "long.flac", noise(600.0), SR)
    reads = block_reads
    pred = lid.predict(str(p), locate=False, batch_size=4)
    assert pred.num_windows == 24
    assert max(reads) <= 10 * SR + 2 and sum(reads) <= 600 * SR + 2 * len(reads)  # read once, by block
    assert max(b * t for b, t in scorer.shapes) <= 4 * 30 * SR  # never the whole file


def test_bad_file_in_a_batch_is_reported_and_others_go_on(stub, tmp_path):
    lid, _ = stub
    good = write(tmp_path / "g.wav", tone(2, 200))
    nan = noise(2)
    nan[5] = np.nan
    bad = write(tmp_path / "nan.wav", nan, subtype="FLOAT")
    out = lid.predict([str(good), str(bad), str(tmp_path / "missing.wav"), (tone(1, 2000), SR)])
    assert [p.ok for p in out] == [True, False, False, True]
    assert "NaN" in out[1].error and "not found" in out[2].error
    assert out[0].language == "eng" and out[3].language == "fra" and out[3].key == "input_3"
