"""Batch invariance: an utterance's outputs do not depend on what it is batched with.

Random mixed-length batches (0.5-30 s, batch sizes 1-16) on tiny random geo and
baseline models: scores, embedding, final and intermediate geo vectors of every
utterance equal its batch-1 output within 1e-4 (fp32). With
``batch_invariant: false`` (the published behaviour) they do not.
"""
import argparse

import pytest
import torch

from geolid.lid.masked_ecapa import MaskedEcapaTdnnEncoder
from geolid_demo.tiny import tiny_config, write_lang2utt
from geolid.tasks.build import build_model

SR = 16000
LANGS = ["eng", "fra", "cmn", "swh", "hin"]
KEYS = ("scores", "embedding", "lang2vec")


def build(tiny_hf, tmp_path, geo: bool, batch_invariant: bool = True):
    lang2utt = write_lang2utt(tmp_path / "lang2utt", LANGS)
    conf = tiny_config(str(tiny_hf), str(lang2utt), len(LANGS), geo=geo, layers=(1, 2))
    conf["model_conf"] = dict(conf["model_conf"], batch_invariant=batch_invariant)
    torch.manual_seed(0)
    model = build_model(argparse.Namespace(**conf)).eval()
    # Random BatchNorm statistics, so masking mistakes cannot hide behind identity BNs.
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.normal_(0, 0.5, generator=g)
            m.running_var.uniform_(0.5, 2.0, generator=g)
    return model


def random_batch(sizes, seed):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(int(0.5 * SR), 30 * SR + 1, (sizes,), generator=g)
    speech = torch.zeros(sizes, int(lengths.max()))
    for i, n in enumerate(lengths.tolist()):
        speech[i, :n] = torch.randn(n, generator=g) * torch.rand(1, generator=g) * 3
    return speech, lengths


def assert_invariant(model, speech, lengths, tol=1e-4):
    with torch.no_grad():
        batched = model.score(speech, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone = model.score(speech[i:i + 1, :n], lengths[i:i + 1])
            for key in KEYS:
                if key in alone:
                    torch.testing.assert_close(batched[key][i:i + 1], alone[key], rtol=tol, atol=tol,
                                               msg=lambda m: f"utt {i} ({n} samples) {key}: {m}")
            for layer, pred in alone.get("inter_lang2vec", {}).items():
                torch.testing.assert_close(batched["inter_lang2vec"][layer][i:i + 1], pred,
                                           rtol=tol, atol=tol)


@pytest.mark.parametrize("geo", [True, False], ids=["geo", "baseline"])
def test_every_utterance_gets_its_batch1_output(tiny_hf, tmp_path, geo):
    model = build(tiny_hf, tmp_path, geo)
    assert isinstance(model.encoder, MaskedEcapaTdnnEncoder)
    for seed, size in enumerate((16, 5, 2, 1)):
        assert_invariant(model, *random_batch(size, seed))


def test_extra_padding_beyond_the_longest_utterance_changes_nothing(tiny_hf, tmp_path):
    model = build(tiny_hf, tmp_path, geo=True)
    speech, lengths = random_batch(3, 7)
    padded = torch.cat([speech, torch.zeros(3, 5 * SR)], dim=1)
    with torch.no_grad():
        a, b = model.score(speech, lengths), model.score(padded, lengths)
    for key in KEYS:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-4)


def test_published_switch_keeps_the_batch_dependence(tiny_hf, tmp_path):
    model = build(tiny_hf, tmp_path, geo=True, batch_invariant=False)
    assert not model.frontend.batch_invariant
    speech, lengths = random_batch(4, 3)
    with torch.no_grad():
        batched = model.score(speech, lengths)
        shortest = int(lengths.argmin())
        alone = model.score(speech[shortest:shortest + 1, :lengths[shortest]], lengths[shortest:shortest + 1])
    assert (batched["embedding"][shortest] - alone["embedding"][0]).abs().max() > 1e-3


def test_stock_encoder_valid_frames_are_batch_invariant(tiny_hf, tmp_path):
    """HF's Wav2Vec2Model zeroes padded frames before its positional convolution and
    masks attention, so its valid frames do not depend on the batch (measured here)."""
    model = build(tiny_hf, tmp_path, geo=True)
    speech, lengths = random_batch(4, 11)
    with torch.no_grad():
        batched = model.frontend.forward_with_geo(speech, lengths, return_hidden_states=True)
        for i, n in enumerate(lengths.tolist()):
            alone = model.frontend.forward_with_geo(speech[i:i + 1, :n], lengths[i:i + 1],
                                                    return_hidden_states=True)
            t = int(alone.encoder_lens[0])
            for h_b, h_a in zip(batched.hidden_states, alone.hidden_states):
                torch.testing.assert_close(h_b[i:i + 1, :t], h_a[:, :t], rtol=1e-4, atol=1e-4)
            f = int(alone.feats_lens[0])
            assert f > t  # s3prl counts one or two frames more than the encoder ...
            torch.testing.assert_close(alone.feats[:, t:], alone.feats[:, t - 1:t].expand(-1, f - t, -1))
            # ... which repeat the utterance's own last encoder frame, batched as alone
            torch.testing.assert_close(batched.feats[i:i + 1, :f], alone.feats, rtol=1e-4, atol=1e-4)


def test_masked_ecapa_without_padding_equals_espnet(tiny_hf, tmp_path):
    model = build(tiny_hf, tmp_path, geo=False)
    x = torch.randn(2, 40, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.encoder(x, torch.tensor([40, 40])), model.encoder(x),
                                   rtol=1e-5, atol=1e-5)


def test_forward_is_export_clean(tiny_hf, tmp_path):
    """torch.export with dynamic batch and time axes: no int() / .item() / Python
    branching on tensor values anywhere in score(); the exported program then
    gives the eager outputs on another batch shape."""

    class Scores(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, speech, lengths):
            out = self.model.score(speech, lengths)
            return out["scores"], out["embedding"], out["lang2vec"], out["inter_lang2vec"][1]

    wrapped = Scores(build(tiny_hf, tmp_path, geo=True))
    batch, time = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("time", min=8000, max=SR * 60)
    program = torch.export.export(wrapped, random_batch(3, 5), dynamic_shapes=({0: batch, 1: time}, {0: batch}),
                                  strict=False)
    speech, lengths = random_batch(5, 6)
    with torch.no_grad():
        for got, want in zip(program.module()(speech, lengths), wrapped(speech, lengths)):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
