"""A record (:class:`~geolid.inference.results.Prediction`) as an Arrow row: the result
columns of the Ray stage and of ``geolid predict --out results.parquet``.

Columns are named as the record's fields (docs/cli.md, "Record schema"), with these
Arrow-native forms:

* ``top_k`` becomes two list columns, ``top_k_languages`` (codes, best first) and
  ``top_k_probabilities`` (the names follow from the codes);
* ``location`` is a struct ``{lat, lon}``, ``model`` a struct ``{name, sha256, head}``,
  ``segments`` a list of structs ``{start, end, language, name, probability}``;
* ``options``, ``prior`` and ``candidates`` are JSON strings (their content varies);
* ``geo_vector`` and ``embedding`` (the language embedding, which a JSON record does not
  carry) are ``list<float32>``, null unless asked for.

Every table has every column (null where not applicable), in :data:`RESULT_COLUMNS`
order, so the part files of one dataset share one schema. :func:`prediction_from_row`
turns a row back into the :class:`Prediction` it came from (the other output formats
of the Ray engine are written from it).

Import-light: pyarrow is imported by the functions that need it, never torch.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional, Sequence

from geolid.inference.results import (SCHEMA_VERSION, LanguageScore, Location, Prediction, Segment,
                                      language_name)

RESULT_COLUMNS = ("schema_version", "key", "path", "language", "name", "probability", "rejected",
                  "top_k_languages", "top_k_probabilities", "location", "duration", "num_windows",
                  "segments", "speech_fraction", "prior", "candidates", "unknown_score", "model",
                  "options", "error", "geo_vector", "embedding")
# file-level metadata of a geolid Parquet part: which model and options made its rows
METADATA_KEY = b"geolid"


def result_schema():
    """The Arrow schema of the result columns (:data:`RESULT_COLUMNS`)."""
    import pyarrow as pa

    segment = pa.struct([("start", pa.float64()), ("end", pa.float64()), ("language", pa.string()),
                         ("name", pa.string()), ("probability", pa.float64())])
    types = {
        "schema_version": pa.int32(), "key": pa.string(), "path": pa.string(),
        "language": pa.string(), "name": pa.string(), "probability": pa.float64(),
        "rejected": pa.bool_(), "top_k_languages": pa.list_(pa.string()),
        "top_k_probabilities": pa.list_(pa.float64()),
        "location": pa.struct([("lat", pa.float64()), ("lon", pa.float64())]),
        "duration": pa.float64(), "num_windows": pa.int32(), "segments": pa.list_(segment),
        "speech_fraction": pa.float64(), "prior": pa.string(), "candidates": pa.string(),
        "unknown_score": pa.float64(),
        "model": pa.struct([("name", pa.string()), ("sha256", pa.string()), ("head", pa.string())]),
        "options": pa.string(), "error": pa.string(), "geo_vector": pa.list_(pa.float32()),
        "embedding": pa.list_(pa.float32()),
    }
    return pa.schema([(name, types[name]) for name in RESULT_COLUMNS])


def _json(value) -> Optional[str]:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def prediction_row(p: Prediction, embedding=None, include_geo_vector: bool = False) -> Dict[str, Any]:
    """One record as a row of :func:`result_schema` (plain Python values)."""
    import numpy as np

    def floats(x):
        return None if x is None else np.asarray(x, dtype=np.float32)

    return {
        "schema_version": SCHEMA_VERSION, "key": p.key, "path": p.path, "language": p.language,
        "name": p.name, "probability": p.probability,
        "rejected": None if p.error else p.rejected,
        "top_k_languages": None if p.error else [s.code for s in p.top_k],
        "top_k_probabilities": None if p.error else [s.probability for s in p.top_k],
        "location": None if p.location is None else {"lat": p.location.lat, "lon": p.location.lon},
        "duration": p.duration, "num_windows": p.num_windows,
        "segments": None if p.segments is None else [vars(s).copy() for s in p.segments],
        "speech_fraction": p.speech_fraction, "prior": _json(p.prior),
        "candidates": _json(p.candidates), "unknown_score": p.unknown_score,
        "model": None if p.model is None else {k: p.model.get(k) or "" for k in ("name", "sha256", "head")},
        "options": _json(p.options), "error": p.error,
        "geo_vector": floats(p.geo_vector) if include_geo_vector else None,
        "embedding": None if p.error else floats(embedding),
    }


def rows_table(rows: Sequence[Dict[str, Any]]):
    """Rows of :func:`prediction_row` as a ``pyarrow.Table`` of :func:`result_schema`."""
    import pyarrow as pa

    schema = result_schema()
    return pa.Table.from_arrays([pa.array([r[f.name] for r in rows], type=f.type) for f in schema],
                                schema=schema)


def predictions_table(preds: Iterable[Prediction], embeddings: Optional[Sequence] = None,
                      include_geo_vector: bool = False):
    """Records as a ``pyarrow.Table`` of :func:`result_schema`; ``embeddings``, if given,
    is one array (or None) per record."""
    preds = list(preds)
    embs = list(embeddings) if embeddings is not None else [None] * len(preds)
    return rows_table([prediction_row(p, e, include_geo_vector) for p, e in zip(preds, embs)])


def prediction_from_row(row: Dict[str, Any]) -> Prediction:
    """The :class:`Prediction` a row (``table.to_pylist()`` item) was made from."""
    import numpy as np

    def loads(v):
        return None if v is None else json.loads(v)

    codes = row.get("top_k_languages") or []
    probs = row.get("top_k_probabilities") or []
    loc = row.get("location")
    geo = row.get("geo_vector")
    return Prediction(
        key=row["key"], path=row.get("path"), language=row.get("language"), name=row.get("name"),
        probability=row.get("probability"), rejected=bool(row.get("rejected")),
        top_k=[LanguageScore(c, language_name(c), p) for c, p in zip(codes, probs)],
        location=None if loc is None else Location(loc["lat"], loc["lon"]),
        duration=row.get("duration"), num_windows=row.get("num_windows") or 0,
        segments=None if row.get("segments") is None else [Segment(**s) for s in row["segments"]],
        geo_vector=None if geo is None else np.asarray(geo, dtype=np.float32),
        model=row.get("model"), error=row.get("error"), prior=loads(row.get("prior")),
        speech_fraction=row.get("speech_fraction"), options=loads(row.get("options")),
        candidates=loads(row.get("candidates")), unknown_score=row.get("unknown_score"))


def part_metadata(identity: Dict[str, str], options: Dict[str, Any]) -> Dict[bytes, bytes]:
    """The Parquet file metadata of a part: the model and options its rows were made with."""
    doc = {"schema_version": SCHEMA_VERSION, "model": identity, "options": options}
    return {METADATA_KEY: json.dumps(doc, ensure_ascii=False).encode()}


def read_part_metadata(metadata: Optional[Dict[bytes, bytes]]) -> Optional[Dict[str, Any]]:
    """The document of :func:`part_metadata`, or None when a file has none (not ours)."""
    if not metadata or METADATA_KEY not in metadata:
        return None
    try:
        doc = json.loads(metadata[METADATA_KEY])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and {"model", "options"} <= doc.keys() else None


def keys_of(table) -> List[str]:
    return table.column("key").to_pylist()
