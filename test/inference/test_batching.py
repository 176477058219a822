"""Length-sorted batching keeps padding low and respects both caps."""
from __future__ import annotations

import numpy as np
import torch

from geolid.inference.batching import collate, padding_fraction, plan_batches


def test_every_item_once_and_caps_respected():
    rng = np.random.default_rng(0)
    lengths = rng.integers(2 * 16000, 12 * 16000, size=50).tolist()
    batches = plan_batches(lengths, max_batch_size=8, max_batch_samples=60 * 16000)
    assert sorted(i for b in batches for i in b) == list(range(50))
    for b in batches:
        assert len(b) <= 8
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 60 * 16000


def test_sorting_reduces_padding():
    rng = np.random.default_rng(1)
    lengths = rng.integers(2 * 16000, 12 * 16000, size=64).tolist()
    given_order = [list(range(i, i + 8)) for i in range(0, 64, 8)]
    sorted_batches = plan_batches(lengths, 8, 10 ** 9)
    assert padding_fraction(lengths, sorted_batches) < 0.1
    assert padding_fraction(lengths, given_order) > 0.25


def test_long_item_alone():
    assert plan_batches([100, 5, 4], 8, 50) == [[0], [1, 2]]


def test_collate_pads_with_zeros():
    a, b = torch.ones(3), torch.full((5,), 2.0)
    x, n = collate([a, b], "cpu")
    assert x.shape == (2, 5) and n.tolist() == [3, 5]
    assert x[0].tolist() == [1, 1, 1, 0, 0] and x[1].tolist() == [2] * 5


def test_padding_cap():
    lengths = [100, 95, 91, 80, 79, 50]
    batches = plan_batches(lengths, max_batch_size=8, max_batch_samples=10 ** 6, max_padding=0.1)
    assert batches == [[0, 1, 2, 3], [4], [5]]  # 8.5% padding, then 11% would be too much
    for b in batches:
        assert padding_fraction(lengths, [b]) <= 0.1


def test_gpu_batches_are_planned_by_seconds():
    from geolid.inference.options import PredictOptions
    from geolid.inference.pipeline import BatchPolicy

    def plan(lengths, on_gpu, **kw):
        return BatchPolicy.for_device(on_gpu, PredictOptions(**kw)).batches(lengths)

    short = [16000] * 40  # 40 clips of 1 s
    assert plan(short, True, batch_seconds=20) == [list(range(20)), list(range(20, 40))]
    long = [30 * 16000] * 5  # 30 s windows: only 2 fit in 60 s
    assert [len(b) for b in plan(long, True, batch_seconds=60)] == [2, 2, 1]
    assert all(len(b) == 1 for b in plan(short, False))
    assert len(plan(short, False, batch_size=8)) == 5
    # the published recipe's batches: consecutive, in input order, whatever the lengths
    mixed = [3, 9, 1, 7, 5]
    assert BatchPolicy(size=4, consecutive=True).batches(mixed) == [[0, 1, 2, 3], [4]]


def test_gpu_path_runs_on_cpu_with_bf16_autocast(lid, monkeypatch):
    """The GPU code path (batches by seconds, bf16 autocast, one host copy per batch),
    exercised on CPU: same answers as fp32 batch 1, in a single batch."""
    from geolid.inference.api import GeoLID
    from geolid.inference.scorer import TorchScorer
    from .conftest import noise

    waves = [noise(1.0 + 0.01 * i, seed=i) for i in range(12)]  # < 10% padding together
    want = lid.predict(waves, sample_rate=16000, locate=False)

    class GpuLike(TorchScorer):
        on_gpu = True

    gpu_like = GeoLID(GpuLike(lid.model, lid.languages, "cpu", "bfloat16", lid.geo_type), lid.folder)
    calls = []
    score = lid.model.score
    monkeypatch.setattr(lid.model, "score", lambda s, n: calls.append(s.shape) or score(s, n))
    got = gpu_like.predict(waves, sample_rate=16000, locate=False, batch_seconds=60)
    assert len(calls) == 1 and calls[0][0] == 12  # one batch: 12 windows < 60 s padded
    assert gpu_like.dtype == "bfloat16"
    for a, b in zip(got, want):
        assert abs(a.top_k[0].probability - dict((s.code, s.probability) for s in b.top_k)
                   .get(a.top_k[0].code, 0.0)) < 0.05
