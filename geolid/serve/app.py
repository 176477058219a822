"""The FastAPI application of ``geolid serve`` (docs/serve.md).

    POST /v1/audio/language   multipart: file (+ top_k, languages, reject_below,
                              reject_unknown, timeline, near, budget, geo_vector)
                              -> one record of ``geolid predict --format json``
    GET  /v1/models           the model: identity, languages, device, dtype
    GET  /health              identity, device, dtype, queue depth

One model per process, shared by every request through one
:class:`~geolid.serve.scheduler.Scheduler`. A request's life:

1. admission: at most ``max_batch + max_queue`` requests are in the service at a
   time (reading, decoding, waiting or being scored); one more gets 503 with
   ``Retry-After``;
2. the body is read with a byte count: past ``max_upload_mb`` it is 413, before
   anything more is held in memory (the upload lives in memory only: no file
   ever touches the disk);
3. the form fields become :class:`PredictOptions` (422 naming a bad field);
4. the upload is decoded in memory (422 with the CLI's message for bad audio,
   413 past ``max_duration``) in a worker thread, off the event loop;
5. the scheduler scores it through ``GeoLID.predict_iter``; an input error
   (too short, empty, ...) is 422, else 200 with the record.

Every early answer (413, 415, 503) first reads and drops the rest of the body
(up to a bound), so the client is not cut off while it is still sending.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Dict, Optional

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from geolid.audio import AudioError
from geolid.serve.form import FILE_FIELD, FieldError, check_for_model, parse_form
from geolid.serve.limits import MB, ServeLimits
from geolid.serve.scheduler import Closed, Overloaded, Scheduler

logger = logging.getLogger(__name__)

DRAIN_FACTOR = 4          # an oversized body is read and dropped up to 4x the upload limit
MAX_FIELD_BYTES = 64 * 1024


class TooLarge(Exception):
    pass


class _Body:
    """The request body as it arrives, counted: :meth:`chunks` raises :class:`TooLarge`
    past ``limit`` bytes, and :meth:`drain` reads and drops what is left."""

    def __init__(self, receive, limit: int):
        self.receive, self.limit = receive, limit
        self.n, self.done = 0, False

    async def _next(self) -> bytes:
        msg = await self.receive()
        if msg["type"] == "http.disconnect":
            self.done = True
            raise ClientDisconnect()
        self.done = not msg.get("more_body", False)
        chunk = msg.get("body", b"")
        self.n += len(chunk)
        return chunk

    async def chunks(self):
        while not self.done:
            chunk = await self._next()
            if self.n > self.limit:
                raise TooLarge()
            if chunk:
                yield chunk
        yield b""

    async def drain(self, cap: int) -> None:
        try:
            while not self.done and self.n <= cap:
                await self._next()
        except ClientDisconnect:
            pass


class _InMemoryParser(MultiPartParser):
    """Starlette's multipart parser with uploads kept in memory: the spool never rolls
    over to a temporary file, since the body is capped below the spool size."""

    def __init__(self, headers, stream, max_bytes: int):
        super().__init__(headers, stream, max_files=1, max_fields=16, max_part_size=MAX_FIELD_BYTES)
        self.spool_max_size = max_bytes + 1


def _error(status: int, message: str, field: Optional[str] = None,
           headers: Optional[Dict[str, str]] = None) -> JSONResponse:
    return JSONResponse({"detail": message, "field": field}, status_code=status, headers=headers)


def _decode(data: bytes, source: str, max_duration_s: float):
    """The upload as a mono float32 waveform and its rate (channels averaged as for a file)."""
    import io

    import soundfile as sf

    from geolid.audio import decode, to_mono

    try:  # the header's length first: a long file is refused before it is decoded
        info = sf.info(io.BytesIO(data))
        if info.samplerate > 0 and info.frames / info.samplerate > max_duration_s:
            raise TooLong(info.frames / info.samplerate)
    except TooLong:
        raise
    except Exception:  # unreadable: decode() says why, in the CLI's words
        pass
    frames, sr = decode(data, source)
    if len(frames) / sr > max_duration_s:
        raise TooLong(len(frames) / sr)
    return to_mono(frames), sr


class TooLong(Exception):
    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds


def create_app(lid, limits: Optional[ServeLimits] = None, name: Optional[str] = None,
               options=None) -> FastAPI:
    """The service around a loaded :class:`~geolid.inference.api.GeoLID`.

    ``limits``: :class:`ServeLimits` (device batching defaults filled in here);
    ``name``: the model name in the identity (what ``--model`` said); ``options``:
    the server's base :class:`PredictOptions` that request fields override.
    """
    from geolid import __version__
    from geolid.inference.options import PredictOptions

    limits = (limits or ServeLimits()).for_device(bool(getattr(lid.scorer, "on_gpu", False)))
    base = options or PredictOptions()
    identity = lid.identity(name).to_dict()
    has_unknown = getattr(getattr(lid.folder, "head", None), "unknown", None) is not None
    state = {"admitted": 0, "scheduler": None}

    @asynccontextmanager
    async def lifespan(app):
        state["scheduler"] = Scheduler(lid.predict_iter, limits.max_batch, limits.batch_wait_ms / 1000.0,
                                       max_waiting=limits.max_requests)
        logger.info("geolid serve: %s on %s (%s); batches of up to %d within %.0f ms, %d waiting at most",
                    identity["name"], lid.device, lid.dtype, limits.max_batch, limits.batch_wait_ms,
                    limits.max_queue)
        try:
            yield
        finally:  # uvicorn has drained the requests by now; stop the worker
            await anyio.to_thread.run_sync(state["scheduler"].close)

    app = FastAPI(title="geolid", version=__version__, lifespan=lifespan,
                  summary="Spoken language identification (docs/serve.md)")

    def scheduler() -> Scheduler:
        return state["scheduler"]

    def model_info() -> Dict:
        return {"id": identity["name"], "sha256": identity["sha256"], "head": identity["head"],
                "device": str(lid.device), "dtype": str(lid.dtype), "languages": list(lid.languages)}

    def queue_info() -> Dict:
        d = scheduler().depth() if scheduler() else None
        return {"requests": state["admitted"], "waiting": d.waiting if d else 0,
                "scoring": d.scoring if d else 0, "max_requests": limits.max_requests,
                "max_queue": limits.max_queue, "max_batch": limits.max_batch,
                "batch_wait_ms": limits.batch_wait_ms}

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": identity, "device": str(lid.device), "dtype": str(lid.dtype),
                "queue": queue_info()}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [model_info()]}

    @app.post("/v1/audio/language")
    async def language(request: Request):
        body = _Body(request.receive, limits.max_upload_bytes)
        drain_cap = DRAIN_FACTOR * limits.max_upload_bytes
        if state["admitted"] >= limits.max_requests:
            await body.drain(drain_cap)
            return _overloaded(scheduler().retry_after(state["admitted"]))
        state["admitted"] += 1
        try:
            return await _language(request, body, drain_cap)
        finally:
            state["admitted"] -= 1

    def _overloaded(retry_after: int) -> JSONResponse:
        return _error(503, f"over capacity ({limits.max_requests} requests in the service); retry "
                           f"after {retry_after} s", headers={"Retry-After": str(retry_after)})

    def _too_large(what: str) -> JSONResponse:
        return _error(413, what, FILE_FIELD, headers={"Connection": "close"})

    async def _language(request: Request, body: _Body, drain_cap: int):
        upload_limit = f"{limits.max_upload_mb:g} MB"
        ctype = request.headers.get("content-type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            await body.drain(drain_cap)
            return _error(415, f"send multipart/form-data with the audio in a '{FILE_FIELD}' field "
                               f"(got Content-Type '{ctype or 'none'}')", None)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_upload_bytes:
            await body.drain(drain_cap)
            return _too_large(f"upload of {int(declared) / MB:.1f} MB exceeds the limit of {upload_limit}")
        parser = _InMemoryParser(request.headers, body.chunks(), limits.max_upload_bytes)
        try:
            form = await parser.parse()
        except TooLarge:
            await body.drain(drain_cap)
            return _too_large(f"upload exceeds the limit of {upload_limit}")
        except MultiPartException as e:
            await body.drain(drain_cap)
            return _error(400, f"malformed multipart body: {e.message}")
        except ClientDisconnect:
            return Response(status_code=499)
        try:
            upload = form.get(FILE_FIELD)
            if upload is None:
                return _error(422, f"no '{FILE_FIELD}' field: upload the audio as a file field named "
                                   f"'{FILE_FIELD}'", FILE_FIELD)
            if not isinstance(upload, UploadFile):
                return _error(422, f"'{FILE_FIELD}' must be an uploaded file (a form field with a "
                                   "filename), not a text value", FILE_FIELD)
            fields = {k: v for k, v in form.multi_items() if k != FILE_FIELD}
            if any(isinstance(v, UploadFile) for v in fields.values()):
                bad = next(k for k, v in fields.items() if isinstance(v, UploadFile))
                return _error(422, f"{bad} must be a text field, not a file", bad)
            try:
                options, outputs = parse_form(fields, base)
                check_for_model(options, lid.languages, has_unknown)
            except FieldError as e:
                message = str(e).replace("`geolid languages --model ...` lists", "GET /v1/models lists")
                return _error(422, message, e.field)
            key = upload.filename or "upload"
            data = await upload.read()
        finally:
            await form.close()
        try:
            wave, sr = await anyio.to_thread.run_sync(_decode, data, key, limits.max_duration_s)
        except AudioError as e:
            return _error(422, e.reason, FILE_FIELD)
        except TooLong as e:
            return _too_large(f"audio of {e.seconds:.1f} s exceeds the limit of {limits.max_duration_s:g} s")
        del data
        try:
            future = scheduler().submit(key, (wave, sr), options)
        except Overloaded as e:
            return _overloaded(e.retry_after)
        except Closed:
            return _error(503, "shutting down", headers={"Retry-After": "1"})
        del wave
        pred = await asyncio.wrap_future(future)
        if pred.error:
            return _error(422, pred.error, FILE_FIELD)
        pred.model = identity
        pred.options = options.result_key()
        return Response(pred.to_json(outputs["geo_vector"]), media_type="application/json")

    return app
