"""The scheduler in front of the model, with a stand-in for ``predict_iter`` (no model).

The stand-in blocks its first call until released, so what waits meanwhile is known
exactly: batching and bounds are checked without any timing.
"""
from __future__ import annotations

import threading
from concurrent.futures import CancelledError
from types import SimpleNamespace

import pytest

from geolid.serve.scheduler import Closed, Overloaded, Scheduler


class Gate:
    """``predict_iter`` that records each call and holds the first one until ``open()``."""

    def __init__(self, fail_on=None):
        self.calls = []
        self.entered = threading.Event()
        self._open = threading.Event()
        self.fail_on = fail_on

    def __call__(self, keyed, options=None):
        keyed = list(keyed)
        self.calls.append(([x for _, x in keyed], options))
        self.entered.set()
        self._open.wait(60)
        if self.fail_on is not None and self.fail_on in [x for _, x in keyed]:
            raise RuntimeError("model failed")
        return [SimpleNamespace(key=k, value=x, options=options) for k, x in keyed]

    def open(self):
        self._open.set()


def start(gate, **kw):
    s = Scheduler(gate, **kw)
    first = s.submit("first", "x0", "o")
    assert gate.entered.wait(60)          # the worker is inside the first call now
    return s, first


def test_requests_that_wait_together_are_one_batch():
    gate = Gate()
    s, first = start(gate, max_batch=4, batch_wait_s=0.0)
    futures = [s.submit(f"k{i}", f"x{i}", "o") for i in (1, 2, 3)]
    assert s.depth().waiting == 3 and s.depth().scoring == 1
    gate.open()
    results = [f.result(60) for f in [first] + futures]
    s.close(60)
    assert [c[0] for c in gate.calls] == [["x0"], ["x1", "x2", "x3"]]
    # each caller gets its own prediction, under its own key
    assert [(r.key, r.value) for r in results] == [("first", "x0"), ("k1", "x1"), ("k2", "x2"), ("k3", "x3")]
    assert s.batches == 2 and s.jobs_done == 4


def test_batches_are_capped():
    gate = Gate()
    s, first = start(gate, max_batch=2)
    futures = [s.submit(f"k{i}", f"x{i}", "o") for i in (1, 2, 3)]
    gate.open()
    [f.result(60) for f in futures]
    s.close(60)
    assert [c[0] for c in gate.calls] == [["x0"], ["x1", "x2"], ["x3"]]


def test_one_call_per_set_of_options():
    gate = Gate()
    s, first = start(gate, max_batch=8)
    fa, fb, fc = s.submit("a", "xa", "o1"), s.submit("b", "xb", "o2"), s.submit("c", "xc", "o1")
    gate.open()
    assert [f.result(60).options for f in (fa, fb, fc)] == ["o1", "o2", "o1"]
    s.close(60)
    assert gate.calls[1:] == [(["xa", "xc"], "o1"), (["xb"], "o2")]


def test_full_queue_is_refused_with_retry_after():
    gate = Gate()
    s, first = start(gate, max_batch=1, max_waiting=2)
    s.submit("a", "xa", "o"), s.submit("b", "xb", "o")
    with pytest.raises(Overloaded) as e:
        s.submit("c", "xc", "o")
    assert isinstance(e.value.retry_after, int) and 1 <= e.value.retry_after <= 60
    gate.open()
    s.close(60)


def test_model_error_reaches_every_caller_of_the_call_and_the_worker_goes_on():
    gate = Gate(fail_on="bad")
    s, first = start(gate, max_batch=4)
    f1, f2 = s.submit("a", "bad", "o"), s.submit("b", "ok", "o")
    gate.open()
    assert first.result(60).value == "x0"
    for f in (f1, f2):
        with pytest.raises(RuntimeError, match="model failed"):
            f.result(60)
    assert s.submit("c", "after", "o").result(60).value == "after"
    s.close(60)


def test_close_finishes_waiting_jobs_then_refuses():
    gate = Gate()
    s, first = start(gate, max_batch=1)
    waiting = s.submit("a", "xa", "o")
    closer = threading.Thread(target=s.close, args=(60,))
    closer.start()
    gate.open()
    closer.join(60)
    assert first.result(0).value == "x0" and waiting.result(0).value == "xa"
    with pytest.raises(Closed):
        s.submit("b", "xb", "o")


def test_cancelled_job_costs_no_forward_pass():
    gate = Gate()
    s, first = start(gate, max_batch=4)
    gone, kept = s.submit("a", "xa", "o"), s.submit("b", "xb", "o")
    assert gone.cancel()
    gate.open()
    assert kept.result(60).value == "xb"
    with pytest.raises(CancelledError):
        gone.result(0)
    s.close(60)
    assert [c[0] for c in gate.calls] == [["x0"], ["xb"]]
