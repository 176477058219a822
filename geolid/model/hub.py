"""The Hugging Face Hub: repo ids, downloads, and the local cache.

A model named ``owner/name`` is looked up in the local Hugging Face cache first
and downloaded only when missing (``huggingface_hub.snapshot_download``, only the
files a model needs). Offline without a cached copy, the error names the command
that fetches it. What a downloaded folder contains is :mod:`geolid.model.folder`'s
business. Import-light: huggingface_hub is imported on use.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from geolid.model.errors import ModelNotFoundError
from geolid.published import download_hint, hub_offline

# What a model needs; never README.md / meta.yaml (as the published download command
# excludes them), so a download into a recipe folder keeps its README.
_HUB_PATTERNS = ["*config.yaml", "*.pth", "*lang2utt*", "*.json", "*.onnx", "*.onnx.data"]


def looks_like_repo_id(name: str) -> bool:
    """``owner/name`` that is not an existing local path."""
    return (name.count("/") == 1 and not name.startswith((".", "/", "~"))
            and not Path(name).exists())


def download(repo_id: str, revision: Optional[str] = None, cache_dir: Optional[str] = None,
             local_dir: Optional[str] = None, local_files_only: bool = False) -> Path:
    """``huggingface_hub.snapshot_download`` of a model repo (only the files a model needs)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # pragma: no cover - it is a dependency
        raise ModelNotFoundError(f"huggingface_hub is not installed ({e}); pip install huggingface_hub") from e
    try:
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir,
                                      local_dir=local_dir, local_files_only=local_files_only,
                                      allow_patterns=_HUB_PATTERNS))
    except Exception as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        where = "in the local cache" if local_files_only else "on the Hugging Face Hub"
        raise ModelNotFoundError(f"Model '{repo_id}' is not available {where} "
                                 f"({type(e).__name__}: {why}). " + download_hint(repo_id)) from None


def snapshot(repo_id: str, revision: Optional[str] = None, cache_dir: Optional[str] = None) -> Path:
    """The local folder of a Hub model: from the cache, else downloaded."""
    try:
        return download(repo_id, revision, cache_dir, local_files_only=True)
    except ModelNotFoundError:
        if hub_offline():
            raise ModelNotFoundError(
                f"Model '{repo_id}' is not in the local Hugging Face cache and downloads are "
                "off (HF_HUB_OFFLINE is set). " + download_hint(repo_id)) from None
        return download(repo_id, revision, cache_dir)
