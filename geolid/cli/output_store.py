"""``--out``: files geolid writes, resumes, and refuses to destroy.

Rules (docs/cli.md, "What --out resumes and what it refuses"):

* A ``.jsonl`` results file is resumed only when it is ours: every line that
  parses is a geolid record (``schema_version``, ``key``, ...) made by the same
  model (weights ``model.sha256`` and scoring head ``model.head``) with the same
  result-changing options (``options``) as this run. Anything else (another program's
  JSONL, a TSV saved as ``.jsonl``, records without a model, another model's
  records) is refused with a message, unless ``--overwrite`` is given.
* A line that does not parse in the middle of our file (a damaged record) is
  reported, moved to ``<out>.damaged`` and its input is run again; every valid
  record is kept. A half-written last line (an interrupted run) is cut off.
  Both repairs rewrite the file atomically (temp file + rename).
* Other formats (tsv, json, table) are written atomically at the end; an
  existing file is replaced only when it is a geolid output of that format, or
  with ``--overwrite``.
* One writer at a time: ``<out>.lock`` is locked (``filelock``, an OS-level
  lock released when the process ends, even on kill -9) for the whole run; a
  second run on the same ``--out`` is refused at once rather than interleaving
  or duplicating records. The lock belongs to the real file: ``--out`` through a
  symbolic link (or a path with ``..`` or linked folders) locks, checks and
  writes the file the link leads to, so two names of one file share one lock.
* A run killed while writing (kill -9, power loss) can leave its temp file
  ``.<out>.<random>.<pid>.tmp`` beside ``--out``; the next run on that ``--out``
  removes those whose process is gone, once it holds the lock.
* Problems with the place itself are an :class:`OutputRefused` (one line: the
  path, what is wrong, what to do), never a traceback: a folder that cannot be
  created or written (permissions, read-only file system), a full disk or any
  other write error during the run, and a ``--out`` that is not a regular file
  (``/dev/null``, a pipe, a device: results go to a file geolid replaces
  atomically; to discard them, leave ``--out`` out and redirect stdout).

Import-light: no torch.
"""
from __future__ import annotations

import errno
import json
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, List, Optional, Set

from geolid.model.identity import ModelIdentity
from geolid.utils.fileio import remove_stale_temps

# keys every geolid record has had since schema 1; enough to tell ours from other JSONL
RECORD_KEYS = frozenset({"schema_version", "key", "language", "probability", "top_k", "error"})


class OutputRefused(Exception):
    """``--out`` names a file we must not append to or replace, one in use, or a
    place we cannot write to."""


_SPECIAL = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
            (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))


def _reason(e: OSError) -> str:
    """``No space left on device (ENOSPC)``: the words and the errno name."""
    name = errno.errorcode.get(e.errno or 0)
    return f"{e.strerror or e}{f' ({name})' if name else ''}"


def _what_to_do(e: OSError) -> str:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space or choose another --out"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "choose a folder you can write to for --out"
    return "choose another --out"


class _GuardedStream:
    """A text stream whose write errors (full disk, I/O error) become :class:`OutputRefused`."""

    def __init__(self, stream: IO[str], store: "OutputStore"):
        self._stream, self._store = stream, store

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as e:
            raise self._store.write_error(e) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as e:
            raise self._store.write_error(e) from None

    def fileno(self) -> int:
        return self._stream.fileno()

    def close(self) -> None:
        self._stream.close()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@dataclass
class ScanResult:
    """What an existing JSONL results file holds."""

    keep: List[bytes] = field(default_factory=list)       # valid record lines, with "\n"
    done: Set[str] = field(default_factory=set)           # their keys
    damaged: List[int] = field(default_factory=list)      # line numbers that do not parse
    damaged_lines: List[bytes] = field(default_factory=list)
    foreign: List[int] = field(default_factory=list)      # JSON, but not a geolid record
    truncated_tail: bool = False                          # half-written last line
    other_models: List[str] = field(default_factory=list)
    other_options: int = 0                                # records made with other options
    no_model: int = 0                                     # records without model identity
    needs_rewrite: bool = False


def is_record(obj) -> bool:
    return (isinstance(obj, dict) and RECORD_KEYS <= obj.keys()
            and isinstance(obj["schema_version"], int) and isinstance(obj["key"], str))


def scan_jsonl(path: Path, identity: ModelIdentity, options: Optional[dict] = None) -> ScanResult:
    """Classify every line of an existing results file (nothing is changed)."""
    res = ScanResult()
    with path.open("rb") as f:
        lines = f.readlines()
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            res.needs_rewrite = True
            continue
        try:
            obj = json.loads(raw)
        except ValueError:  # includes UnicodeDecodeError
            if lineno == len(lines) and not raw.endswith(b"\n"):
                res.truncated_tail = True      # the run was stopped while writing it
            else:
                res.damaged.append(lineno)
                res.damaged_lines.append(raw if raw.endswith(b"\n") else raw + b"\n")
            res.needs_rewrite = True
            continue
        if not is_record(obj):
            res.foreign.append(lineno)
            continue
        model = obj.get("model")
        if not isinstance(model, dict) or "sha256" not in model:
            res.no_model += 1
        elif not identity.same_model(model):
            desc = ModelIdentity(str(model.get("name")), str(model.get("sha256")),
                                 str(model.get("head") or "")).describe()
            if desc not in res.other_models:
                res.other_models.append(desc)
        elif options is not None and obj.get("options") != options:
            res.other_options += 1
        if not raw.endswith(b"\n"):           # complete record, only its newline is missing
            raw += b"\n"
            res.needs_rewrite = True
        res.keep.append(raw)
        res.done.add(obj["key"])
    return res


def refusal(path: Path, res: ScanResult, identity: ModelIdentity) -> Optional[str]:
    """Why ``path`` must not be resumed (None if it may be)."""
    hint = "; choose another --out, or pass --overwrite to replace it"
    if res.foreign:
        return (f"{path} holds data that is not geolid results (line {res.foreign[0]} is JSON "
                f"without the record keys {sorted(RECORD_KEYS)}){hint}")
    if not res.keep and (res.damaged or res.truncated_tail):
        return f"{path} is not geolid results (no line is a JSON record){hint}"
    if len(res.damaged) > len(res.keep):
        return (f"{path} is mostly unreadable ({len(res.damaged)} damaged lines, "
                f"{len(res.keep)} records); it is not geolid results{hint}")
    if res.no_model:
        return (f"{path}: {res.no_model} record(s) carry no model identity (written by an older "
                f"geolid or another tool), so resuming could mix models{hint}")
    if res.other_models:
        return (f"{path} holds results of another model: {', '.join(res.other_models)}; this run "
                f"uses {identity.describe()}. Resuming would mix two "
                f"models' answers{hint}")
    if res.other_options:
        return (f"{path}: {res.other_options} record(s) were made with other options (window, "
                f"speech detector, rejection, prior, ...) than this run; resuming would mix "
                f"answers of two settings{hint}")
    return None


def geolid_output_of(path: Path, fmt: str) -> bool:
    """Is ``path`` (which exists) a previous geolid output in ``fmt`` (tsv/json)?"""
    from geolid.cli.formats import tsv_header

    try:
        if fmt == "tsv":
            with path.open(encoding="utf-8") as f:
                return f.readline().rstrip("\n") == tsv_header()
        if fmt == "json":
            with path.open(encoding="utf-8") as f:
                doc = json.load(f)
            return isinstance(doc, dict) and {"schema_version", "predictions"} <= doc.keys()
    except (OSError, ValueError):
        return False
    return False


def _open_append(path: Path) -> IO[str]:
    """The JSONL results file, opened for appending."""
    return open(path, "a", encoding="utf-8")


class LockedOutput:
    """What both result stores (JSONL/TSV/JSON here, Parquet in ``parquet_store``) share:
    one writer per ``--out`` (a lock file next to it, refused at once when held) and the
    context-manager protocol. Subclasses set ``lock_path`` and ``_named`` and define
    ``open()`` / ``close(failed)``."""

    lock_path: Path
    _lock = None

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close(failed=exc_type is not None)
        return False

    def _take_lock(self) -> None:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise OutputRefused(
                f"another geolid run is writing {self._named} (it holds {self.lock_path}); wait "
                "for it to finish or choose another --out") from None
        except OSError as e:
            raise OutputRefused(f"--out {self._named}: cannot create its lock file "
                                f"{self.lock_path}: {_reason(e)}; {_what_to_do(e)}") from None
        self._lock = lock


class OutputStore(LockedOutput):
    """The ``--out`` file of one run: locked, checked, repaired, then written.

    ``open()`` returns the keys already done (resumable JSONL) and a writable
    text stream; ``close()`` finishes (atomic rename for non-JSONL formats)
    and releases the lock.
    """

    def __init__(self, path: os.PathLike, fmt: str, identity: ModelIdentity,
                 overwrite: bool = False, log: Optional[IO[str]] = None,
                 options: Optional[dict] = None):
        self.path, self.fmt, self.identity = Path(path), fmt, identity
        self.options = options     # the run's result-changing options (records carry them)
        # the file itself, whatever name --out gives it (symlinks and '..' resolved): the
        # lock, the checks and the writes are all about this one
        self.real = Path(os.path.realpath(self.path))
        self.overwrite, self._log = overwrite, log
        self.lock_path = Path(f"{self.real}.lock")
        self.done: Set[str] = set()
        self._stream = None
        self._atomic = None

    @property
    def log(self) -> IO[str]:
        return self._log or sys.stderr   # looked up late: tests and callers may swap stderr

    @property
    def resumable(self) -> bool:
        return self.fmt == "jsonl"

    # ------------------------------------------------------------ lifecycle
    def open(self) -> Set[str]:
        """Take the lock and check the existing file; return the keys already done."""
        self._check_place()
        self._take_lock()
        try:
            remove_stale_temps(self.real.parent, self.real.name)
            if self.real.exists():
                self._check_existing()
        except OSError as e:
            self.release()
            raise OutputRefused(f"--out {self._named}: cannot read or rewrite it: {_reason(e)}; "
                                f"{_what_to_do(e)}") from None
        except BaseException:
            self.release()
            raise
        return self.done

    @property
    def _named(self) -> str:
        """--out as given, and the real file when a link leads elsewhere."""
        return str(self.path) if self.real == Path(os.path.abspath(self.path)) else \
            f"{self.path} (-> {self.real})"

    def write_error(self, e: OSError) -> OutputRefused:
        """The refusal for an error while writing results (ENOSPC, EIO, ...)."""
        return OutputRefused(f"cannot write --out {self._named}: {_reason(e)}; {_what_to_do(e)}")

    def _check_place(self) -> None:
        """Refuse a --out that is not a regular file, or whose folder cannot be written."""
        real = self.real
        try:
            st = os.stat(real)
        except (FileNotFoundError, NotADirectoryError):  # its folder is made (or refused) below
            st = None
        except OSError as e:
            raise OutputRefused(f"--out {self._named}: cannot access it: {_reason(e)}; "
                                f"{_what_to_do(e)}") from None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise OutputRefused(f"--out {self._named} is a folder; give a file name")
        if st is not None and not stat.S_ISREG(st.st_mode):
            kind = next((k for is_kind, k in _SPECIAL if is_kind(st.st_mode)), "not a regular file")
            raise OutputRefused(
                f"--out {self._named} is {kind}, not a file: geolid writes results to a file it "
                "can replace atomically; to discard the results, leave out --out (they go to "
                "stdout) and redirect stdout to /dev/null")
        folder = real.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputRefused(f"--out {self._named}: cannot create its folder {folder}: "
                                f"{_reason(e)}; {_what_to_do(e)}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
            e = OSError(errno.EROFS if read_only else errno.EACCES,
                        os.strerror(errno.EROFS if read_only else errno.EACCES))
            raise OutputRefused(f"--out {self._named}: the folder {folder} is not writable: "
                                f"{_reason(e)}; {_what_to_do(e)}")

    def stream(self) -> IO[str]:
        """Where records go: appended (JSONL) or a temp file renamed on close."""
        from geolid.utils.fileio import atomic_write

        if self._stream is None:
            try:
                if self.resumable:
                    raw = _open_append(self.real)
                else:
                    self._atomic = atomic_write(self.real)
                    raw = self._atomic.__enter__()
            except OSError as e:
                self._atomic = None
                raise self.write_error(e) from None
            self._stream = _GuardedStream(raw, self)
        return self._stream

    def flush(self) -> None:
        """Make the records written so far survive a crash (JSONL)."""
        if self._stream is not None and self.resumable:
            self._stream.flush()
            try:
                os.fsync(self._stream.fileno())
            except OSError as e:
                raise self.write_error(e) from None

    def close(self, failed: bool = False) -> None:
        """Finish the file: a failed run keeps the JSONL records, and leaves
        any other format's previous file untouched. A write error while
        finishing is an :class:`OutputRefused`; after a failed run, one is
        not allowed to hide the run's own error."""
        try:
            if self._atomic is not None:
                exc = (RuntimeError, RuntimeError("run failed"), None) if failed else (None,) * 3
                self._atomic.__exit__(*exc)
            elif self._stream is not None:
                self.flush()
                self._stream.close()
        except (OSError, OutputRefused) as e:
            if failed:
                return
            raise (self.write_error(e) if isinstance(e, OSError) else e) from None
        finally:
            if failed and self._stream is not None and not self._stream.closed:
                try:
                    self._stream.close()
                except OSError:
                    pass
            self._stream = self._atomic = None
            self.release()

    # -------------------------------------------------------------- helpers
    def _check_existing(self) -> None:
        if self.real.stat().st_size == 0:
            return
        if not self.resumable:
            if not self.overwrite and not geolid_output_of(self.real, self.fmt):
                raise OutputRefused(
                    f"{self.path} exists and is not a geolid {self.fmt} output; choose another "
                    "--out, or pass --overwrite to replace it")
            return  # replaced atomically when the run ends
        res = scan_jsonl(self.real, self.identity, self.options)
        why = refusal(self.path, res, self.identity)
        if why and not self.overwrite:
            raise OutputRefused(why)
        if why:  # --overwrite: start afresh
            print(f"geolid: --overwrite: replacing {self.path}", file=self.log)
            self._rewrite([])
            return
        if res.needs_rewrite:
            self._repair(res)
        self.done = res.done

    def _repair(self, res: ScanResult) -> None:
        if res.damaged:
            damaged_path = Path(f"{self.real}.damaged")
            with open(damaged_path, "ab") as f:
                f.writelines(res.damaged_lines)
            shown = ", ".join(map(str, res.damaged[:10])) + (" ..." if len(res.damaged) > 10 else "")
            print(f"geolid: {self.path}: {len(res.damaged)} damaged line(s) skipped (line {shown}); "
                  f"moved to {damaged_path}, their inputs will be run again; "
                  f"{len(res.keep)} valid record(s) kept", file=self.log)
        if res.truncated_tail:
            print(f"geolid: {self.path}: cut an incomplete record from the end "
                  "(interrupted run)", file=self.log)
        self._rewrite(res.keep)

    def _rewrite(self, lines: List[bytes]) -> None:
        from geolid.utils.fileio import atomic_write

        with atomic_write(self.real, "wb") as f:
            f.writelines(lines)
