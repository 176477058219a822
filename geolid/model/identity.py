"""Which model produced a result: its name, the sha256 of its weights, and its head.

Results files carry this in every record (``"model": {"name", "sha256", "head"}``)
so that a resumed ``--out`` run (and the recipe's stage 6) can refuse to mix two
models' answers. ``head`` is the fingerprint of the scoring head's side files
(temperature, enrolled centres, offsets: :meth:`HeadState.fingerprint`), empty
when there are none, so adding a calibration between two runs is a new model.

Why a full sha256 and not a cheap fingerprint (size, mtime, first/last MB): a
fine-tuned head or a re-packed checkpoint can share size and most bytes with
another, and a fingerprint that misses that would mix results silently. The
full hash is computed once per weights file and cached, so it costs nothing on
later runs:

* a Hugging Face cache file is a link to ``blobs/<sha256>`` (the Hub stores LFS
  files under their sha256), so its hash is read off the name;
* any other file is hashed once (about 1 s per GB) and the result is kept in
  ``$GEOLID_CACHE`` (default ``$XDG_CACHE_HOME/geolid`` or ``~/.cache/geolid``),
  keyed by the resolved path, size and modification time, so an edited or
  replaced file is hashed again.

Import-light: no torch.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

logger = logging.getLogger(__name__)

_HF_BLOB = re.compile(r"^[0-9a-f]{64}$")
_CACHE_NAME = "weights_sha256.json"


@dataclass(frozen=True)
class ModelIdentity:
    name: str       # what the user passed as --model (repo id, folder or .pth)
    sha256: str     # of the weights file
    head: str = ""  # fingerprint of the scoring head's side files ("" : none)

    def to_dict(self) -> Dict[str, str]:
        return {"name": self.name, "sha256": self.sha256, "head": self.head}

    def same_model(self, record_model: Optional[dict]) -> bool:
        """Did ``record_model`` (a record's ``model`` field) come from this very model?"""
        return (isinstance(record_model, dict) and record_model.get("sha256") == self.sha256
                and (record_model.get("head") or "") == self.head)

    def describe(self) -> str:
        return f"{self.name} (sha256 {self.sha256[:12]}" + (f", head {self.head[:12]})" if self.head else ")")


def cache_dir() -> Path:
    if os.environ.get("GEOLID_CACHE"):
        return Path(os.environ["GEOLID_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "geolid"


def weights_sha256(path: os.PathLike) -> str:
    """sha256 of a weights file (hex), from the HF blob name, the cache, or hashed."""
    real = Path(path).resolve()
    if real.parent.name == "blobs" and _HF_BLOB.match(real.name):
        return real.name
    st = real.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    cache = _read_cache()
    hit = cache.get(str(real))
    if hit and all(hit.get(k) == v for k, v in stamp.items()):
        return hit["sha256"]
    digest = _hash_file(real)
    cache[str(real)] = {**stamp, "sha256": digest}
    _write_cache(cache)
    return digest


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _read_cache() -> Dict[str, dict]:
    try:
        with open(cache_dir() / _CACHE_NAME, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(cache: Dict[str, dict]) -> None:
    """Best effort: an unwritable cache only means hashing again next time."""
    from geolid.utils.fileio import atomic_write

    try:
        with atomic_write(cache_dir() / _CACHE_NAME) as f:
            json.dump(cache, f)
    except OSError as e:
        logger.debug("weights hash cache not written: %s", e)
