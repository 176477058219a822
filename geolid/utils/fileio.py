"""Small file helpers shared by the recipe, the data preparation and the CLI.

Kaldi-style text files ("key value..." per line) are the lingua franca of ESPnet
recipes; every writer here is atomic (write to a temp file in the same folder,
then ``os.replace``) so an interrupted job never leaves a half-written file.
"""
from __future__ import annotations

import codecs
import contextlib
import glob
import os
import re
import tempfile
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

PathLike = Union[str, os.PathLike]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; results are meant to be shared like any other file.
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", encoding: str | None = "utf-8",
                 fsync: bool = True) -> Iterator:
    """Open a temp file next to ``path``; rename it over ``path`` on success.

    This is geolid's one atomic writer (text files, JSON, audio, downloads). The
    temp file ``.<name>.<random>.<pid>.tmp`` carries the writer's process id, so
    :func:`remove_stale_temps` can clear those of killed processes. ``fsync=False``
    skips the flush to disk, for many small files whose readers check them anyway.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                               suffix=f".{os.getpid()}.tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def remove_stale_temps(folder: PathLike, name: Optional[str] = None) -> int:
    """Delete the ``.*.<pid>.tmp`` files of :func:`atomic_write` whose process is gone.

    With ``name``, only the temps of that one target file (``.<name>.<random>.<pid>.tmp``).
    A temp whose process id is alive is kept, whoever that process is.
    """
    removed = 0
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    pattern = re.compile(r"\.%s\.[A-Za-z0-9_]+\.(\d+)\.tmp" % re.escape(name)) if name else None
    for tmp in folder.glob(f".{glob.escape(name)}.*.tmp" if name else ".*.tmp"):
        if pattern is not None:
            match = pattern.fullmatch(tmp.name)
            pid = match.group(1) if match else ""
        else:
            pid = tmp.name[:-len(".tmp")].rpartition(".")[2]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    """Is process ``pid`` running (a zombie, killed but not yet reaped, is not)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


# Kaldi splits a line at its first run of ASCII white space (space or tab) and
# trims the rest; other Unicode spaces (e.g. U+00A0) may be part of a path.
_KALDI_SPACE = re.compile(r"[ \t\r\f\v]+")


def read_kaldi_lines(path: PathLike) -> List[Tuple[int, str, str]]:
    """(line number, key, rest) for each non-empty line of a Kaldi-style file.

    The one parser of Kaldi text files (wav.scp, utt2lang, lang2utt, segments ...)
    in geolid. As Kaldi does, the key ends at the first space or tab and the rest
    is trimmed; a UTF-8 byte-order mark (left by some Windows editors) is dropped
    rather than becoming part of the first key. Text that is not UTF-8 is an error
    naming the line.
    """
    rows = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not UTF-8 text ({e.reason} at byte "
                                 f"{e.start}); save the file as UTF-8") from None
            fields = _KALDI_SPACE.split(line.strip(" \t\r\n\f\v"), maxsplit=1)
            if not fields[0]:
                continue
            rows.append((lineno, fields[0], fields[1] if len(fields) > 1 else ""))
    return rows


def read_kaldi_map(path: PathLike) -> Dict[str, str]:
    """``key -> rest of line``; a duplicate key is an error naming both lines."""
    out: Dict[str, str] = {}
    first_seen: Dict[str, int] = {}
    for lineno, key, rest in read_kaldi_lines(path):
        if key in out:
            raise ValueError(
                f"{path}:{lineno}: duplicate key '{key}' (first seen on line "
                f"{first_seen[key]}); keys must be unique"
            )
        out[key] = rest
        first_seen[key] = lineno
    return out


def write_kaldi_map(path: PathLike, mapping: Mapping[str, object] | Iterable[Tuple[str, object]],
                    sort: bool = True) -> None:
    """Write ``key value`` lines atomically (sorted by key unless ``sort=False``).

    A value that is a list/tuple is joined with spaces (lang2utt style).
    """
    items = list(mapping.items()) if isinstance(mapping, Mapping) else list(mapping)
    if sort:
        items.sort(key=lambda kv: kv[0])
    with atomic_write(path) as f:
        for key, value in items:
            if isinstance(value, (list, tuple)):
                value = " ".join(str(v) for v in value)
            f.write(f"{key} {value}\n")
