"""Confusion-matrix PNG (rows normalised to sum 1, i.e. per-language recall)."""
from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

import numpy as np

from geolid.plots.figure import new_figure, save_png

#: above this many labels the cells carry no numbers (they would be unreadable)
ANNOTATE_MAX = 25


def plot_confusion_matrix(labels: Sequence[str], counts: np.ndarray, out_png: os.PathLike | str,
                          title: Optional[str] = None) -> None:
    """Draw ``counts`` (rows = reference, columns = hypothesis) row-normalised."""
    counts = np.asarray(counts, dtype=float)
    n = len(labels)
    if counts.shape != (n, n):
        raise ValueError(f"confusion matrix is {counts.shape}, expected ({n}, {n}) for {n} labels")
    rows = counts.sum(1, keepdims=True)
    norm = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    side = min(4 + 0.22 * n, 30)  # ~110 languages still get ~2 mm per cell
    fig, ax = new_figure((side, side))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    fontsize = max(3.5, min(10, 300 / max(n, 1)))
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(labels, rotation=90, fontsize=fontsize)
    ax.set_yticklabels(labels, fontsize=fontsize)
    ax.set_xlabel("hypothesis")
    ax.set_ylabel("reference")
    if title:
        ax.set_title(title)
    if n <= ANNOTATE_MAX:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=fontsize,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of reference row")
    save_png(fig, out_png)


def plot_confusion(result: Mapping, out_png: os.PathLike | str, title: Optional[str] = None) -> None:
    """Draw the confusion matrix of a :func:`geolid.scoring.metrics.score_lids` result.

    Hypothesis-only labels (``unknown``, ``<missing>``) appear as extra columns
    (and empty rows) at the end.
    """
    cm = result["confusion_matrix"]
    plot_confusion_matrix(cm["labels"], np.asarray(cm["counts"]), out_png, title=title)
