"""``--out results.parquet``: a Parquet dataset of records, written as part files, resumable.

``results.parquet`` is a folder (a Parquet dataset, as Ray Data, pandas, DuckDB and
``pyarrow.dataset`` read folders) of part files ``part-<run>-<n>.parquet``. The rules
follow the JSONL store's (:mod:`geolid.cli.output_store`):

* **each part is written atomically** (a hidden temp file renamed into place), so a
  killed run leaves whole parts only; temp files of dead runs are removed;
* every part says in its file metadata (``geolid``) which model (weights sha256 and
  head fingerprint) and which result-changing options made its rows; a rerun with the
  same model and options **resumes**: the keys of the existing parts are not scored again;
* parts of **another model or other options**, files that are not geolid parts and
  unreadable parts are **refused** (exit 2, nothing touched) unless ``--overwrite``,
  which deletes the folder's Parquet files and starts afresh (a folder holding anything
  else, subfolders included, is refused even then);
* **one writer at a time**: ``<out>/_geolid.lock`` (an OS lock, ``filelock``).

The columns: :mod:`geolid.integrations.records`. Import-light: pyarrow loads in
:meth:`ParquetStore.open`, never torch.
"""
from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Set

from geolid.cli.output_store import LockedOutput, OutputRefused
from geolid.model.identity import ModelIdentity

LOCK_NAME = "_geolid.lock"
PART_PREFIX = "part-"


class ParquetStore(LockedOutput):
    """The ``--out`` Parquet dataset of one run: locked, checked, then appended part by part."""

    def __init__(self, path: os.PathLike, identity: ModelIdentity, options: Dict[str, Any],
                 overwrite: bool = False, log: Optional[IO[str]] = None):
        self.path, self.identity, self.options = Path(path), identity, options
        self.overwrite, self._log = overwrite, log
        self.done: Set[str] = set()
        self.written: List[Path] = []
        self.rows_written = 0
        self._run = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.lock_path = self.path / LOCK_NAME
        self._named = str(self.path)

    @property
    def log(self) -> IO[str]:
        return self._log or sys.stderr

    # ------------------------------------------------------------ lifecycle
    def open(self) -> Set[str]:
        """Take the lock, check the existing parts; return the keys already done."""
        if self.path.exists() and not self.path.is_dir():
            if not self.overwrite:
                raise OutputRefused(f"--out {self.path} is a file, not a geolid Parquet dataset "
                                    "(a folder of parts); choose another --out, or pass "
                                    "--overwrite to replace it")
            print(f"geolid: --overwrite: replacing {self.path}", file=self.log)
            self.path.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            self._check_existing()
        except BaseException:
            self.release()
            raise
        return self.done

    def write(self, table) -> Optional[Path]:
        """Append one part (a ``pyarrow.Table`` of the result schema), atomically."""
        import pyarrow.parquet as pq

        from geolid.integrations.records import part_metadata
        from geolid.utils.fileio import atomic_write

        if table.num_rows == 0:
            return None
        meta = dict(table.schema.metadata or {})
        meta.update(part_metadata(self.identity.to_dict(), self.options))
        table = table.replace_schema_metadata(meta)
        part = self.path / f"{PART_PREFIX}{self._run}-{len(self.written):06d}.parquet"
        with atomic_write(part, "wb") as f:
            pq.write_table(table, f)
        _fsync_dir(self.path)
        self.written.append(part)
        self.rows_written += table.num_rows
        self.done.update(table.column("key").to_pylist())
        return part

    def close(self, failed: bool = False) -> None:   # parts are final once written
        self.release()

    # -------------------------------------------------------------- helpers
    def _check_existing(self) -> None:
        from geolid.utils.fileio import remove_stale_temps

        remove_stale_temps(self.path)    # parts a killed run was writing
        # hidden and _-prefixed names (our lock, temp files of live writers, _SUCCESS, ...)
        # are skipped by every Parquet dataset reader, and here
        entries = [e for e in sorted(self.path.iterdir()) if not e.name.startswith((".", "_"))]
        why = self._refusal(entries)
        if why is None:
            return
        if not self.overwrite:
            raise OutputRefused(f"{why}; choose another --out, or pass --overwrite to replace it")
        others = [e for e in entries if e.is_dir() or e.suffix != ".parquet"]
        if others:
            raise OutputRefused(f"--overwrite: {self.path} holds {others[0].name}, which is not a "
                                "Parquet file; it is not replaced (move it away or choose "
                                "another --out)")
        print(f"geolid: --overwrite: replacing the {len(entries)} Parquet file(s) of {self.path}",
              file=self.log)
        for e in entries:
            e.unlink()
        _fsync_dir(self.path)
        self.done = set()

    def _refusal(self, entries: List[Path]) -> Optional[str]:
        """Why the existing parts must not be resumed (None: resume; ``self.done`` is set)."""
        import pyarrow.parquet as pq

        from geolid.integrations.records import read_part_metadata

        done: Set[str] = set()
        other_models: List[str] = []
        other_options = 0
        for e in entries:
            if e.is_dir() or not (e.name.startswith(PART_PREFIX) and e.suffix == ".parquet"):
                return (f"{self.path} holds {e.name}, which is not a geolid part file; it is not "
                        "geolid results")
            try:
                doc = read_part_metadata(pq.read_schema(e).metadata)
                keys = pq.read_table(e, columns=["key"]).column("key").to_pylist() if doc else []
            except Exception as err:   # pyarrow raises ArrowInvalid / OSError on damaged files
                return f"{self.path}: part {e.name} is unreadable ({str(err).splitlines()[0][:120]})"
            if doc is None:
                return f"{self.path}: {e.name} carries no geolid model identity; it is not geolid results"
            if not self.identity.same_model(doc.get("model")):
                model = doc.get("model") or {}
                desc = ModelIdentity(str(model.get("name")), str(model.get("sha256")),
                                     str(model.get("head") or "")).describe()
                if desc not in other_models:
                    other_models.append(desc)
            elif doc.get("options") != self.options:
                other_options += 1
            done.update(keys)
        if other_models:
            return (f"{self.path} holds results of another model: {', '.join(other_models)}; this "
                    f"run uses {self.identity.describe()}. Resuming would mix two models' answers")
        if other_options:
            return (f"{self.path}: {other_options} part(s) were made with other options (window, "
                    "speech detector, rejection, prior, ...) than this run; resuming would mix "
                    "answers of two settings")
        self.done = done
        return None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
