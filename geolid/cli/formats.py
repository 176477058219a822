r"""Output formats of ``geolid predict``: table, json, jsonl, tsv (docs/cli.md).

``jsonl`` and ``json`` carry the full record (:meth:`Prediction.to_dict`);
``tsv`` has fixed columns (:data:`TSV_COLUMNS`); ``table`` is for people and may
change. Import-light: no torch.

TSV escaping: every cell (the key, which is a file name or a wav.scp key, the
error message, and every other column) is written with backslash, tab, newline
and carriage return escaped as ``\\``, ``\t``, ``\n`` and ``\r``, so one input
is always one line of exactly ``len(TSV_COLUMNS)`` tab-separated cells, and
:func:`tsv_unescape` gives the original text back (``tsv_unescape(tsv_escape(s))
== s`` for every string).
"""
from __future__ import annotations

import json
from typing import IO, Iterable, List, Optional

from geolid.inference.results import SCHEMA_VERSION, Prediction

FORMATS = ("table", "json", "jsonl", "tsv", "parquet")  # parquet: a dataset folder (--out only)
TSV_COLUMNS = ("key", "language", "name", "probability", "rejected", "lat", "lon", "top_k",
               "duration", "num_windows", "segments", "error")


def format_for_path(path: str) -> Optional[str]:
    """Format implied by an output file's extension (None if none is)."""
    for ext, fmt in ((".jsonl", "jsonl"), (".json", "json"), (".tsv", "tsv"), (".txt", "table"),
                     (".parquet", "parquet")):
        if path.lower().rstrip("/").endswith(ext):
            return fmt
    return None


def _fmt_time(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:04.1f}"


def _na(v, fmt="{}") -> str:
    return "-" if v is None else fmt.format(v)


_TSV_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_TSV_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def tsv_escape(text: str) -> str:
    r"""``text`` as one TSV cell: backslash, tab, newline, CR -> ``\\ \t \n \r``."""
    return "".join(_TSV_ESCAPES.get(c, c) for c in text)


def tsv_unescape(cell: str) -> str:
    """Inverse of :func:`tsv_escape` (a lone backslash before another character stays)."""
    out, i = [], 0
    while i < len(cell):
        c = cell[i]
        if c == "\\" and i + 1 < len(cell) and cell[i + 1] in _TSV_UNESCAPES:
            out.append(_TSV_UNESCAPES[cell[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def tsv_header() -> str:
    return "\t".join(TSV_COLUMNS)


def tsv_row(p: Prediction) -> str:
    """One tsv line; top_k as ``code:prob,...``, segments as ``start-end:code:prob;...``;
    every cell escaped (:func:`tsv_escape`)."""
    top = ",".join(f"{s.code}:{s.probability:.4f}" for s in p.top_k)
    segs = ";".join(f"{s.start:.2f}-{s.end:.2f}:{s.language}:{s.probability:.4f}"
                    for s in p.segments or [])
    cells = [p.key, p.language or "", p.name or "", _na(p.probability, "{:.4f}"),
             "" if p.error else str(p.rejected).lower(),
             "" if p.location is None else f"{p.location.lat:.4f}",
             "" if p.location is None else f"{p.location.lon:.4f}", top,
             _na(p.duration, "{:.2f}") if p.duration is not None else "", str(p.num_windows),
             segs, p.error or ""]
    return "\t".join(tsv_escape(c) if c != "-" else "" for c in cells)


def table_lines(p: Prediction, top_k: int) -> List[str]:
    """Human-readable lines for one prediction (with its segments, if any)."""
    if p.error:
        return [f"{p.key}\tERROR: {p.error}"]
    loc = ("location -" if p.location is None
           else f"location {p.location.lat:+.2f} {p.location.lon:+.2f}")
    head = f"{p.key}\t{p.language} ({p.name})\t{p.probability:.3f}\t{loc}"
    if p.rejected or p.language == "zxx":  # zxx: no speech found (vad)
        head += f"\t[best: {p.top_k[0].code} {p.top_k[0].probability:.3f}]"
    lines = [head]
    if top_k > 1:
        lines.append("    top: " + "  ".join(f"{s.code} {s.name} {s.probability:.3f}"
                                             for s in p.top_k))
    for s in p.segments or []:
        lines.append(f"    {_fmt_time(s.start)}-{_fmt_time(s.end)}  {s.language:<8} "
                     f"{s.probability:.3f}  {s.name}")
    return lines


class Writer:
    """Streams predictions to ``out`` in one format (json is a document, so it is
    assembled and written on :meth:`close`)."""

    def __init__(self, out: IO[str], fmt: str, top_k: int, model: str = "",
                 include_geo_vector: bool = False, header: bool = True):
        if fmt not in FORMATS or fmt == "parquet":   # parquet: geolid.cli.parquet_store
            raise ValueError(f"unknown format '{fmt}'; choose from {FORMATS}")
        self.out, self.fmt, self.top_k = out, fmt, top_k
        self.model, self.geo = model, include_geo_vector
        self._json: List[dict] = []
        if fmt == "tsv" and header:
            out.write(tsv_header() + "\n")

    def write(self, preds: Iterable[Prediction]) -> None:
        for p in preds:
            if self.fmt == "jsonl":
                self.out.write(p.to_json(self.geo) + "\n")
            elif self.fmt == "tsv":
                self.out.write(tsv_row(p) + "\n")
            elif self.fmt == "table":
                self.out.write("\n".join(table_lines(p, self.top_k)) + "\n")
            else:
                self._json.append(p.to_dict(self.geo))
        self.out.flush()

    def close(self) -> None:
        if self.fmt == "json":
            doc = {"schema_version": SCHEMA_VERSION, "model": self.model,
                   "predictions": self._json,
                   "num_errors": sum(1 for r in self._json if r["error"])}
            json.dump(doc, self.out, ensure_ascii=False, indent=1)
            self.out.write("\n")
        self.out.flush()
