"""Small helpers shared by the corpus modules (errors, folder checks, hub access)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, List, Union

from geolid.data.datadir import DataPrepError

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]


class CorpusError(DataPrepError):
    """The raw corpus is missing or not laid out as expected; the message says what to do."""


def require_dir(path: PathLike, corpus: str, fix: str) -> Path:
    """``path`` as a Path if it is a directory, else a :class:`CorpusError` saying ``fix``."""
    path = Path(path)
    if not path.is_dir():
        raise CorpusError(f"{corpus}: folder '{path}' not found. {fix}")
    return path


def files_with_suffix(folder: Path, suffix: str) -> List[Path]:
    """Sorted files directly in ``folder`` ending in ``suffix`` (case-insensitive)."""
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.lower().endswith(suffix.lower()))


def check_original_id(original_id: str, where: PathLike) -> str:
    """A corpus id becomes part of a Kaldi key: it must be non-empty and space-free."""
    if not original_id or any(c.isspace() for c in original_id) or "/" in original_id:
        raise CorpusError(f"{where}: id {original_id!r} is empty or contains whitespace or '/'; "
                          "Kaldi keys cannot hold it: rename the file or fix the list")
    return original_id


def hub_call(corpus: str, what: str, local_fix: str, call: Callable):
    """Run a Hugging Face Hub call; turn any failure into a :class:`CorpusError`.

    Offline machines, gated repos and missing files all end up here with a
    message naming both ways out: fix the connection/token, or use a local copy.
    """
    try:
        return call()
    except ImportError as exc:
        raise CorpusError(f"{corpus}: downloading {what} needs a package that is not "
                          f"installed ({exc}); install it, or {local_fix}") from None
    except Exception as exc:  # network, auth, missing file: all end the same way
        raise CorpusError(
            f"{corpus}: could not download {what} from the Hugging Face Hub "
            f"({type(exc).__name__}: {exc}). Check the network (HF_HUB_OFFLINE must be unset) "
            f"and, for gated data, HF_TOKEN; or {local_fix}") from None
