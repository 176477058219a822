"""Length-sorted batching: similar lengths together, so little of a batch is padding.

On GPU a batch is planned by seconds of audio (:class:`geolid.inference.pipeline.BatchPolicy`): as many
windows as fit in ``batch_seconds`` of padded audio, which bounds memory whatever
the lengths (a fixed count of 8 would be 4 minutes of audio for 30 s windows and
a few seconds for short clips). On CPU batching does not pay (a padded sample
costs as much as a real one): one window a batch unless asked.

Padding is wasted compute (~12% of the published inference time on mixed 2-12 s
utterances in given order, measured with bench/inference_speed.py). Sorting by length and capping a batch by
its *padded* size (``max_batch_samples``) keeps both the waste and peak memory low.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

DEFAULT_BATCH_SIZE = 8         # a batch size asked for without a number (kept for callers)
DEFAULT_BATCH_SECONDS = 240.0  # padded audio per batch: bounds peak memory
DEFAULT_MAX_PADDING = 0.1      # a batch may be at most this share padding


def plan_batches(lengths: Sequence[int], max_batch_size: int = DEFAULT_BATCH_SIZE,
                 max_batch_samples: int = int(DEFAULT_BATCH_SECONDS * 16000),
                 max_padding: float = DEFAULT_MAX_PADDING) -> List[List[int]]:
    """Indices of ``lengths`` grouped into batches, longest first.

    A batch holds at most ``max_batch_size`` items, at most ``max_batch_samples``
    padded samples (``len(batch) * longest``) and at most ``max_padding`` of its
    samples are padding (on CPU a padded sample costs as much as a real one, and
    batching gains little, so padding must stay low); an item longer than
    ``max_batch_samples`` gets a batch of its own.
    """
    if max_batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {max_batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: -int(lengths[i]))
    batches: List[List[int]] = []
    current: List[int] = []
    longest = real = 0
    for i in order:
        n = int(lengths[i])
        longest_if_added = max(longest, n)
        padded = (len(current) + 1) * longest_if_added
        if current and (len(current) >= max_batch_size or padded > max_batch_samples
                        or 1 - (real + n) / padded > max_padding):
            batches.append(current)
            current, longest_if_added, real = [], n, 0
        current.append(i)
        longest = longest_if_added
        real += n
    if current:
        batches.append(current)
    return batches


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of the batched samples that are padding (0 = none)."""
    total = sum(len(b) * max(int(lengths[i]) for i in b) for b in batches if b)
    real = sum(int(lengths[i]) for b in batches for i in b)
    return 0.0 if total == 0 else 1.0 - real / total


def collate(waves: Sequence, device=None) -> Tuple["object", "object"]:
    """Zero-pad 1-D tensors into (B, T) on ``device``, with their lengths (B,) long.

    Each wave is moved to the device once; padding happens there (no numpy).
    """
    import torch

    lengths = torch.tensor([int(w.shape[-1]) for w in waves], dtype=torch.long)
    dev = torch.device(device) if device is not None else waves[0].device
    out = torch.zeros(len(waves), int(lengths.max()), dtype=torch.float32, device=dev)
    for i, w in enumerate(waves):
        out[i, : w.shape[-1]] = w.to(dev, non_blocking=True)
    return out, lengths.to(dev)
