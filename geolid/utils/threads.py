"""Share the machine's CPU cores among the geolid processes running at once, without a daemon.

Every PyTorch process starts one intra-op thread per core. Two ``geolid
predict`` at once on 2 cores then run 4 busy threads on 2 cores, and
oversubscribed OpenMP threads wait on each other at every parallel region:
measured here, two runs at once took 67-85 s against 26 s one after the other
(14 s each with ``OMP_NUM_THREADS=1``), four at once 249 s against 57 s.

How: each process holds an exclusive ``fcntl.flock`` on one slot file
(``slot-000`` ... ``slot-063``) in a per-user runtime folder,
``$XDG_RUNTIME_DIR/geolid/cores`` or else ``/tmp/geolid-$UID/cores`` (created
0700; a folder that is a symlink or another user's is not used, and the share
falls back to all cores). The holders are counted by trying a non-blocking
shared lock on each slot; the kernel drops a process's lock when it ends, even
on ``kill -9``, so nothing is ever left to clean up. A process then uses
``max(1, cores // holders)`` intra-op threads, ``cores`` being
``len(os.sched_getaffinity(0))``.

API (for ``geolid predict``, the service and Ray workers)::

    from geolid.utils.threads import CoreShare, apply_to_onnxruntime

    with CoreShare() as share:          # registers; sets torch's threads if torch is imported
        for batch in batches:
            share.refresh()             # re-count; torch.set_num_threads() when it changed
            model(batch)

* ``CoreShare(threads=None)``: automatic share. ``threads=N`` (an int, e.g. a
  ``--threads`` option): that many, fixed; the process still registers, so the
  others count it. ``cores=`` replaces the affinity core count (tests, or a
  container quota the affinity does not show); ``folder=`` the slot folder.
* ``GEOLID_THREADS=N`` in the environment fixes the count when ``threads`` is
  None (an explicit ``threads=`` argument wins over it; ``GEOLID_THREADS=auto``
  or empty means automatic). Anything else is a ``ValueError`` naming it.
* ``share.threads``: the current choice. ``share.refresh()``: re-count (about
  64 open/flock/close system calls, well under a millisecond) and apply it;
  call it between batches, so that an earlier process gives cores back when a
  later one starts and takes them again when it ends. It returns the count.
* On entry the share is applied at once; on exit the slot is released and
  torch's thread count is restored to what it was before.
* ``apply_to_onnxruntime(session_options, share)``: sets
  ``intra_op_num_threads`` (and ``inter_op_num_threads = 1``) on an
  ``onnxruntime.SessionOptions`` before the session is created. ONNX Runtime
  fixes its pool at session creation, so ``refresh()`` does not resize a
  running session; build the session inside the share.

Nothing here imports torch: :meth:`CoreShare.refresh` calls
``torch.set_num_threads`` only if torch is already imported (``torch`` in
``sys.modules``). Linux/POSIX only (``fcntl``); where it is missing the share
is all cores and nothing is registered.
"""
from __future__ import annotations

import errno
import logging
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Optional

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

logger = logging.getLogger(__name__)

ENV = "GEOLID_THREADS"
SLOTS = 64


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_folder() -> Path:
    """``$XDG_RUNTIME_DIR/geolid/cores``, else ``/tmp/geolid-$UID/cores`` (not created here)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "geolid" / "cores"
    return Path("/tmp") / f"geolid-{os.getuid()}" / "cores"


def threads_from_env() -> Optional[int]:
    """``GEOLID_THREADS`` as a positive int; None if unset, empty or ``auto``."""
    value = os.environ.get(ENV, "").strip()
    if value in ("", "auto"):
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV}={value!r}: give a positive number of threads, or 'auto'")
    return n


def _private_folder(folder: Path, parent_too: bool) -> bool:
    """Create ``folder`` (0700, and its parent when ``parent_too``); True if it is a
    real folder of this user that others cannot write to.

    A symlink, or a folder another user owns or may write to, could make us count
    someone else's files or create ours where we should not: those are not used.
    """
    parts = [folder.parent, folder] if parent_too else [folder]
    for part in parts:
        try:
            os.mkdir(part, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            logger.debug("core share: cannot create %s: %s", part, e)
            return False
        try:
            st = os.lstat(part)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
            logger.warning("core share: %s is not a private folder of this user; not sharing "
                           "cores (remove it, or set XDG_RUNTIME_DIR)", part)
            return False
    return True


class CoreShare:
    """This process's share of the CPU cores among concurrent geolid processes (module docstring)."""

    _entered: list = []     # shares entered in this process, innermost last (CoreShare.active)

    def __init__(self, threads: Optional[int] = None, cores: Optional[int] = None,
                 folder: Optional[os.PathLike] = None, slots: int = SLOTS):
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads={threads!r}: give a positive number of threads, or None")
        self.requested = threads
        self.cores = int(cores) if cores is not None else available_cores()
        if self.cores < 1:
            raise ValueError(f"cores={cores!r}: must be at least 1")
        self._default_folder = folder is None
        self.folder = Path(folder) if folder is not None else default_folder()
        self.slots = slots
        self._usable = False           # the folder is ours and private (set on entry)
        self.fixed: Optional[int] = None
        self.slot: Optional[int] = None
        self.holders = 1
        self.threads = threads or self.cores
        self._fd: Optional[int] = None
        self._torch_before: Optional[int] = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> "CoreShare":
        self.fixed = self.requested if self.requested is not None else threads_from_env()
        if "torch" in sys.modules:
            self._torch_before = sys.modules["torch"].get_num_threads()
        self._usable = fcntl is not None and _private_folder(self.folder, self._default_folder)
        if self._usable:
            self._register()
        self.refresh()
        CoreShare._entered.append(self)
        return self

    @classmethod
    def active(cls) -> Optional["CoreShare"]:
        """The share this process is running under (None outside any), e.g. for an ONNX
        Runtime session created deep inside a run, which must size its pool at creation."""
        return cls._entered[-1] if cls._entered else None

    def __exit__(self, *exc) -> bool:
        if self in CoreShare._entered:
            CoreShare._entered.remove(self)
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)          # closing the descriptor drops the lock
                self._fd, self.slot = None, None
            self._usable = False
            torch = sys.modules.get("torch")
            if torch is not None and self._torch_before is not None:
                torch.set_num_threads(self._torch_before)
        return False

    def _register(self) -> None:
        """Hold the first free slot (an exclusive flock on its file)."""
        for i in range(self.slots):
            try:
                fd = os.open(self.folder / f"slot-{i:03d}", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                             0o600)
            except OSError as e:
                logger.debug("core share: cannot open slot %d: %s", i, e)
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    continue
                logger.debug("core share: cannot lock slot %d: %s", i, e)
                return
            self._fd, self.slot = fd, i
            return
        logger.info("core share: all %d slots of %s are held; using 1 thread", self.slots,
                    self.folder)

    # ---------------------------------------------------------------- counting
    def count_holders(self) -> int:
        """Live holders of a slot, this process included (at least 1)."""
        if not self._usable:
            return 1
        held = 1 if self.slot is not None else 0
        for i in range(self.slots):
            if i == self.slot:
                continue
            try:
                fd = os.open(self.folder / f"slot-{i:03d}", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue                     # never created (or not ours to read): free
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError as e:
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    held += 1
            finally:
                os.close(fd)
        if self.slot is None and held >= self.slots:
            held += 1                        # every slot taken by others, and us besides
        return max(1, held)

    def refresh(self) -> int:
        """Re-count the holders, apply the share to torch (if imported), return it."""
        with self._lock:
            self.holders = self.count_holders()
            threads = self.fixed if self.fixed is not None else max(1, self.cores // self.holders)
            self.threads = threads
            torch = sys.modules.get("torch")
            if torch is not None and torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            return threads

    def __repr__(self) -> str:
        mode = f"fixed {self.fixed}" if self.fixed is not None else "automatic"
        return (f"CoreShare(threads={self.threads}, {mode}, cores={self.cores}, "
                f"holders={self.holders}, slot={self.slot}, folder={self.folder})")


def apply_to_onnxruntime(session_options, share: CoreShare):
    """Size an ``onnxruntime.SessionOptions``' pools by ``share`` (before creating the session)."""
    session_options.intra_op_num_threads = int(share.threads)
    session_options.inter_op_num_threads = 1
    return session_options
