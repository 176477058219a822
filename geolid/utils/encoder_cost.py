"""What a wav2vec2 forward over a data set costs on the CPU (recipe stage 4).

``lid.sh --stats_with_model true`` collects statistics through the model: every
training and validation utterance goes through the frontend's encoder on CPU jobs
(``--ngpu 0``, as ESPnet's template). For MMS-1B that is measured here, not guessed:

``bench/stats_cost.py`` (MMS-1B's width: hidden 1280, FFN 5120, 16 heads, 512-channel
conv feature encoder, positional conv 128/16; fp32, inference mode, batch 1, 10 s
utterances, 2 threads on a 2-core AMD EPYC (AVX2), torch 2.14.1, best of 7 runs on a
machine shared with other jobs) gave:

* the fixed part (conv feature encoder, projection, positional conv):
  :data:`MEASURED_FIXED_S` s per second of audio;
* one transformer layer: :data:`MEASURED_LAYER_S` s per second of audio;

so MMS-1B (48 layers) takes about :data:`MMS1B_S_PER_AUDIO_S` (1.6) s per second of
audio, i.e. about 1,600 hours per 1,000 hours of audio on two cores (an earlier run under
heavier load gave 1.86 s; the whole 4-layer stand-in took 15% more than its timed parts,
so this is if anything low). VoxLingua107's training set (6,628 h) would take about
11,000 such hours: over a year here, months on a 16-core machine even with perfect
scaling (which CPU inference does not reach).

Other shapes are scaled by their FLOPs from those figures (the conv stack by its
channels, kernels and strides, the layers by width and FFN size): an estimate, good to
a small factor, that ignores how a machine's cores and vector units differ.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

# bench/stats_cost.py --threads 2 --seconds 10 --repeats 7 (see the module doc)
MEASURED_THREADS = 2
MEASURED_FIXED_S = 0.134    # s of compute per s of audio: conv encoder + projection + pos conv
MEASURED_LAYER_S = 0.0308   # s of compute per s of audio: one 1280-wide transformer layer
MEASURED_UTT_S = 10.0       # utterance length of the measurement (attention grows with it)


@dataclass(frozen=True)
class EncoderShape:
    """The sizes of a wav2vec2-style encoder that decide its cost."""

    hidden: int
    layers: int
    ffn: int
    conv_dim: Tuple[int, ...] = (512,) * 7
    conv_kernel: Tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: Tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    pos_kernel: int = 128
    pos_groups: int = 16

    @property
    def params(self) -> int:
        """Parameters, roughly (weights of the conv stack, layers and positional conv)."""
        conv, c_in = 0, 1
        for c, k in zip(self.conv_dim, self.conv_kernel):
            conv += c_in * c * k
            c_in = c
        layer = 4 * self.hidden ** 2 + 2 * self.hidden * self.ffn
        pos = self.hidden * self.hidden // self.pos_groups * self.pos_kernel
        return conv + c_in * self.hidden + pos + self.layers * layer

    def flops_fixed(self, seconds: float = MEASURED_UTT_S) -> float:
        """Multiply-adds x 2 of the conv feature encoder, projection and positional conv."""
        n, c_in, total = seconds * 16000, 1, 0.0
        for c, k, s in zip(self.conv_dim, self.conv_kernel, self.conv_stride):
            n = (n - k) // s + 1
            total += 2 * n * c_in * c * k
            c_in = c
        total += 2 * n * c_in * self.hidden
        total += 2 * n * self.hidden * (self.hidden // self.pos_groups) * self.pos_kernel
        return total

    def frames(self, seconds: float = MEASURED_UTT_S) -> float:
        n = seconds * 16000
        for k, s in zip(self.conv_kernel, self.conv_stride):
            n = (n - k) // s + 1
        return n

    def flops_layer(self, seconds: float = MEASURED_UTT_S) -> float:
        """Multiply-adds x 2 of one transformer layer (projections, FFN, attention)."""
        t, d = self.frames(seconds), self.hidden
        return 2 * t * (4 * d * d + 2 * d * self.ffn) + 4 * t * t * d


MMS_1B = EncoderShape(hidden=1280, layers=48, ffn=5120)
MMS1B_S_PER_AUDIO_S = MEASURED_FIXED_S + MMS_1B.layers * MEASURED_LAYER_S
# Hub ids whose shape is known without a download.
KNOWN_SHAPES = {
    "facebook/mms-1b": MMS_1B, "facebook/mms-1b-all": MMS_1B, "facebook/mms-1b-fl102": MMS_1B,
    "facebook/mms-300m": EncoderShape(hidden=1024, layers=24, ffn=4096),
    "facebook/wav2vec2-xls-r-1b": MMS_1B,
    "facebook/wav2vec2-xls-r-300m": EncoderShape(hidden=1024, layers=24, ffn=4096),
}


def shape_from_config(config: Mapping) -> EncoderShape:
    """From a Hugging Face ``Wav2Vec2Config`` (its ``config.json`` as a dict)."""
    return EncoderShape(
        hidden=int(config["hidden_size"]), layers=int(config["num_hidden_layers"]),
        ffn=int(config["intermediate_size"]),
        conv_dim=tuple(config.get("conv_dim", (512,) * 7)),
        conv_kernel=tuple(config.get("conv_kernel", (10, 3, 3, 3, 3, 2, 2))),
        conv_stride=tuple(config.get("conv_stride", (5, 2, 2, 2, 2, 2, 2))),
        pos_kernel=int(config.get("num_conv_pos_embeddings", 128)),
        pos_groups=int(config.get("num_conv_pos_embedding_groups", 16)))


def encoder_of(lid_config: Mapping) -> Tuple[Optional[str], Optional[EncoderShape]]:
    """(name, shape) of the SSL encoder an ESPnet LID config's frontend loads; the shape
    is None when it is unknown (no local ``config.json`` and not a known hub id), the
    name None when the frontend loads no such encoder (e.g. fbank)."""
    fconf = lid_config.get("frontend_conf") or {}
    inner = fconf.get("frontend_conf") or {}
    name = inner.get("path_or_url")
    if not name or not str(lid_config.get("frontend", "")).startswith("s3prl"):
        return None, None
    name = str(name)
    local = Path(name) / "config.json"
    if local.is_file():
        return name, shape_from_config(json.loads(local.read_text(encoding="utf-8")))
    return name, KNOWN_SHAPES.get(name.rstrip("/"))


def compute_seconds(shape: EncoderShape, audio_seconds: float) -> float:
    """Seconds of compute at :data:`MEASURED_THREADS` threads to run ``shape`` over
    ``audio_seconds`` of audio, scaled by FLOPs from the MMS-1B-width measurement."""
    fixed = MEASURED_FIXED_S * shape.flops_fixed() / MMS_1B.flops_fixed()
    layer = MEASURED_LAYER_S * shape.flops_layer() / MMS_1B.flops_layer()
    return audio_seconds * (fixed + shape.layers * layer)


def hours_per_1000h(shape: EncoderShape) -> float:
    return compute_seconds(shape, 1000 * 3600) / 3600


def stats_cost(shape: EncoderShape, audio_seconds: float, cores: int,
               jobs: int) -> dict:
    """The estimate lid.sh stage 4 shows: hours at the measured 2 threads, wall hours on
    ``cores`` cores assuming perfect scaling (optimistic), and the memory of ``jobs``
    jobs that each hold the fp32 encoder."""
    base_h = compute_seconds(shape, audio_seconds) / 3600
    return {"audio_hours": audio_seconds / 3600, "hours_per_1000h": hours_per_1000h(shape),
            "two_core_hours": base_h,
            "wall_hours": base_h * MEASURED_THREADS / max(1, cores),
            "memory_gb": jobs * 4 * shape.params / 1e9}


def audio_seconds(utt2num_samples: Sequence[os.PathLike], sample_rate: int = 16000) -> float:
    """Total audio of the sets whose ``utt2num_samples`` are given."""
    total = 0
    for path in utt2num_samples:
        with open(path, encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 2:
                    total += int(fields[1])
    return total / sample_rate
