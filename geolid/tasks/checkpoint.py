"""Reading weight files a user or the Hub supplies: tensors only, never code.

A ``.pth`` is a pickle, and unpickling can call any Python function (a crafted
file can run ``os.system``). Every checkpoint geolid loads for inference or as a
``--init_param`` is therefore read with ``torch.load(weights_only=True)``, which
accepts tensors and plain containers only, and memory-mapped (``mmap=True``) so
that the weights are paged in from the file instead of copied.

ESPnet's own loaders unpickle with ``weights_only=False``, so geolid's training
entry point avoids both: ``--init_param`` files are applied by
``GeoLIDTask.build_model`` with :func:`load_pretrained_model` (ESPnet's key
handling, reading through :func:`load_state_file`), and ``--resume`` reads
``checkpoint.pth`` with :func:`load_training_state` (weights-only, plus exactly
the non-tensor types ESPnet's reporter stores) in
:class:`geolid.tasks.trainer.GeoLIDTrainer`.

A file that fails to load is told apart: :class:`UnsafeCheckpointError` when its
pickle refers to Python functions or classes (it could run code), a plain
:class:`CheckpointError` when it is not a PyTorch file at all (random bytes, a
truncated download).
"""
from __future__ import annotations

import logging
import pickle
import pickletools
import re
import zipfile
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Union

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
    except Exception as e:  # torch.load raises many types for files that are not its own
        raise _load_error(path, e) from None
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


_WEIGHTS_FIX = ("If you made this file yourself, re-save just the weights: "
                "torch.save(model.state_dict(), path).")


def _load_error(path: Path, e: BaseException, noun: str = "weights file",
                accepts: str = "weights only (torch.load weights_only=True)",
                fix: str = _WEIGHTS_FIX,
                reread: str = "download or copy it again, or check that --model names a .pth"
                ) -> CheckpointError:
    """Tell a file that holds Python objects (refused: it could run code) from one
    that is not a PyTorch file at all (random bytes, a truncated download)."""
    objects = _python_objects(path, e)
    if objects:
        return UnsafeCheckpointError(
            f"{path}: refused to load: the file holds Python objects besides tensors "
            f"({', '.join(objects[:5])}), and unpickling them could run code. geolid loads "
            f"{accepts}. {fix}")
    kind = "truncated or damaged zip archive" if _starts_like_zip(path) else \
        "neither a PyTorch zip archive nor a pickle"
    return CheckpointError(f"{path}: not a readable PyTorch {noun} ({kind}: {_why(e)}); {reread}")


def training_state_globals() -> list:
    """The non-tensor types ESPnet's ``checkpoint.pth`` holds, and only those.

    ``Reporter.state_dict()`` keeps per-epoch statistics: ``numpy.float64`` means
    (``np.nanmean`` of unweighted values such as ``train_time`` or ``grad_norm``)
    and a ``datetime.timedelta`` per epoch and mode. A numpy scalar is pickled as
    ``numpy._core.multiarray.scalar(dtype, bytes)``, with the dtype's class.
    Optimizer, scheduler (``TristageLR``, torch's) and ``GradScaler`` states are
    tensors, numbers, strings and plain containers, which weights-only loading
    accepts anyway.
    """
    import datetime

    import numpy as np

    float64 = np.float64(0.0)
    return [float64.__reduce__()[0], np.dtype, type(float64.dtype), datetime.timedelta]


def load_training_state(path: Union[str, Path], map_location="cpu") -> dict:
    """``checkpoint.pth`` (ESPnet's resume file) read through the weights-only unpickler.

    Tensors, plain containers and exactly :func:`training_state_globals` are
    accepted (a ``torch.serialization.safe_globals`` context: nothing is added
    process-wide); anything else is refused with :class:`UnsafeCheckpointError`
    before a single object of it is built.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: training checkpoint not found")
    try:
        with torch.serialization.safe_globals(training_state_globals()):
            states = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise _load_error(
            path, e, noun="training checkpoint", accepts="training state with tensors, numbers "
            "and ESPnet's reporter statistics only (torch.load weights_only=True)",
            fix="Delete or move it to train from scratch (or pass --resume false); to continue "
                "from its weights, use an epoch's .pth with --init_param.",
            reread="delete or move it to train from scratch, or pass --resume false") from None
    missing = [k for k in ("model", "reporter", "optimizers", "schedulers", "scaler")
               if not isinstance(states, dict) or k not in states]
    if missing:
        raise CheckpointError(f"{path}: not an ESPnet training checkpoint (no {missing}); delete "
                              "or move it to train from scratch, or pass --resume false")
    return states


def _starts_like_zip(path: Path) -> bool:
    """Does the file begin like a zip archive (``torch.save``'s format since 1.6)?"""
    with path.open("rb") as f:
        return f.read(4) == b"PK\x03\x04"


def _python_objects(path: Path, e: BaseException) -> List[str]:
    """The globals (functions, classes) the file's pickle refers to that made the
    weights-only load fail; empty when the failure is not about globals."""
    if not isinstance(e, pickle.UnpicklingError):
        return []
    # torch's weights-only unpickler names what it refused: a global, or a class it won't build
    named = re.findall(r"GLOBAL ([\w.]+)|but got <class '([\w.]+)'>", str(e))
    disallowed = [a or b for a, b in named]
    if disallowed:
        return list(dict.fromkeys(disallowed))
    if zipfile.is_zipfile(path):
        try:
            return list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
        except Exception:  # the archive's pickle itself is damaged
            return []
    # A pickle torch's unpickler stopped at before any global (a protocol-4 pickle.dump):
    # list the globals of the complete pickles at the start of the file, never running them.
    with path.open("rb") as f:
        return pickle_globals(f) or []


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
               "BINSTRING", "SHORT_BINSTRING"}


def pickle_globals(stream: BinaryIO, max_pickles: int = 8) -> Optional[List[str]]:
    """Names of the globals the pickles at the start of ``stream`` refer to (``module.name``).

    Only parses opcodes (:func:`pickletools.genops`), so nothing runs. None when the
    stream does not start with a complete pickle (random bytes, text, a cut file).
    Legacy ``torch.save`` files are several pickles in a row followed by raw storage
    bytes; parsing stops at the first part that is not a complete pickle.
    """
    names: List[str] = []
    complete = 0
    for _ in range(max_pickles):
        values: List[Optional[str]] = []   # what the recent opcodes pushed (strings only)
        memo: Dict[int, Optional[str]] = {}
        found: List[str] = []
        try:
            for op, arg, _pos in pickletools.genops(stream):
                name = op.name
                if name in _STRING_OPS:
                    values.append(arg if isinstance(arg, str) else str(arg))
                elif name == "MEMOIZE":
                    memo[len(memo)] = values[-1] if values else None
                elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                    memo[int(arg)] = values[-1] if values else None
                elif name in ("GET", "BINGET", "LONG_BINGET"):
                    values.append(memo.get(int(arg)))
                elif name in ("GLOBAL", "INST"):
                    found.append(str(arg).replace(" ", "."))
                elif name == "STACK_GLOBAL":
                    module, attr = (values[-2:] if len(values) >= 2 else [None, None])
                    found.append(f"{module}.{attr}" if module and attr else "<unknown global>")
                else:
                    values.append(None)
        except Exception:  # not (or no longer) a pickle
            break
        complete += 1
        names.extend(n for n in found if n not in names)
    return names if complete else None


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
