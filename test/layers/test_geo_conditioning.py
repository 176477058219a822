import pytest
import torch
from espnet2.spk.encoder.identity_encoder import IdentityEncoder
from espnet2.spk.pooling.chn_attn_stat_pooling import ChnAttnStatPooling
from espnet2.spk.projector.rawnet3_projector import RawNet3Projector
from transformers import Wav2Vec2Model

from geolid.layers.geo_conditioning import GeoBranch, GeoConditioning, count_parameters

GEO = 299


def branch(hidden=32, embd=8):
    return GeoBranch(IdentityEncoder(hidden), ChnAttnStatPooling(hidden), RawNet3Projector(2 * hidden, embd), GEO)


def load(tiny_hf, **kw):
    torch.manual_seed(0)
    return Wav2Vec2Model.from_pretrained(str(tiny_hf), **kw)


def attach(model, layers=(1, 2), **flags):
    torch.manual_seed(1)
    return GeoConditioning(model, layers, [branch() for _ in layers], GEO, **flags).attach()


def run(model, cond, wav=None, lengths=None):
    wav = torch.randn(2, 8000, generator=torch.Generator().manual_seed(3)) if wav is None else wav
    lengths = torch.tensor([8000, 6000]) if lengths is None else lengths
    frames = model._get_feat_extract_output_lengths(lengths)
    mask = (torch.arange(wav.size(1))[None] < lengths[:, None]).long()
    with cond.capture(frames) as preds:
        out = model(wav, attention_mask=mask)
    return out, dict(preds)


@pytest.mark.parametrize("shared,expected", [(True, ["lang2vec_conditioning_projs.weight"]),
                                             (False, ["lang2vec_conditioning_projs.1.0.weight",
                                                      "lang2vec_conditioning_projs.2.0.weight"])])
def test_published_key_names_and_detach_restores_plain_encoder(tiny_hf, shared, expected):
    model = load(tiny_hf)
    plain_keys = set(model.state_dict())
    plain_out = model(torch.ones(1, 4000)).last_hidden_state
    cond = attach(model, shared_conditioning_proj=shared)
    model.eval()  # the new branches (BatchNorm) follow the model's mode
    new = set(model.state_dict()) - plain_keys
    for key in expected + ["pooling.1.attention.0.weight", "projector.2.bn.running_mean",
                           "projector.1.fc.weight", "lang2vec_head.2.0.weight"]:
        assert "encoder." + key in new
    assert not (model(torch.ones(1, 4000)).last_hidden_state - plain_out).abs().max() < 1e-7
    cond.detach()
    assert set(model.state_dict()) == plain_keys
    torch.testing.assert_close(model(torch.ones(1, 4000)).last_hidden_state, plain_out, rtol=0, atol=0)


def test_parameter_count_per_layer(tiny_hf):
    model = load(tiny_hf)
    per_layer = (32 * 3 * 128 + 128 + 2 * 128 + 128 * 32 + 32) + (2 * 64 + 64 * 8 + 8) + (8 * GEO + GEO)
    condproj = GEO * 32 + 32
    shared = attach(model, shared_conditioning_proj=True)
    assert count_parameters(shared) == 2 * per_layer + condproj
    shared.detach()
    assert count_parameters(attach(model, shared_conditioning_proj=False)) == 2 * (per_layer + condproj)


def test_condition_is_added_to_layer_output_and_seen_by_next_layer(tiny_hf):
    model = load(tiny_hf).eval()
    cond = attach(model, layers=(1,))
    raw, seen = {}, {}
    layers = model.encoder.layers
    # Hooks that return None observe without changing anything.
    h1 = layers[2].register_forward_pre_hook(lambda m, a: seen.update(in2=a[0]))
    h2 = model.encoder.frame_encoder["1"].register_forward_hook(lambda m, a, o: raw.update(out1=a[0]))
    with torch.no_grad():
        _, preds = run(model, cond)
    h1.remove(), h2.remove()
    expected = raw["out1"] + cond.condproj(1)(preds[1])[:, None, :]
    torch.testing.assert_close(seen["in2"], expected, rtol=0, atol=1e-6)
    assert (seen["in2"] - raw["out1"]).abs().max() > 1e-3


def test_branch_pools_over_encoder_valid_frames(tiny_hf):
    model = load(tiny_hf).eval()
    cond = attach(model, layers=(1,))
    seen = {}
    h = model.encoder.pooling["1"].register_forward_hook(lambda m, a, o: seen.update(kw=a))
    hk = model.encoder.pooling["1"].register_forward_pre_hook(
        lambda m, args, kwargs: seen.update(lengths=kwargs["feat_lengths"].tolist()), with_kwargs=True)
    with torch.no_grad():
        run(model, cond, lengths=torch.tensor([8000, 6000]))
    h.remove(), hk.remove()
    assert seen["lengths"] == [24, 18]


def test_out_of_range_layer_is_a_clear_error(tiny_hf):
    model = load(tiny_hf)
    with pytest.raises(ValueError, match=r"\[4\] out of range: the encoder has 4 layers.*0\.\.3"):
        GeoConditioning(model, [4], [branch()], GEO)


def test_layerdrop_is_disabled_while_attached(tiny_hf):
    model = load(tiny_hf, layerdrop=0.9).train()
    cond = attach(model, layers=(0, 1, 2, 3))
    assert model.config.layerdrop == 0.0
    for _ in range(3):
        _, preds = run(model, cond)
        assert sorted(preds) == [0, 1, 2, 3]
    cond.detach()
    assert model.config.layerdrop == 0.9


def test_nothing_is_kept_between_calls(tiny_hf):
    model = load(tiny_hf).eval()
    cond = attach(model)
    _, first = run(model, cond)
    assert cond._state is None
    _, second = run(model, cond, wav=torch.randn(2, 8000))
    assert first[1] is not second[1]
    assert not torch.equal(first[1], second[1])


def _grads(model, cond, main_only: bool):
    model.zero_grad(set_to_none=True)
    out, preds = run(model, cond)
    if main_only:
        out.last_hidden_state.pow(2).mean().backward()
    else:
        sum(p.pow(2).mean() for p in preds.values()).backward()
    named = dict(model.named_parameters())
    return {k: (None if v.grad is None else float(v.grad.abs().sum())) for k, v in named.items()}


@pytest.mark.parametrize("frozen", [False, True])
def test_gradient_flags(tiny_hf, frozen):
    model = load(tiny_hf).train()
    cond = attach(model, layers=(1,), cutoff_gradient_from_backbone=frozen,
                  cutoff_gradient_before_condproj=True)
    g = _grads(model, cond, main_only=True)
    condproj = "encoder.lang2vec_conditioning_projs.weight"
    if frozen:
        assert g[condproj] is None  # stays at its random initialisation
    else:
        assert g[condproj] > 0
    # The branch learns only from the auxiliary loss: the main loss never reaches it.
    for key in ["encoder.pooling.1.attention.0.weight", "encoder.projector.1.fc.weight",
                "encoder.lang2vec_head.1.0.weight"]:
        assert g[key] is None, key
    aux = _grads(model, cond, main_only=False)
    assert aux["encoder.lang2vec_head.1.0.weight"] > 0
    assert aux["encoder.layers.0.attention.q_proj.weight"] > 0  # trains layers 0..L
    assert aux["encoder.layers.1.feed_forward.output_dense.weight"] > 0
    assert aux["encoder.layers.2.feed_forward.output_dense.weight"] is None  # not beyond L
    assert aux[condproj] is None


def test_without_cutoff_main_loss_reaches_branch(tiny_hf):
    model = load(tiny_hf).train()
    cond = attach(model, layers=(1,), cutoff_gradient_before_condproj=False)
    g = _grads(model, cond, main_only=True)
    assert g["encoder.lang2vec_head.1.0.weight"] > 0
