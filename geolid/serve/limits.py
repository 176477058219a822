"""The limits of ``geolid serve`` and their defaults (docs/serve.md, "Limits").

Import-light (no torch, no FastAPI): the CLI parser shows these defaults in ``--help``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

MB = 1024 * 1024

DEFAULT_MAX_UPLOAD_MB = 25.0       # request body; a 10-minute 16 kHz 16-bit wav is 19.2 MB
DEFAULT_MAX_DURATION_S = 600.0     # seconds of audio per request
DEFAULT_MAX_QUEUE = 16             # requests waiting for the model (beyond those being scored)
# CPU: the requests already waiting (up to 8) are scored together, nobody waits for more;
# one predict_iter call for several requests shares its fixed costs (the location decoder
# above all): 8 clients got 1.5x the requests/s of one-at-a-time (bench/serve.py, docs/serve.md)
CPU_MAX_BATCH, CPU_BATCH_WAIT_MS = 8, 0.0
GPU_MAX_BATCH, GPU_BATCH_WAIT_MS = 16, 10.0    # GPU: up to 16 requests that arrive within 10 ms
DEFAULT_DRAIN_TIMEOUT_S = 60.0     # SIGTERM: how long in-flight requests may take to finish
MAX_RETRY_AFTER_S = 60


@dataclass(frozen=True)
class ServeLimits:
    """What one ``geolid serve`` process accepts and how it queues.

    ``max_batch`` / ``batch_wait_ms``: None takes the device's default (CPU: 8 / 0 ms;
    GPU: 16 / 10 ms), see :meth:`for_device`.
    """

    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    max_queue: int = DEFAULT_MAX_QUEUE
    max_batch: Optional[int] = None
    batch_wait_ms: Optional[float] = None

    def __post_init__(self):
        if not self.max_upload_mb > 0:
            raise ValueError(f"max_upload_mb must be > 0, got {self.max_upload_mb}")
        if not self.max_duration_s > 0:
            raise ValueError(f"max_duration must be > 0 seconds, got {self.max_duration_s}")
        if not (isinstance(self.max_queue, int) and self.max_queue >= 0):
            raise ValueError(f"max_queue must be an integer >= 0, got {self.max_queue}")
        if self.max_batch is not None and not (isinstance(self.max_batch, int) and self.max_batch >= 1):
            raise ValueError(f"max_batch must be an integer >= 1, got {self.max_batch}")
        if self.batch_wait_ms is not None and not self.batch_wait_ms >= 0:
            raise ValueError(f"batch_wait_ms must be >= 0, got {self.batch_wait_ms}")

    def for_device(self, on_gpu: bool) -> "ServeLimits":
        """These limits with the device's batching defaults filled in."""
        batch, wait = (GPU_MAX_BATCH, GPU_BATCH_WAIT_MS) if on_gpu else (CPU_MAX_BATCH, CPU_BATCH_WAIT_MS)
        return ServeLimits(self.max_upload_mb, self.max_duration_s, self.max_queue,
                           batch if self.max_batch is None else self.max_batch,
                           wait if self.batch_wait_ms is None else self.batch_wait_ms)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def max_requests(self) -> int:
        """Requests admitted at once (being scored + waiting); more get 503."""
        return (self.max_batch or 1) + self.max_queue
