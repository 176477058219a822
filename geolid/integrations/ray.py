"""geolid as a Ray Data stage: language ID over a :class:`ray.data.Dataset`, one actor per model copy.

    >>> import ray
    >>> from geolid.integrations.ray import predict_dataset
    >>> ds = ray.data.read_parquet("manifest.parquet")            # a 'path' column
    >>> out = predict_dataset(ds, "espnet/geolid_vl107only_shared_trainable", actors=4)
    >>> out.write_parquet("results/")                             # or iterate it

or, as the stage it is (the actor pattern of ``map_batches``)::

    ds.map_batches(GeoLIDPredictor, fn_constructor_kwargs={"model": "..."}, batch_format="pyarrow",
                   batch_size=16, compute=ray.data.ActorPoolStrategy(size=4), num_gpus=1)

:class:`GeoLIDPredictor` loads the model once per actor (on the actor's GPU if Ray gave
it one, else on the CPU with :func:`threads_per_actor` torch threads) and scores each
batch with :meth:`GeoLID.predict_iter <geolid.inference.api.GeoLID.predict_iter>` under
one :class:`~geolid.inference.options.PredictOptions`: the code path of ``geolid predict``
and of ``GeoLID.predict``, so a row equals their record for the same input.

Input rows: an audio ``path``, or encoded ``bytes`` (e.g. ``ray.data.read_binary_files``),
or an ``array`` (1-D samples, or samples x channels) with its ``sample_rate``; an optional
``key`` (default: the path). A row with several uses ``bytes``, then ``array``, then
``path`` (``read_binary_files(..., include_paths=True)`` rows are decoded from their bytes;
the path stays as the record's ``path``). The output is the input's columns (without
``bytes`` and ``array`` unless ``keep_audio``) plus the result columns of
:mod:`geolid.integrations.records`, one row per input row, in order. A bad input is a row
with ``error`` set (the message ``geolid predict`` prints), never a failed task.

``geolid predict --engine ray`` runs this stage on the CLI's inputs (docs/ray.md).
Nothing here imports ray or torch at module import.
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from geolid.integrations.records import RESULT_COLUMNS

INPUT_COLUMNS = ("key", "path", "bytes", "array", "sample_rate")
AUDIO_COLUMNS = ("bytes", "array")
REPLACED = ("key", "path")          # input columns the result columns of that name replace
DEFAULT_BATCH_ROWS = 16


# ------------------------------------------------------------------- threads
def threads_per_actor(node_cpus: float, actors: int, cpus_per_actor: float = 1.0) -> int:
    """torch threads of one actor when ``actors`` actors (each reserving
    ``cpus_per_actor`` of Ray's CPUs) may share a node of ``node_cpus`` CPUs: the node's
    cores divided among as many of them as can be placed on it, at least 1.

    Ray knows how many actors it places, so the count is fixed from that plan; the actor
    still registers with :class:`geolid.utils.threads.CoreShare`, so that other geolid
    processes on the node count it.
    """
    cpus = max(1, int(node_cpus))
    fit = int(cpus // cpus_per_actor) if cpus_per_actor > 0 else cpus
    on_node = max(1, min(int(actors), fit))
    return max(1, cpus // on_node)


def _node_cpus() -> float:
    """CPUs Ray declares for the node this actor runs on (the OS's count as a fallback)."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 1
    try:
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        for node in ray.nodes():
            if node.get("NodeID") == node_id and node.get("Resources", {}).get("CPU"):
                return min(float(node["Resources"]["CPU"]), affinity)
    except Exception:   # not in a Ray worker, or the GCS cannot be asked: the OS knows
        pass
    return affinity


def _actor_device() -> str:
    try:
        import ray

        return "cuda" if ray.get_gpu_ids() else "cpu"
    except Exception:
        return "cpu"


# --------------------------------------------------------------------- stage
class GeoLIDPredictor:
    """The Ray Data stage (a callable class for ``map_batches``); see the module docstring.

    ``model``: what ``GeoLID.from_pretrained`` takes (repo id, folder, ``.pth``); ``name``:
    the identity's name in the rows (default ``model``). ``options``: a
    :class:`PredictOptions` (default: its defaults). ``device``: default the actor's GPU
    if Ray assigned one, else the CPU. ``actors``/``cpus_per_actor``: the pool's size and
    each actor's CPU reservation, for :func:`threads_per_actor` (``threads`` overrides).
    ``include_embedding``/``include_geo_vector``: fill those columns. ``sample_rate``: of
    ``array`` rows without a ``sample_rate`` column.
    """

    def __init__(self, model: str, options=None, *, name: Optional[str] = None,
                 device: Optional[str] = None, dtype: str = "auto", quantize: Optional[str] = None,
                 revision: Optional[str] = None, allow_outside: bool = False,
                 include_embedding: bool = False, include_geo_vector: bool = False,
                 keep_audio: bool = False, sample_rate: Optional[int] = None,
                 actors: int = 1, cpus_per_actor: float = 1.0, threads: Optional[int] = None):
        import torch  # noqa: F401  (imported first, so that the share sizes its threads)

        from geolid.inference.api import GeoLID
        from geolid.inference.options import PredictOptions
        from geolid.utils.threads import CoreShare

        self.device = device or _actor_device()
        self.threads = threads or threads_per_actor(_node_cpus(), actors, cpus_per_actor)
        # held for the actor's life: CPU work (the model on CPU actors, VAD, resampling)
        self._share = CoreShare(threads=self.threads).__enter__()
        self.lid = GeoLID.from_pretrained(model, device=self.device, dtype=dtype, quantize=quantize,
                                          revision=revision, allow_outside=allow_outside)
        self.options = PredictOptions.of(options)
        self.identity = self.lid.identity(name or str(model)).to_dict()
        self.result_key = self.options.result_key()
        self.include_embedding, self.include_geo_vector = include_embedding, include_geo_vector
        self.keep_audio, self.sample_rate = keep_audio, sample_rate

    def __call__(self, batch):
        table = _as_table(batch)
        check_columns(table.schema.names)
        preds, embeddings = self.predict_rows(table)
        return _with_results(table, preds, embeddings, self.include_geo_vector, self.keep_audio)

    def predict_rows(self, table) -> Tuple[List[Any], List[Any]]:
        """One :class:`Prediction` (and embedding) per row, in order."""
        from geolid.inference.results import Prediction

        rows = _input_rows(table, self.sample_rate)
        runnable = [(r.key, r.input) for r in rows if r.error is None]
        scored = {}
        if runnable and self.include_embedding:   # predict_iter, with the scored utterances
            for p, u in self.lid.predict_scored(runnable, options=self.options):
                scored[p.key] = (p, u.embedding if p.ok else None)
        elif runnable:
            scored = {p.key: (p, None) for p in self.lid.predict_iter(runnable, options=self.options)}
        preds, embs = [], []
        for r in rows:
            p, e = scored[r.key] if r.error is None else (Prediction.failure(r.key, r.error), None)
            if r.path is not None:
                p.path = r.path
            p.model, p.options = self.identity, self.result_key
            preds.append(p)
            embs.append(e)
        return preds, embs


STAGE = GeoLIDPredictor   # what predict_dataset and `geolid predict --engine ray` run


def check_columns(names: Sequence[str]) -> None:
    """ValueError unless the columns describe audio rows and no result column would
    overwrite an input column of the same name."""
    names = set(names)
    if not names & {"path", "bytes", "array"}:
        raise ValueError(f"the dataset has no audio column (columns: {sorted(names)}); give each row "
                         "a 'path', encoded 'bytes', or an 'array' with a 'sample_rate'")
    if "path" not in names and "key" not in names:
        raise ValueError("rows without a 'path' need a 'key' column (the record's key)")
    clash = sorted(names & set(RESULT_COLUMNS) - set(REPLACED))
    if clash:
        raise ValueError(f"input column(s) {clash} would be overwritten by the result columns of the "
                         "same name; rename them first (ds.rename_columns({...}))")


class _Row:
    __slots__ = ("key", "path", "input", "error")

    def __init__(self, key, path, inp=None, error=None):
        self.key, self.path, self.input, self.error = key, path, inp, error


def _input_rows(table, default_rate: Optional[int]) -> List[_Row]:
    from geolid.audio import AudioError
    from geolid.audio.io import decode

    n = table.num_rows
    col = {name: _column_values(table.column(name)) if name in table.schema.names else [None] * n
           for name in INPUT_COLUMNS}
    rows, seen = [], set()
    for i in range(n):
        path = None if col["path"][i] is None else str(col["path"][i])
        key = col["key"][i] if col["key"][i] is not None else path
        if key is None:
            rows.append(_Row("", None, error="row has neither a key nor a path"))
            continue
        key = str(key)
        if key in seen:
            rows.append(_Row(key, path, error=f"key '{key}' appears twice in one batch; keys must be unique"))
            continue
        seen.add(key)
        data, arr = col["bytes"][i], col["array"][i]
        if data is not None:
            try:
                frames, sr = decode(bytes(data), key)
                rows.append(_Row(key, path, (frames, sr)))
            except AudioError as e:
                rows.append(_Row(key, path, error=e.reason))
        elif arr is not None:
            rate = col["sample_rate"][i] if col["sample_rate"][i] is not None else default_rate
            if rate is None:
                rows.append(_Row(key, path, error="an 'array' row needs its 'sample_rate' (a column, or "
                                                  "GeoLIDPredictor(sample_rate=...))"))
            else:
                rows.append(_Row(key, path, (arr, int(rate))))
        elif path is not None:
            rows.append(_Row(key, path, path))
        else:
            rows.append(_Row(key, None, error="row has no audio: give a 'path', 'bytes', or an "
                                              "'array' with a 'sample_rate'"))
    return rows


def _column_values(column) -> List[Any]:
    """A column as one Python/numpy value per row (arrays for list and tensor columns)."""
    import numpy as np
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(arr.type, pa.ExtensionType):          # Ray's tensor columns
        values = arr.to_numpy(zero_copy_only=False)
        valid = arr.is_valid().to_pylist()
        return [np.asarray(v, dtype=np.float32) if ok else None for v, ok in zip(values, valid)]
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) \
            or pa.types.is_fixed_size_list(arr.type):
        out = []
        for i in range(len(arr)):
            if not arr[i].is_valid:
                out.append(None)
                continue
            v = arr[i].values
            out.append(_nested_to_numpy(v))
        return out
    return arr.to_pylist()


def _nested_to_numpy(values):
    """The values of one list cell: 1-D samples, or a list of lists (samples x channels)."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type) \
            or pa.types.is_fixed_size_list(values.type):
        return np.asarray(values.to_pylist(), dtype=np.float32)
    return values.to_numpy(zero_copy_only=False)


def _as_table(batch):
    import pyarrow as pa

    if isinstance(batch, pa.Table):
        return batch
    try:
        import pandas as pd

        if isinstance(batch, pd.DataFrame):
            return pa.Table.from_pandas(batch, preserve_index=False)
    except ImportError:
        pass
    if isinstance(batch, dict):
        return pa.table({k: pa.array(list(v)) for k, v in batch.items()})
    raise TypeError(f"GeoLIDPredictor takes a pyarrow.Table batch (map_batches(..., "
                    f"batch_format='pyarrow')), got {type(batch).__name__}")


def _with_results(table, preds, embeddings, include_geo_vector: bool, keep_audio: bool):
    """The input table's columns (audio dropped unless kept) and the result columns."""
    from geolid.integrations.records import predictions_table

    results = predictions_table(preds, embeddings, include_geo_vector)
    drop = set(REPLACED) | (set() if keep_audio else set(AUDIO_COLUMNS))
    kept = [n for n in table.schema.names if n not in drop]
    out = table.select(kept) if kept else None
    if out is None:
        return results
    for field in results.schema:
        out = out.append_column(field, results.column(field.name))
    return out


# ------------------------------------------------------------------- dataset
def predict_dataset(ds, model: str, options=None, *, actors: int = 1, batch_size: int = DEFAULT_BATCH_ROWS,
                    num_gpus: float = 0.0, num_cpus: float = 1.0, max_restarts: int = -1,
                    max_task_retries: int = -1, ray_remote_args: Optional[Dict[str, Any]] = None,
                    stage=None, **predictor_kwargs):
    """``ds`` with the result columns: :class:`GeoLIDPredictor` on a pool of ``actors``
    actors, each reserving ``num_cpus`` CPUs and ``num_gpus`` GPUs (``num_gpus=1``: one
    GPU per actor, the model on it). A dead actor is restarted and its batch retried
    (``max_restarts``/``max_task_retries``, -1: without limit). ``predictor_kwargs`` go
    to :class:`GeoLIDPredictor` (``name``, ``include_embedding``, ``dtype``, ...); ``stage``:
    a subclass of it to run instead (default :data:`STAGE`)."""
    check_columns(ds.schema().names)
    kwargs = dict(predictor_kwargs, model=str(model), options=options, actors=actors,
                  cpus_per_actor=num_cpus)
    remote = dict(ray_remote_args or {}, max_restarts=max_restarts, max_task_retries=max_task_retries)
    import ray.data

    return ds.map_batches(stage or STAGE, fn_constructor_kwargs=kwargs, batch_format="pyarrow",
                          batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=actors),
                          num_cpus=num_cpus,
                          num_gpus=num_gpus or None, zero_copy_batch=True, **remote)


# ----------------------------------------------------------------- the CLI's
def batch_rows(n_inputs: int, actors: int) -> int:
    """Rows per batch (= per part file): enough batches to keep every actor busy, <= 64."""
    return max(1, min(64, math.ceil(n_inputs / (4 * max(1, actors)))))


def auto_gpus_per_actor(actors: int, device: Optional[str]) -> float:
    """One GPU per actor when the cluster has enough, a share when it has fewer, 0 without
    GPUs or with ``--device cpu``."""
    import ray

    if device == "cpu":
        return 0.0
    gpus = float(ray.cluster_resources().get("GPU", 0.0))
    return 0.0 if gpus <= 0 else min(1.0, gpus / max(1, actors))


def connect(address: Optional[str] = None, quiet: bool = False):
    """Start a local Ray instance (``address`` None) or join a cluster (``"auto"``,
    ``"ray://host:10001"``, ``"host:6379"``); reuse one this process already joined.
    Returns whether we joined (and must leave) it."""
    import logging

    import ray
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = not quiet
    for handler in logging.getLogger("ray.data").handlers:   # its console, not its log file
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.ERROR if quiet else logging.WARNING)
    if ray.is_initialized():
        return False
    ray.init(address=address or "local", include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=not quiet, configure_logging=True)
    return True


def score_pairs(pairs: Sequence[Tuple[str, str]], model: str, options, *, name: str,
                actors: int = 1, address: Optional[str] = None, gpus_per_actor: Optional[float] = None,
                cpus_per_actor: float = 1.0, quiet: bool = False, ordered: bool = False,
                **predictor_kwargs) -> Iterator[Any]:
    """``(key, path)`` inputs through the stage on a local instance or a cluster: yields
    result tables (``pyarrow.Table``, result columns only) as batches finish (in input
    order with ``ordered``)."""
    import ray

    joined = connect(address, quiet)
    ctx = ray.data.DataContext.get_current()
    was_ordered = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = ordered
    try:
        rows = [{"key": k, "path": v} for k, v in pairs]
        per_batch = batch_rows(len(rows), actors)
        ds = ray.data.from_items(rows, override_num_blocks=max(1, math.ceil(len(rows) / per_batch)))
        gpus = auto_gpus_per_actor(actors, predictor_kwargs.get("device")) if gpus_per_actor is None \
            else gpus_per_actor
        out = predict_dataset(ds, model, options, actors=actors, batch_size=per_batch, num_gpus=gpus,
                              num_cpus=cpus_per_actor, name=name, **predictor_kwargs)
        for table in out.iter_batches(batch_format="pyarrow", batch_size=None):
            if table.num_rows:
                yield table.select(list(RESULT_COLUMNS))
    finally:
        ctx.execution_options.preserve_order = was_ordered
        if joined:
            ray.shutdown()
