"""Reading weight files a user or the Hub supplies: tensors only, never code.

A ``.pth`` is a pickle, and unpickling can call any Python function (a crafted
file can run ``os.system``). Every checkpoint geolid loads for inference or as a
``--init_param`` is therefore read with ``torch.load(weights_only=True)``, which
accepts tensors and plain containers only, and memory-mapped (``mmap=True``) so
that the weights are paged in from the file instead of copied.

ESPnet's own ``--init_param`` loader unpickles with ``weights_only=False``;
:func:`install_safe_init_param` swaps in :func:`load_pretrained_model`, the same
loader reading through :func:`load_state_file`. Resuming training from our own
``checkpoint.pth`` (optimizer and scheduler state) stays on ESPnet's path.
"""
from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Dict, Union

import torch

logger = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A weights file that cannot be used; the message names the file."""


class UnsafeCheckpointError(CheckpointError):
    """A weights file whose pickle holds more than tensors (it could run code)."""


def load_state_file(path: Union[str, Path], map_location="cpu", mmap: bool = True
                    ) -> Dict[str, torch.Tensor]:
    """The state dict in ``path``, loaded with ``weights_only=True``.

    ``mmap=True`` maps the file instead of reading it into memory (falls back to
    a plain read for files in the pre-1.6 non-zip format, which cannot be
    mapped). A DeepSpeed-style ``{"module": state}`` wrapper is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    try:
        state = _torch_load(path, map_location, mmap)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(
            f"{path}: refused to load: the file holds Python objects besides tensors, and "
            f"unpickling them could run code ({_why(e)}). geolid loads weights only "
            "(torch.load weights_only=True). If you made this file yourself, re-save just the "
            "weights: torch.save(model.state_dict(), path).") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable PyTorch weights file (truncated, or not "
                              f"a .pth): {_why(e)}") from None
    if isinstance(state, dict) and isinstance(state.get("module"), dict):
        state = state["module"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise CheckpointError(f"{path}: expected a state dict (parameter name -> tensor), "
                              f"got {type(state).__name__}")
    return state


def _torch_load(path: Path, map_location, mmap: bool):
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except RuntimeError as e:
        if mmap and "mmap" in str(e):  # legacy (non-zip) format: cannot be mapped
            return torch.load(path, map_location=map_location, weights_only=True)
        raise


def _why(e: BaseException) -> str:
    """The informative line of a torch.load error (they run to many lines)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    for line in lines:
        if "GLOBAL" in line or "Unsupported" in line:
            return line
    return lines[0][:300] if lines else type(e).__name__


def load_pretrained_model(init_param: str, model: torch.nn.Module, ignore_init_mismatch: bool,
                          map_location: str = "cpu") -> None:
    """ESPnet's ``load_pretrained_model`` (``--init_param``), reading weights only.

    ``init_param``: ``<file_path>:<src_key>:<dst_key>:<exclude_keys>`` as in
    ESPnet; the key handling is ESPnet's, only the file read differs.
    """
    from espnet2.torch_utils.load_pretrained_model import filter_state_dict

    parts = init_param.split(":", 4)
    path, src_key, dst_key, excludes = (parts + [None] * 4)[:4]
    src_key, dst_key = src_key or None, dst_key or None
    target = model
    for name in (dst_key.split(".") if dst_key and dst_key.strip() else []):
        target = getattr(target, name)
    src_state = load_state_file(path, map_location=map_location, mmap=False)
    if excludes:
        for prefix in excludes.split(","):
            src_state = {k: v for k, v in src_state.items() if not k.startswith(prefix)}
    if src_key is not None:
        src_state = {k[len(src_key) + 1:]: v for k, v in src_state.items() if k.startswith(src_key)}
    dst_state = target.state_dict()
    if ignore_init_mismatch:
        src_state = filter_state_dict(dst_state, src_state)
    dst_state.update(src_state)
    target.load_state_dict(dst_state)


def install_safe_init_param() -> None:
    """Make ESPnet's trainer load ``--init_param`` files with :func:`load_pretrained_model`.

    ESPnet's ``AbsTask.main_worker`` calls the module-level name
    ``espnet2.tasks.abs_task.load_pretrained_model``; replacing that name is
    the only way in without copying ESPnet's whole training entry point.
    """
    from espnet2.tasks import abs_task

    abs_task.load_pretrained_model = load_pretrained_model
