"""The channel-last feature encoder computes what transformers' conv stack does."""
import pytest
import torch
from transformers import Wav2Vec2Config, Wav2Vec2Model

from geolid.export.feature_encoder import SCOPE, ChannelLastFeatureEncoder


def encoder(norm: str, bias: bool) -> Wav2Vec2Model:
    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, conv_dim=[24] * 7, conv_bias=bias,
                            conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
                            feat_extract_norm=norm, do_stable_layer_norm=norm == "layer",
                            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    model = Wav2Vec2Model(config).eval()
    with torch.no_grad():  # non-trivial norm affines, so a wrong axis shows
        for module in model.feature_extractor.modules():
            if isinstance(module, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model


@pytest.mark.parametrize("norm,bias", [("layer", True), ("group", False)])
@pytest.mark.parametrize("samples", [400, 401, 1999, 16000])
def test_same_frames_as_transformers(norm, bias, samples):
    model = encoder(norm, bias)
    wave = 0.1 * torch.randn(2, samples, generator=torch.Generator().manual_seed(samples))
    with torch.no_grad():
        want = model.feature_extractor(wave)
        got = ChannelLastFeatureEncoder(model.feature_extractor)(wave)
    assert got.shape == want.shape == (2, 24, int(model._get_feat_extract_output_lengths(samples)))
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_kernels_are_copied_in_the_matmul_layout():
    fe = encoder("layer", True).feature_extractor
    layers = getattr(ChannelLastFeatureEncoder(fe), SCOPE)
    assert len(layers) == 7
    conv = fe.conv_layers[1].conv  # (out 24, in 24, kernel 3)
    weight = layers[1].weight      # (kernel 3 * in 24, out 24): tap-major rows
    assert weight.shape == (72, 24)
    assert torch.equal(weight[24 * 2 + 5], conv.weight[:, 5, 2])
    assert not weight.requires_grad


def test_prepare_for_export_swaps_attention_and_front_end_once():
    from geolid.export.onnx import prepare_for_export

    holder = torch.nn.ModuleDict({"w2v": encoder("layer", True)})
    wave = 0.1 * torch.randn(1, 8000, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = holder["w2v"](wave).last_hidden_state
        prepare_for_export(prepare_for_export(holder))
        got = holder["w2v"](wave).last_hidden_state
    w2v = holder["w2v"]
    assert w2v.config._attn_implementation == "eager"
    assert isinstance(w2v.feature_extractor, ChannelLastFeatureEncoder)
    assert len(getattr(w2v.feature_extractor, SCOPE)) == 7  # wrapped once, not twice
    assert torch.allclose(got, want, atol=1e-5)


def test_prepare_for_export_needs_a_wav2vec2():
    from geolid.export.onnx import ExportError, prepare_for_export

    with pytest.raises(ExportError, match="Wav2Vec2Model"):
        prepare_for_export(torch.nn.Linear(2, 2))


def test_scope_names_the_layers_attribute():
    # quantisation matches node scopes on SCOPE, so it must be the attribute's name
    fe = ChannelLastFeatureEncoder(encoder("layer", True).feature_extractor)
    assert dict(fe.named_children()).keys() == {SCOPE}
