"""ESPnet's ECAPA-TDNN encoder with a padding mask (registered as ``ecapa_tdnn``).

ESPnet's ``EcapaTdnnEncoder`` has no notion of padding: its dilated convolutions
read the padded frames of shorter utterances in a batch, and each block's
squeeze-excitation averages over them. A padded batch therefore gives each
utterance other features than it gets alone (issue 9: the demo's geo model fell
from 96% to 25% accuracy at batch 8).

Why a subclass and not masking in the model around ESPnet's modules: the mask has
to act *inside* every block (before each dilated convolution and in the
squeeze-excitation mean), which the model cannot reach through the block's
``forward``. The subclass keeps ESPnet's ``__init__`` untouched, so parameters and
state-dict keys are exactly ESPnet's and published checkpoints load unchanged;
only ``forward`` takes the frame lengths. Without lengths it runs ESPnet's own
forward, bit for bit (the published, batch-dependent behaviour).

With lengths, every utterance sees exactly what it sees alone:
* its padded frames are zero before every convolution with a kernel wider than
  one frame, which is what the convolution's own zero padding gives a
  single-utterance run at the end of the sequence;
* squeeze-excitation takes its mean over the utterance's valid frames only;
* the output's padded frames are zero.
BatchNorm in eval mode is a per-frame affine map and needs nothing. (In train
mode BatchNorm's batch statistics include the zeroed padded frames; see
docs/batching.md.)

Export-clean: the lengths stay tensors and only shape integers drive Python.
"""
from __future__ import annotations

from typing import Optional

import torch
from espnet2.spk.encoder.ecapa_tdnn_encoder import EcapaTdnnEncoder
from torch import nn


def frame_mask(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, 1, T) bool, True on each utterance's first ``lengths`` frames."""
    steps = torch.arange(num_frames, device=lengths.device)
    return (steps[None, :] < lengths[:, None]).unsqueeze(1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean of (B, C, T) over each utterance's valid frames: (B, C, 1)."""
    n = lengths.clamp(min=1).to(x.dtype).view(-1, 1, 1)
    return x.masked_fill(~mask, 0.0).sum(dim=-1, keepdim=True) / n


def _squeeze_excitation(se_module: nn.Module, x: torch.Tensor, mask: torch.Tensor,
                        lengths: torch.Tensor) -> torch.Tensor:
    """ESPnet's ``SEModule`` with the average pool taken over valid frames.

    ``se_module.se`` is ``Sequential(AdaptiveAvgPool1d(1), conv, relu, bn, conv,
    sigmoid)``; the pool (index 0) is replaced by :func:`masked_mean`.
    """
    gate = masked_mean(x, mask, lengths)
    for layer in list(se_module.se)[1:]:
        gate = layer(gate)
    return x * gate


def _masked_block(block: nn.Module, x: torch.Tensor, mask: torch.Tensor,
                  lengths: torch.Tensor) -> torch.Tensor:
    """ESPnet's ``EcapaBlock.forward`` (same arithmetic order), masked; ``x``'s
    padded frames must already be zero."""
    pad = ~mask
    residual = x
    out = block.bn1(block.relu(block.conv1(x))).masked_fill(pad, 0.0)
    spx = torch.split(out, block.width, 1)
    pieces = []
    sp = spx[0]
    for i in range(block.nums):
        if i > 0:
            sp = sp + spx[i]
        sp = block.bns[i](block.relu(block.convs[i](sp))).masked_fill(pad, 0.0)
        pieces.append(sp)
    pieces.append(spx[block.nums])
    out = block.bn3(block.relu(block.conv3(torch.cat(pieces, 1))))
    out = _squeeze_excitation(block.se, out, mask, lengths)
    return (out + residual).masked_fill(pad, 0.0)


class MaskedEcapaTdnnEncoder(EcapaTdnnEncoder):
    """``ecapa_tdnn`` whose ``forward`` also takes frame lengths (see module doc)."""

    accepts_lengths = True  # read by the LID model: pass it the feature lengths

    def forward(self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, T, D) features -> (B, output_size, T) frames; padded frames are 0
        when ``lengths`` (B,) is given, else ESPnet's unmasked forward."""
        if lengths is None:
            return super().forward(x)
        lengths = lengths.to(x.device)
        mask = frame_mask(lengths, x.size(1))
        pad = ~mask
        x = x.transpose(1, 2).masked_fill(pad, 0.0)
        x = self.bn(self.relu(self.conv(x))).masked_fill(pad, 0.0)
        x1 = _masked_block(self.layer1, x, mask, lengths)
        x2 = _masked_block(self.layer2, x + x1, mask, lengths)
        x3 = _masked_block(self.layer3, x + x1 + x2, mask, lengths)
        x = self.relu(self.layer4(torch.cat((x1, x2, x3), dim=1)))
        return x.masked_fill(pad, 0.0)
