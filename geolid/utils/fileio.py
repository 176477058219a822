"""Small file helpers shared by the recipe, the data preparation and the CLI.

Kaldi-style text files ("key value..." per line) are the lingua franca of ESPnet
recipes; every writer here is atomic (write to a temp file in the same folder,
then ``os.replace``) so an interrupted job never leaves a half-written file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Tuple, Union

PathLike = Union[str, os.PathLike]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; results are meant to be shared like any other file.
_FILE_MODE = 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open a temp file next to ``path``; rename it over ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_kaldi_lines(path: PathLike) -> List[Tuple[int, str, str]]:
    """(line number, key, rest) for each non-empty line of a Kaldi-style file."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            key, _, rest = line.strip().partition(" ")
            rows.append((lineno, key, rest.strip()))
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
