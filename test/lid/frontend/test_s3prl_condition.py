import numpy as np
import pytest
import torch
from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

from geolid.lid.frontend.s3prl_condition import (S3prlConditionFrontend, WeightedLayerSum,
                                                 match_length, normalize_waveforms)
from geolid.lid.frontend.wav2vec2_loading import (BUNDLED_CONFIGS, PretrainedModelUnavailable,
                                                  load_wav2vec2)


def frontend(tiny_hf, **kw):
    return S3prlConditionFrontend(frontend_conf={"upstream": "hf_wav2vec2_condition",
                                                 "path_or_url": str(tiny_hf)}, **kw).eval()


def test_normalisation_matches_hf_feature_extractor():
    g = torch.Generator().manual_seed(0)
    wavs = [torch.randn(16000, generator=g) * 3 + 1, torch.randn(9000, generator=g) * 0.1]
    batch = torch.zeros(2, 16000)
    batch[0], batch[1, :9000] = wavs[0], wavs[1]
    fe = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    ref = fe([w.numpy() for w in wavs], sampling_rate=16000, padding=True, return_tensors="pt")
    got = normalize_waveforms(batch, torch.tensor([16000, 9000]))
    torch.testing.assert_close(got, ref["input_values"], rtol=1e-5, atol=1e-5)
    assert got[1, 9000:].abs().max() == 0


def test_frame_lengths_follow_both_conventions(tiny_hf):
    wav, lens = torch.randn(3, 16000), torch.tensor([16000, 12000, 8000])
    with torch.no_grad():
        s3 = frontend(tiny_hf).forward_with_geo(wav, lens, return_hidden_states=True)
        enc = frontend(tiny_hf, frame_length_convention="encoder").forward_with_geo(wav, lens)
    assert s3.encoder_lens.tolist() == [49, 37, 24]
    assert s3.feats_lens.tolist() == [50, 38, 25] and s3.feats.shape == (3, 50, 32)
    assert enc.feats_lens.tolist() == [49, 37, 24] and enc.feats.shape == (3, 49, 32)
    # The s3prl convention pads by repeating the encoder's last frame.
    torch.testing.assert_close(s3.feats[:, 49], s3.feats[:, 48])


def test_hidden_states_have_41x_semantics(tiny_hf):
    fe = frontend(tiny_hf)
    wav, lens = torch.randn(2, 8000), torch.tensor([8000, 8000])
    with torch.no_grad():
        out = fe.forward_with_geo(wav, lens, return_hidden_states=True)
        ref = Wav2Vec2Model.from_pretrained(str(tiny_hf)).eval()(
            normalize_waveforms(wav, lens), attention_mask=torch.ones(2, 8000, dtype=torch.long),
            output_hidden_states=True)
    hs = out.hidden_states
    assert len(hs) == 5  # input + 3 raw layer outputs + layer-normed last
    torch.testing.assert_close(hs[-1], ref.last_hidden_state)  # final LayerNorm applied
    for i in range(4):
        torch.testing.assert_close(hs[i], ref.hidden_states[i])


def test_featurizer_starts_uniform_and_sums_all_states(tiny_hf):
    fe = frontend(tiny_hf)
    assert torch.equal(fe.featurizer.weights, torch.zeros(5))
    wav, lens = torch.randn(1, 8000), torch.tensor([8000])
    with torch.no_grad():
        out = fe.forward_with_geo(wav, lens, return_hidden_states=True)
    mean = torch.stack([match_length(h, 25) for h in out.hidden_states]).mean(0)
    torch.testing.assert_close(out.feats, mean)


def test_weighted_layer_sum_checks_count():
    with pytest.raises(ValueError, match="expected 3 hidden states, got 2"):
        WeightedLayerSum(3)([torch.zeros(1), torch.zeros(1)])


def test_single_layer_selection(tiny_hf):
    fe = frontend(tiny_hf, layer=2)
    assert not hasattr(fe, "featurizer")
    with torch.no_grad():
        out = fe.forward_with_geo(torch.randn(1, 8000), torch.tensor([8000]), return_hidden_states=True)
    torch.testing.assert_close(out.feats, match_length(out.hidden_states[2], 25))


def test_bad_frontend_conf_keys(tiny_hf):
    with pytest.raises(ValueError, match=r"Unknown key\(s\) in frontend_conf.frontend_conf: \['path_or_ulr'\]"):
        S3prlConditionFrontend(frontend_conf={"path_or_url": str(tiny_hf), "path_or_ulr": "x"})
    with pytest.raises(ValueError, match="upstream must be one of"):
        S3prlConditionFrontend(frontend_conf={"upstream": "wavlm", "path_or_url": str(tiny_hf)})
    with pytest.raises(ValueError, match="fs must be 16000"):
        S3prlConditionFrontend(fs=8000, frontend_conf={"path_or_url": str(tiny_hf)})


def test_missing_local_folder_is_explained(tmp_path):
    with pytest.raises(PretrainedModelUnavailable, match="does not exist"):
        load_wav2vec2(str(tmp_path / "nope" / "x"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PretrainedModelUnavailable, match="no config.json"):
        load_wav2vec2(str(tmp_path / "empty"))


def test_hub_download_failure_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PretrainedModelUnavailable) as e:
        load_wav2vec2("facebook/mms-1b", cache_dir=str(tmp_path))
    assert "hf download facebook/mms-1b" in str(e.value)
    with pytest.raises(PretrainedModelUnavailable, match="not cached locally and is not bundled"):
        load_wav2vec2("someone/unknown-w2v2", cache_dir=str(tmp_path), load_weights=False)


def test_mms1b_architecture_builds_offline_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with torch.device("meta"):
        model, do_norm = load_wav2vec2("facebook/mms-1b", cache_dir=str(tmp_path), load_weights=False)
    c = model.config
    assert (c.hidden_size, c.num_hidden_layers, c.intermediate_size) == (1280, 48, 5120)
    assert c.do_stable_layer_norm and c.layerdrop == 0.0 and do_norm
    assert int(np.prod(c.conv_stride)) == 320
    assert BUNDLED_CONFIGS["facebook/mms-1b"]["num_conv_pos_embeddings"] == 128
