"""Figures for files: matplotlib's object API, so no pyplot backend is switched.

Drawing on a bare ``matplotlib.figure.Figure`` (matplotlib's recommended way for
scripts and servers) leaves the caller's pyplot state and backend alone, works
without a display, and needs no ``plt.close``.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Tuple

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def new_figure(figsize: Tuple[float, float]):
    """(figure, axes) of one subplot, not registered with pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def colormap(name: str):
    """A registered matplotlib colormap by name."""
    import matplotlib

    return matplotlib.colormaps[name]


def save_png(fig, out_png: os.PathLike | str, dpi: int = 120) -> Path:
    """Save atomically (render to a temp name in the same folder, then rename); return the path.

    The folder is created if missing. Raises :class:`OSError` with a one-line
    message naming the file and what to do when it cannot be written (a folder
    that cannot be created or written, a full disk, a target that is a folder or
    a device such as /dev/null), and when no PNG is there afterwards, so a
    caller may report success only when this returns.
    """
    from geolid.utils.fileio import atomic_write

    out = Path(out_png)
    try:
        st = os.stat(out)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as e:
        raise _cannot_write(out, e) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise OSError(f"cannot write the figure {out}: it is {kind}; give a .png file name")
    try:
        with atomic_write(out, mode="wb") as f:
            fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight")
    except OSError as e:
        raise _cannot_write(out, e) from None
    try:
        with open(out, "rb") as f:
            written = f.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    except OSError:
        written = False
    if not written:
        raise OSError(f"cannot write the figure {out}: no PNG is there after saving; check the "
                      "folder (free space, permissions) and try again")
    return out


def _cannot_write(out: Path, e: OSError) -> OSError:
    hint = ("free some space" if e.errno in (errno.ENOSPC, errno.EDQUOT)
            else "choose a folder you can write to")
    return OSError(f"cannot write the figure {out}: {e.strerror or e}; {hint}")
