"""t-SNE plots of language embeddings (recipe stage 8)."""
from __future__ import annotations

import os
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

from geolid.plots.figure import colormap, new_figure, save_png


def _stack(embeddings: Mapping[str, np.ndarray]) -> Tuple[np.ndarray, np.ndarray, list]:
    """(X (N, D), label index (N,), languages) from ``lang -> (n, D)`` arrays."""
    langs = sorted(embeddings)
    if not langs:
        raise ValueError("no embeddings to plot")
    xs, ys = [], []
    dim = None
    for i, lang in enumerate(langs):
        x = np.atleast_2d(np.asarray(embeddings[lang], dtype=np.float64))
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"embeddings of '{lang}' must be (N, D) with N >= 1, got {x.shape}")
        if dim is not None and x.shape[1] != dim:
            raise ValueError(f"embeddings of '{lang}' have dim {x.shape[1]}, others {dim}")
        dim = x.shape[1]
        xs.append(x)
        ys.append(np.full(len(x), i))
    return np.concatenate(xs), np.concatenate(ys), langs


def tsne_2d(x: np.ndarray, seed: int = 0, perplexity: float = 30.0,
            max_iter: int = 1000) -> np.ndarray:
    """2-D t-SNE; perplexity is clamped below the sample count (sklearn requires
    ``perplexity < n_samples``). One or two points are placed without t-SNE."""
    n = len(x)
    if n <= 2:
        return np.array([[0.0, 0.0], [1.0, 0.0]])[:n]
    from sklearn.manifold import TSNE
    perp = float(min(perplexity, max(1.0, (n - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perp, random_state=seed, init="pca",
                learning_rate="auto", max_iter=max_iter).fit_transform(x)


def _colours(n: int):
    cmap = colormap("tab20" if n <= 20 else "gist_ncar")
    return [cmap(i / max(n - 1, 1)) if n > 20 else cmap(i) for i in range(n)]


def plot_tsne(embeddings: Mapping[str, np.ndarray], out_png: os.PathLike | str, seed: int = 0,
              perplexity: float = 30.0, title: Optional[str] = None,
              max_iter: int = 1000) -> np.ndarray:
    """t-SNE of utterance embeddings, one colour per language, the language code
    written at each language's centroid. Returns the 2-D points (N, 2)."""
    x, y, langs = _stack(embeddings)
    pts = tsne_2d(x, seed=seed, perplexity=perplexity, max_iter=max_iter)
    colours = _colours(len(langs))
    fig, ax = new_figure((10, 10))
    for i, lang in enumerate(langs):
        sel = y == i
        ax.scatter(pts[sel, 0], pts[sel, 1], s=8, color=colours[i], alpha=0.7, label=lang)
        cx, cy = pts[sel].mean(0)
        ax.annotate(lang, (cx, cy), fontsize=8, ha="center", va="center", weight="bold")
    if len(langs) <= 30:
        ax.legend(markerscale=2, fontsize=7, loc="best", ncol=2)
    ax.set_title(title or f"t-SNE of language embeddings ({len(x)} utterances, {len(langs)} languages)")
    ax.set_xticks([])
    ax.set_yticks([])
    save_png(fig, out_png)
    return pts


def plot_language_averages(embeddings: Mapping[str, np.ndarray], out_png: os.PathLike | str,
                           seed: int = 0, perplexity: float = 30.0,
                           title: Optional[str] = None, max_iter: int = 1000) -> Dict[str, np.ndarray]:
    """t-SNE of each language's average (length-normalised) embedding, one labelled
    point per language. Returns ``lang -> 2-D point``."""
    langs = sorted(embeddings)
    if not langs:
        raise ValueError("no embeddings to plot")
    means = []
    for lang in langs:
        e = np.atleast_2d(np.asarray(embeddings[lang], dtype=np.float64))
        e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        means.append(e.mean(0))
    pts = tsne_2d(np.stack(means), seed=seed, perplexity=perplexity, max_iter=max_iter)
    colours = _colours(len(langs))
    fig, ax = new_figure((10, 10))
    ax.scatter(pts[:, 0], pts[:, 1], s=30, c=colours)
    for i, lang in enumerate(langs):
        ax.annotate(lang, pts[i], fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.set_title(title or f"t-SNE of average language embeddings ({len(langs)} languages)")
    ax.set_xticks([])
    ax.set_yticks([])
    save_png(fig, out_png)
    return {lang: pts[i] for i, lang in enumerate(langs)}
