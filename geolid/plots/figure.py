"""Figures for files: matplotlib's object API, so no pyplot backend is switched.

Drawing on a bare ``matplotlib.figure.Figure`` (matplotlib's recommended way for
scripts and servers) leaves the caller's pyplot state and backend alone, works
without a display, and needs no ``plt.close``.
"""
from __future__ import annotations

import os
from typing import Tuple


def new_figure(figsize: Tuple[float, float]):
    """(figure, axes) of one subplot, not registered with pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def colormap(name: str):
    """A registered matplotlib colormap by name."""
    import matplotlib

    return matplotlib.colormaps[name]


def save_png(fig, out_png: os.PathLike | str, dpi: int = 120) -> None:
    """Save atomically: render to a temp name in the same folder, then rename."""
    from geolid.utils.fileio import atomic_write

    with atomic_write(out_png, mode="wb") as f:
        fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight")
