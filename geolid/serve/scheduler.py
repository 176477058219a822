"""The queue in front of the one model of a ``geolid serve`` process.

Requests become :class:`Job` s (a decoded waveform and its options). One worker
thread owns the model: it takes the oldest waiting job, then keeps collecting
jobs until it holds ``max_batch`` of them or ``batch_wait`` has passed since it
took the first, and scores them through :meth:`GeoLID.predict_iter` (jobs with
different options go through separate calls, since one call has one set of
options). On a GPU the defaults (16 jobs, 10 ms) batch the requests that arrive
together; on the CPU (8 jobs, no wait) a request never waits for company: the
worker takes what is already waiting, oldest first, so an idle server answers at
once and a busy one shares per-call costs.

How many jobs may wait is bounded by the caller (the app admits at most
``max_batch + max_queue`` requests at a time and answers the others 503);
:meth:`Scheduler.submit` refuses past ``max_waiting`` as a second fence.

Nothing here knows about HTTP: results and errors come back on
:class:`concurrent.futures.Future` s.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, List, Optional

logger = logging.getLogger(__name__)

EWMA = 0.2      # weight of the newest batch in the per-request time estimate


class Overloaded(Exception):
    """No room for another job; ``retry_after`` seconds is the estimated wait."""

    def __init__(self, retry_after: int):
        super().__init__(f"over capacity; retry after {retry_after} s")
        self.retry_after = retry_after


class Closed(Exception):
    """The scheduler is shutting down and takes no new jobs."""


@dataclass
class Job:
    key: str
    input: object                   # what predict_iter takes: (waveform, sample_rate), a path, ...
    options: object                 # PredictOptions
    future: Future = field(default_factory=Future)


@dataclass
class Depth:
    waiting: int
    scoring: int


class Scheduler:
    """One worker thread scoring :class:`Job` s in bounded batches (see the module docstring).

    ``predict_iter``: ``GeoLID.predict_iter`` or anything with its signature
    (``(keyed_inputs, options=...)`` -> one Prediction per input, in order).
    """

    def __init__(self, predict_iter: Callable, max_batch: int = 1, batch_wait_s: float = 0.0,
                 max_waiting: Optional[int] = None, name: str = "geolid-scorer"):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.predict_iter = predict_iter
        self.max_batch, self.batch_wait_s = max_batch, batch_wait_s
        self.max_waiting = max_waiting
        self._waiting: Deque[Job] = deque()
        self._scoring = 0
        self._closing = False
        self._cv = threading.Condition()
        self._seconds_per_job: Optional[float] = None
        self.batches = 0            # batches scored (for /health and tests)
        self.jobs_done = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ callers
    def submit(self, key: str, x, options) -> Future:
        job = Job(key, x, options)
        with self._cv:
            if self._closing:
                raise Closed("shutting down")
            if self.max_waiting is not None and len(self._waiting) >= self.max_waiting:
                raise Overloaded(self.retry_after(len(self._waiting) + self._scoring))
            self._waiting.append(job)
            self._cv.notify_all()
        return job.future

    def depth(self) -> Depth:
        with self._cv:
            return Depth(len(self._waiting), self._scoring)

    def retry_after(self, jobs_ahead: int) -> int:
        """Whole seconds until ``jobs_ahead`` jobs are likely done (1 to 60)."""
        per_job = self._seconds_per_job or 1.0
        from geolid.serve.limits import MAX_RETRY_AFTER_S

        est = per_job * max(jobs_ahead, 1) / self.max_batch
        return int(min(MAX_RETRY_AFTER_S, max(1, math.ceil(est))))

    def close(self, timeout: Optional[float] = None) -> None:
        """Take no new jobs, finish those waiting, stop the worker."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._thread.join(timeout)

    # ------------------------------------------------------------- worker
    def _take_batch(self) -> Optional[List[Job]]:
        with self._cv:
            while not self._waiting and not self._closing:
                self._cv.wait()
            if not self._waiting:
                return None                             # closing, nothing left
            batch = [self._waiting.popleft()]
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.max_batch:
                if self._waiting:
                    batch.append(self._waiting.popleft())
                    continue
                left = deadline - time.monotonic()
                if left <= 0 or self._closing:
                    break
                self._cv.wait(left)
            # a client that went away before its turn does not cost a forward pass
            batch = [j for j in batch if j.future.set_running_or_notify_cancel()]
            self._scoring = len(batch)
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            t0 = time.perf_counter()
            try:
                if batch:
                    self._score(batch)
            finally:
                with self._cv:
                    self._scoring = 0
                    if batch:
                        self.batches += 1
                        self.jobs_done += len(batch)
                        per_job = (time.perf_counter() - t0) / len(batch)
                        self._seconds_per_job = (per_job if self._seconds_per_job is None
                                                 else (1 - EWMA) * self._seconds_per_job + EWMA * per_job)

    def _score(self, batch: List[Job]) -> None:
        groups: Dict[object, List[Job]] = {}
        for job in batch:
            groups.setdefault(job.options, []).append(job)
        for options, jobs in groups.items():
            keyed = [(f"job{i}", j.input) for i, j in enumerate(jobs)]
            try:
                preds = list(self.predict_iter(keyed, options=options))
                if len(preds) != len(jobs):
                    raise RuntimeError(f"predict_iter returned {len(preds)} predictions for {len(jobs)} inputs")
            except BaseException as e:  # the model failed: every job of the call hears it
                logger.exception("scoring a batch of %d failed", len(jobs))
                for j in jobs:
                    j.future.set_exception(e)
                continue
            for j, p in zip(jobs, preds):
                p.key = j.key
                j.future.set_result(p)
