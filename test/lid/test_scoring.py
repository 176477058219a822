import argparse

import pytest
import torch

from geolid.lid.scoring import score_batch
from geolid.demo.tiny import tiny_config, write_lang2utt
from geolid.tasks.build import build_model


@pytest.mark.parametrize("loss", ["aamsoftmax_sc_topk", "aamsoftmax", "softmax"])
def test_baseline_scores_agree_with_its_predictions(tiny_hf, tmp_path, loss):
    lang2utt = write_lang2utt(tmp_path / "lang2utt", ["eng", "fra", "cmn", "swh"])
    conf = tiny_config(str(tiny_hf), str(lang2utt), 4, geo=False)
    conf["loss"] = loss
    conf["loss_conf"] = {"aamsoftmax_sc_topk": conf["loss_conf"], "aamsoftmax": {"scale": 30},
                         "softmax": {}}[loss]
    torch.manual_seed(0)
    model = build_model(argparse.Namespace(**conf)).eval()
    speech, lengths = torch.randn(3, 9000), torch.tensor([9000, 9000, 9000])
    with torch.no_grad():
        out = score_batch(model, speech, lengths)
        _, preds = model(speech, lengths, extract_embd=True)
    assert out["scores"].shape == (3, 4)
    assert torch.equal(out["pred_lids"], preds)
    assert "lang2vec" not in out
