"""Reliability diagram PNG: accuracy against confidence, before and after calibration."""
from __future__ import annotations

import os
from typing import Mapping, Optional, Tuple

import numpy as np

from geolid.plots.figure import save_png


def plot_reliability(curves: Mapping[str, Tuple[np.ndarray, np.ndarray]], out_png: os.PathLike | str,
                     title: Optional[str] = None, n_bins: int = 15) -> None:
    """One panel per curve name: ``{name: (probs (N, C), labels (N,))}``.

    Bars: accuracy per equal-width confidence bin; the diagonal is perfect
    calibration; the gap to it is drawn in red; the title of each panel gives its
    ECE; a histogram strip shows how many answers fall in each bin.
    """
    from geolid.inference.calibration import expected_calibration_error, reliability

    if not curves:
        raise ValueError("nothing to plot: give at least one (probs, labels) pair")
    from matplotlib.figure import Figure  # object API: no pyplot backend switched

    n = len(curves)
    fig = Figure(figsize=(3.6 * n, 4.6))
    axes = fig.subplots(2, n, squeeze=False, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    for col, (name, (probs, labels)) in enumerate(curves.items()):
        r = reliability(probs, labels, n_bins)
        centres = (r["edges"][:-1] + r["edges"][1:]) / 2
        width = 1.0 / n_bins
        ok = r["count"] > 0
        ax = axes[0, col]
        ax.bar(centres[ok], r["accuracy"][ok], width=width, edgecolor="black", linewidth=0.5,
               color="#4c72b0", label="accuracy")
        gap_lo = np.minimum(r["accuracy"][ok], r["confidence"][ok])
        ax.bar(centres[ok], np.abs(r["accuracy"][ok] - r["confidence"][ok]), bottom=gap_lo,
               width=width, color="#dd4444", alpha=0.45, label="gap")
        ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ece = expected_calibration_error(probs, labels, n_bins)
        ax.set_title(f"{name}\nECE {ece:.3f}, n={len(labels)}", fontsize=9)
        if col == 0:
            ax.set_ylabel("accuracy")
            ax.legend(loc="upper left", fontsize=7)
        hist = axes[1, col]
        hist.bar(centres, r["count"], width=width, color="grey")
        hist.set_yscale("symlog")
        hist.set_xlabel("confidence (top probability)")
        if col == 0:
            hist.set_ylabel("answers")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, out_png)
