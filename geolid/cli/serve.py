"""``geolid serve``: the HTTP service (docs/serve.md).

    geolid serve --model M [--host 127.0.0.1] [--port 8000] [--threads N]
                 [--max-upload-mb 25] [--max-duration 600] [--max-queue 16]
                 [--max-batch B] [--batch-wait-ms MS] [--drain-timeout 60]

The parser is import-light; torch, FastAPI and uvicorn load in :func:`run_serve`.
SIGTERM drains: the listening socket closes, requests in flight (reading,
waiting or being scored) are answered, then the process exits 0.
"""
from __future__ import annotations

import logging
import signal

from geolid.cli.predict import EXIT_OK, EXIT_USAGE, UsageError
from geolid.cli.model_options import add_model_options, add_runtime_options
from geolid.serve import limits as L

logger = logging.getLogger("geolid.serve")


def add_serve_parser(sub) -> None:

    p = sub.add_parser(
        "serve", help="serve language ID over HTTP (POST /v1/audio/language)",
        description="Run an HTTP service (FastAPI + uvicorn) with one model shared by all requests: "
                    "POST /v1/audio/language answers with the record of `geolid predict --format "
                    "json`; GET /v1/models and GET /health. Limits, status codes and queueing: "
                    "docs/serve.md. Needs the 'serve' extra (pip install 'geolid-espnet[serve]').")
    add_model_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s; "
                                                       "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    add_runtime_options(p)
    g = p.add_argument_group("limits (docs/serve.md)")
    g.add_argument("--max-upload-mb", type=float, default=L.DEFAULT_MAX_UPLOAD_MB, metavar="MB",
                   help="largest request body; larger: 413 (default %(default)s)")
    g.add_argument("--max-duration", type=float, default=L.DEFAULT_MAX_DURATION_S, metavar="S",
                   help="longest audio, seconds; longer: 413 (default %(default)s)")
    g.add_argument("--max-queue", type=int, default=L.DEFAULT_MAX_QUEUE, metavar="N",
                   help="requests that may wait beyond those being scored; more: 503 with "
                        "Retry-After (default %(default)s)")
    g.add_argument("--max-batch", type=int, metavar="B",
                   help=f"requests scored together (default: {L.CPU_MAX_BATCH} on CPU, "
                        f"{L.GPU_MAX_BATCH} on GPU)")
    g.add_argument("--batch-wait-ms", type=float, metavar="MS",
                   help=f"how long the first request of a batch waits for others (default: "
                        f"{L.CPU_BATCH_WAIT_MS:g} on CPU, {L.GPU_BATCH_WAIT_MS:g} on GPU)")
    g.add_argument("--drain-timeout", type=float, default=L.DEFAULT_DRAIN_TIMEOUT_S, metavar="S",
                   help="on SIGTERM, how long in-flight requests may take (default %(default)s)")
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.set_defaults(func=run_serve)


def run_serve(args) -> int:
    try:
        limits = L.ServeLimits(args.max_upload_mb, args.max_duration, args.max_queue, args.max_batch,
                               args.batch_wait_ms)
    except ValueError as e:
        name, _, rest = str(e).partition(" ")
        raise UsageError(f"--{name.replace('_', '-')} {rest}") from None
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, got {args.port}")
    try:
        import uvicorn

        from geolid.serve.app import create_app
    except ImportError as e:
        raise UsageError(f"geolid serve needs FastAPI and uvicorn ({e}); install them with "
                         "pip install 'geolid-espnet[serve]'") from None

    import torch  # noqa: F401  (imported first, so the share below sizes its threads)

    from geolid.utils.threads import CoreShare

    # The service holds its share of the cores (with other geolid processes on the machine)
    # for its whole life; --threads fixes it.
    with CoreShare(threads=args.threads):
        return _serve(args, limits, uvicorn, create_app)


def _serve(args, limits, uvicorn, create_app) -> int:
    from geolid.inference.api import GeoLID
    from geolid.inference.options import PredictOptions

    try:
        options = PredictOptions(speech_detector=args.speech_detector)
        lid = GeoLID.from_pretrained(args.model, device=args.device, dtype=args.dtype,
                                     revision=args.revision, allow_outside=args.allow_outside_paths)
    except ValueError as e:
        raise UsageError(str(e)) from None
    _warm_up(lid, options)
    app = create_app(lid, limits, args.model, options)
    config = uvicorn.Config(app, host=args.host, port=args.port, lifespan="on",
                            timeout_graceful_shutdown=args.drain_timeout,
                            access_log=not args.no_access_log,
                            log_level="debug" if args.verbose else "info")
    server = uvicorn.Server(config)
    # uvicorn drains on SIGTERM and then re-raises the signal under the handler that
    # was there before it; this one makes that a normal exit (status 0) after the drain.
    previous = signal.signal(signal.SIGTERM, _drained)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return EXIT_OK if server.started else EXIT_USAGE


def _drained(signum, frame) -> None:
    logger.info("geolid serve: drained after SIGTERM, exiting")


def _warm_up(lid, options) -> None:
    """One prediction before the port opens: the location decoder, the speech detector and
    the first forward pass load now, not during the first client's request."""
    import numpy as np

    rng = np.random.default_rng(0)
    lid.predict((0.05 * rng.standard_normal(16000)).astype(np.float32), sample_rate=16000,
                options=options)
