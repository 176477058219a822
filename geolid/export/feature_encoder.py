"""wav2vec2's convolutional feature encoder as channel-last MatMuls, for export.

transformers' ``Wav2Vec2FeatureEncoder`` runs seven ``Conv1d`` layers on
(batch, channels, time) and, in the layer-norm variant MMS uses, transposes to
(batch, time, channels) and back around every LayerNorm. In ONNX Runtime on CPU
that front end is a quarter of a base-size model's time: the convolutions
cannot be dynamically quantised quickly (``ConvInteger``, tried on the large
model, ran slower than float Conv) and the fourteen transposes copy the
largest tensors of the graph.

This module computes the same function channel-last: each convolution is an
im2col (``unfold``; for the waveform an identity convolution, because
torch.export cannot prove the shape guards of ``unfold`` there) followed by
one MatMul with the reshaped kernel held as a parameter, so the LayerNorms need
no transposes and ``quantize_dynamic`` sees ordinary MatMuls with weight
initialisers. Only the export uses it (torch keeps transformers' module); the
weights are copied from the stock module at export time, so checkpoints are
untouched.
"""
from __future__ import annotations

import torch
from torch import nn

# The attribute holding the layers: quantisation finds their MatMuls by this module path.
SCOPE = "channel_last_layers"


class _ConvAsMatMul(nn.Module):
    """One ``Conv1d`` (+ its norm and activation) on (batch, time, channels)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        conv: nn.Conv1d = layer.conv
        self.kernel, self.stride = int(conv.kernel_size[0]), int(conv.stride[0])
        # (out, in, k) -> (k * in, out): rows ordered kernel tap first, as the windows below
        weight = conv.weight.detach().permute(2, 1, 0).reshape(-1, conv.out_channels)
        self.weight = nn.Parameter(weight.contiguous(), requires_grad=False)
        self.bias = (nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
                     if conv.bias is not None else None)
        norm = getattr(layer, "layer_norm", None)
        self.layer_norm = norm if isinstance(norm, nn.LayerNorm) else None
        self.group_norm = norm if isinstance(norm, nn.GroupNorm) else None
        self.activation = layer.activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # the waveform (B, T): windows by an identity convolution
            eye = torch.eye(self.kernel, dtype=x.dtype, device=x.device)[:, None, :]
            windows = nn.functional.conv1d(x[:, None, :], eye, stride=self.stride).transpose(1, 2)
        else:  # (B, frames, kernel * C); ONNX's unfold gathers taps first, so this needs no copy
            windows = x.unfold(1, self.kernel, self.stride).transpose(2, 3).flatten(2)
        y = torch.matmul(windows, self.weight)
        if self.bias is not None:
            y = y + self.bias
        if self.layer_norm is not None:
            y = self.layer_norm(y)
        elif self.group_norm is not None:  # one group per channel: statistics over time
            mean = y.mean(dim=1, keepdim=True)
            var = (y - mean).pow(2).mean(dim=1, keepdim=True)
            y = (y - mean) / torch.sqrt(var + self.group_norm.eps)
            y = y * self.group_norm.weight + self.group_norm.bias
        return self.activation(y)


class ChannelLastFeatureEncoder(nn.Module):
    """Drop-in for ``Wav2Vec2FeatureEncoder.forward``: (B, T) -> (B, C, frames)."""

    def __init__(self, feature_encoder: nn.Module):
        super().__init__()
        self.channel_last_layers = nn.ModuleList(
            [_ConvAsMatMul(layer) for layer in feature_encoder.conv_layers])  # named SCOPE

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        x = input_values
        for layer in self.channel_last_layers:
            x = layer(x)
        # transformers transposes back to (B, frames, C) at once; the pair cancels in ORT
        return x.transpose(1, 2)
