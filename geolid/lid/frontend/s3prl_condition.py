"""The ``s3prl_condition`` frontend: a stock wav2vec2 with geo conditioning.

Registered under the name the published configs use. It needs neither s3prl nor a
transformers fork: the encoder is a stock ``Wav2Vec2Model`` and the conditioning
is attached with hooks (:mod:`geolid.layers.geo_conditioning`). What s3prl did
around the encoder is reproduced here because the published checkpoints depend
on it (SPEC section 3):

1. each waveform is normalised over its valid samples, as the HF feature
   extractor does, on the tensor's own device;
2. all hidden states are collected: the encoder input, the output of every layer
   but the last, and the last layer's output after the final LayerNorm (the
   transformers 4.x ``output_hidden_states`` semantics the models were trained on);
3. frame lengths: the branches pool over the encoder's own valid frames, while the
   features use s3prl's ``(samples - 1) // 320 + 1`` frames, the hidden states
   being padded to that length by repeating the last frame
   (``frame_length_convention: s3prl``, the published behaviour). The cleaner
   ``encoder`` convention uses the encoder's valid frames throughout;
4. a softmax-weighted sum over all hidden states (weights initialised to zero).

The module nesting ``upstream.upstream.model`` mirrors s3prl's so that the
state-dict keys read ``frontend.upstream.upstream.model.*`` as published.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from torch import nn

from geolid.layers.geo_conditioning import GeoBranch, GeoConditioning
from geolid.lid.frontend.wav2vec2_loading import load_wav2vec2

S3PRL_DOWNSAMPLE = 320  # s3prl's hard-coded hop for wav2vec2-style upstreams
_UPSTREAMS = ("hf_wav2vec2_condition", "hf_wav2vec2")
_FRAME_CONVENTIONS = ("s3prl", "encoder")


@dataclass
class FrontendOutput:
    feats: torch.Tensor                      # (B, T, C) weighted sum of hidden states
    feats_lens: torch.Tensor                 # (B,)
    geo_preds: Dict[int, torch.Tensor]       # layer -> (B, geo_dim), this call only
    encoder_lens: torch.Tensor               # (B,) valid encoder frames
    hidden_states: Optional[List[torch.Tensor]] = None  # when asked for


def normalize_waveforms(wavs: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Zero mean, unit variance over each row's first ``lengths`` samples; pad -> 0.

    Same arithmetic as ``Wav2Vec2FeatureExtractor(do_normalize=True)``, but on the
    tensor's device, with no round trip through numpy.
    """
    mask = torch.arange(wavs.size(1), device=wavs.device)[None, :] < lengths[:, None]
    # float64 statistics reproduce numpy's float32 results (the published
    # pipeline) to the last bit far more often than float32 sums do; the cost is
    # negligible next to the encoder.
    x = wavs.double().masked_fill(~mask, 0.0)
    n = lengths.clamp(min=1).to(x.dtype)[:, None]
    mean = x.sum(dim=1, keepdim=True) / n
    var = ((x - mean).masked_fill(~mask, 0.0) ** 2).sum(dim=1, keepdim=True) / n
    return ((x - mean) / torch.sqrt(var + eps)).masked_fill(~mask, 0.0).to(torch.float32)


class WeightedLayerSum(nn.Module):
    """s3prl's Featurizer for ``multilayer_feature: true``: softmax-weighted sum.

    Written here because s3prl 0.4 does not import with current torchaudio; the
    parameter is named ``weights`` like s3prl's so published checkpoints load.
    """

    def __init__(self, num_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, hidden_states: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(hidden_states) != self.weights.numel():
            raise ValueError(f"expected {self.weights.numel()} hidden states, got {len(hidden_states)}")
        w = torch.softmax(self.weights, dim=-1)
        out = w[0] * hidden_states[0]
        for i in range(1, len(hidden_states)):
            out = out + w[i] * hidden_states[i]
        return out


class HFWav2Vec2Upstream(nn.Module):
    """Holds the stock ``Wav2Vec2Model`` as ``.model`` and runs it with hooks."""

    def __init__(self, path_or_url: str, download_dir: Optional[str], load_weights: bool):
        super().__init__()
        self.model, self.do_normalize = load_wav2vec2(path_or_url, download_dir, load_weights)
        self.conditioning: Optional[GeoConditioning] = None

    @property
    def num_layers(self) -> int:
        return len(self.model.encoder.layers)

    def encoder_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.model._get_feat_extract_output_lengths(lengths).to(torch.long)

    def forward(self, wavs: torch.Tensor, lengths: torch.Tensor
                ) -> Tuple[List[torch.Tensor], torch.Tensor, Dict[int, torch.Tensor]]:
        """Hidden states (num_layers + 1), encoder frame lengths, geo predictions."""
        x = normalize_waveforms(wavs, lengths) if self.do_normalize else wavs
        attention_mask = (torch.arange(wavs.size(1), device=wavs.device)[None, :]
                          < lengths[:, None]).long()
        enc_lens = self.encoder_lengths(lengths)
        # HF's conv feature encoder marks its input as requiring grad in training
        # unless told it is frozen; with ESPnet's --freeze_param on it, that would
        # still run a full (useless) backward through the conv stack.
        conv = self.model.feature_extractor
        conv._requires_grad = any(p.requires_grad for p in conv.parameters())
        hidden: List[torch.Tensor] = []
        layers = self.model.encoder.layers
        # Recording hooks are added per call, after the conditioning hooks, so they
        # see each layer's conditioned output.
        handles = [layers[0].register_forward_pre_hook(lambda m, args: hidden.append(args[0]))]
        for layer in list(layers)[:-1]:
            handles.append(layer.register_forward_hook(
                lambda m, a, out: hidden.append(out[0] if isinstance(out, tuple) else out)))
        capture = (self.conditioning.capture(enc_lens) if self.conditioning is not None
                   else contextlib.nullcontext({}))
        try:
            with capture as geo_preds:
                out = self.model(x, attention_mask=attention_mask)
                geo_preds = dict(geo_preds)
        finally:
            for h in handles:
                h.remove()
        hidden.append(out.last_hidden_state)  # last layer after the final LayerNorm
        return hidden, enc_lens, geo_preds


class _S3prlNesting(nn.Module):
    """Only a name level: s3prl's ``S3PRLUpstream`` held the expert as ``.upstream``."""

    def __init__(self, upstream: HFWav2Vec2Upstream):
        super().__init__()
        self.upstream = upstream


def match_length(hidden: torch.Tensor, target: int) -> torch.Tensor:
    """Pad (repeat the last frame) or cut ``hidden`` (B, T, C) to ``target`` frames."""
    t = hidden.size(1)
    if t < target:
        return torch.cat([hidden, hidden[:, -1:].expand(-1, target - t, -1)], dim=1)
    return hidden[:, :target]


class S3prlConditionFrontend(AbsFrontend):
    """Frontend ``s3prl_condition`` (ESPnet ``AbsFrontend``).

    Args mirror ESPnet's ``S3prlFrontend`` so published configs load:
        fs: sample rate (16 kHz only).
        frontend_conf: ``{upstream: hf_wav2vec2_condition, path_or_url: ...}``.
        download_dir: hub cache folder.
        multilayer_feature: weighted sum over all hidden states (else last only).
        layer: a single hidden-state index instead of the weighted sum (-1: off).
        frame_length_convention: ``s3prl`` (published) or ``encoder``.
        load_pretrained_weights: False builds the architecture only (the task sets
            this when a checkpoint will provide the weights).
    """

    def __init__(
        self,
        fs: int = 16000,
        frontend_conf: Optional[dict] = None,
        download_dir: Optional[str] = None,
        multilayer_feature: bool = True,
        layer: int = -1,
        frame_length_convention: str = "s3prl",
        load_pretrained_weights: bool = True,
    ):
        super().__init__()
        if int(fs) != 16000:
            raise ValueError(f"s3prl_condition: fs must be 16000, got {fs}")
        conf = dict(frontend_conf or {})
        upstream = conf.pop("upstream", "hf_wav2vec2_condition")
        path_or_url = conf.pop("path_or_url", None)
        if upstream not in _UPSTREAMS:
            raise ValueError(f"frontend_conf.frontend_conf.upstream must be one of {_UPSTREAMS}, got '{upstream}'")
        if not path_or_url:
            raise ValueError("frontend_conf.frontend_conf.path_or_url is required (e.g. facebook/mms-1b)")
        if conf:
            raise ValueError(f"Unknown key(s) in frontend_conf.frontend_conf: {sorted(conf)}; "
                             "allowed: upstream, path_or_url")
        if frame_length_convention not in _FRAME_CONVENTIONS:
            raise ValueError(f"frame_length_convention must be one of {_FRAME_CONVENTIONS}")
        self.frame_length_convention = frame_length_convention
        self.multilayer_feature = multilayer_feature
        self.layer = layer
        self.upstream = _S3prlNesting(HFWav2Vec2Upstream(path_or_url, download_dir, load_pretrained_weights))
        n_states = self.hf.num_layers + 1
        if layer >= n_states:
            raise ValueError(f"frontend layer {layer} out of range (0..{n_states - 1})")
        if multilayer_feature and layer < 0:
            self.featurizer = WeightedLayerSum(n_states)

    @property
    def hf(self) -> HFWav2Vec2Upstream:
        return self.upstream.upstream

    def output_size(self) -> int:
        return self.hf.model.config.hidden_size

    def attach_geo_conditioning(self, layers: Sequence[int], branches: Sequence[GeoBranch],
                                geo_dim: int, **flags) -> GeoConditioning:
        """Build and attach the conditioning (flags: see :class:`GeoConditioning`)."""
        if self.hf.conditioning is not None:
            raise RuntimeError("geo conditioning is already attached")
        cond = GeoConditioning(self.hf.model, layers, branches, geo_dim, **flags).attach()
        self.hf.conditioning = cond
        return cond

    def feature_lengths(self, lengths: torch.Tensor, encoder_lens: torch.Tensor) -> torch.Tensor:
        if self.frame_length_convention == "s3prl":
            return torch.div(lengths - 1, S3PRL_DOWNSAMPLE, rounding_mode="floor") + 1
        return encoder_lens

    def forward_with_geo(self, wavs: torch.Tensor, lengths: torch.Tensor,
                         return_hidden_states: bool = False) -> FrontendOutput:
        lengths = lengths.to(wavs.device)
        hidden, enc_lens, geo_preds = self.hf(wavs, lengths)
        feats_lens = self.feature_lengths(lengths, enc_lens)
        if torch.compiler.is_exporting():
            # ONNX export: a Python int taken from a tensor would be frozen into
            # the graph. Callers pad to the longest input, so its frame count
            # follows from the padded width.
            target = ((wavs.size(1) - 1) // S3PRL_DOWNSAMPLE + 1
                      if self.frame_length_convention == "s3prl" else hidden[-1].size(1))
        else:
            target = int(feats_lens.max())
        matched = [match_length(h, target) for h in hidden]
        if self.layer >= 0:
            feats = matched[self.layer]
        elif self.multilayer_feature:
            feats = self.featurizer(matched)
        else:
            feats = matched[-1]
        return FrontendOutput(feats, feats_lens, geo_preds, enc_lens,
                              hidden if return_hidden_states else None)

    def forward(self, input: torch.Tensor, input_lengths: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        out = self.forward_with_geo(input, input_lengths)
        return out.feats, out.feats_lens
