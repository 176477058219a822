"""Split a Kaldi file into parallel jobs and merge their outputs back.

``split_scp`` cuts a ``key value`` file into ``n`` contiguous parts of (almost)
equal line counts, ``OUT_DIR/keys.1.scp`` ... ``keys.N.scp``, like Kaldi's
``split_scp.pl``; ``merge_kaldi_files`` concatenates per-job outputs, sorts them
by key and refuses duplicate keys. Both write atomically.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

from geolid.utils.fileio import atomic_write, read_kaldi_lines

PathLike = Union[str, os.PathLike]

_PART_RE = re.compile(r"^keys\.(\d+)\.scp$")


class KaldiFileError(ValueError):
    """A Kaldi file to split or merge is missing or malformed; the message names it."""


# Not espnet2.bin.split_scps: it deals lines out round-robin (per-job outputs would not
# merge back in order), refuses n=1 or fewer lines than n, and writes in place.
def split_scp(scp: PathLike, n: int, out_dir: PathLike) -> List[Path]:
    """Split ``scp`` into ``min(n, lines)`` contiguous parts ``out_dir/keys.<i>.scp``.

    Parts differ by at most one line; the first ones get the extra lines. Parts
    left in ``out_dir`` by an earlier split into more jobs are removed. Returns
    the part paths in order.
    """
    scp, out_dir = Path(scp), Path(out_dir)
    if not isinstance(n, int) or n < 1:
        raise KaldiFileError(f"split {scp}: the number of parts must be a positive integer, "
                             f"got {n!r}")
    if not scp.is_file():
        raise KaldiFileError(f"split: {scp} not found")
    rows = read_kaldi_lines(scp)
    if not rows:
        raise KaldiFileError(f"split: {scp} is empty; nothing to split into jobs")
    _check_unique([(str(scp), line, key) for line, key, _ in rows])
    n = min(n, len(rows))
    size, extra = divmod(len(rows), n)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts, begin = [], 0
    for i in range(1, n + 1):
        end = begin + size + (1 if i <= extra else 0)
        part = out_dir / f"keys.{i}.scp"
        with atomic_write(part) as f:
            f.write("".join(_line(key, rest) for _, key, rest in rows[begin:end]))
        parts.append(part)
        begin = end
    for old in out_dir.iterdir():
        m = _PART_RE.match(old.name)
        if m and int(m.group(1)) > n:
            old.unlink()
    return parts


def merge_kaldi_files(parts: Sequence[PathLike], out: PathLike) -> Path:
    """Concatenate ``parts`` into ``out``, sorted by key; a key may appear only once."""
    if not parts:
        raise KaldiFileError(f"merge into {out}: no input files given")
    rows: List[Tuple[str, int, str, str]] = []
    for part in parts:
        if not Path(part).is_file():
            raise KaldiFileError(f"merge into {out}: {part} not found (did that job fail? check "
                                 "its log)")
        rows.extend((str(part), line, key, rest) for line, key, rest in read_kaldi_lines(part))
    _check_unique([(path, line, key) for path, line, key, _ in rows])
    rows.sort(key=lambda r: r[2])
    with atomic_write(out) as f:
        f.write("".join(_line(key, rest) for _, _, key, rest in rows))
    return Path(out)


def _line(key: str, rest: str) -> str:
    return f"{key} {rest}\n" if rest else f"{key}\n"


def _check_unique(keys: Sequence[Tuple[str, int, str]]) -> None:
    seen: Dict[str, Tuple[str, int]] = {}
    for path, line, key in keys:
        if key in seen:
            first = seen[key]
            raise KaldiFileError(f"{path}:{line}: duplicate key '{key}' (also at {first[0]}:"
                                 f"{first[1]}); keys must be unique")
        seen[key] = (path, line)
