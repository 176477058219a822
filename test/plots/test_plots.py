"""PNG outputs: confusion matrix, t-SNE, world map (offline, with fallback)."""
import builtins

import numpy as np
import pytest

from geolid.plots.confusion import plot_confusion, plot_confusion_matrix
from geolid.plots.tsne import plot_language_averages, plot_tsne, tsne_2d
from geolid.plots.world_map import plot_locations
from geolid.scoring.metrics import score_lids


def _image(path, min_kb=5):
    import matplotlib.image as mpimg
    assert path.stat().st_size > min_kb * 1024
    return mpimg.imread(str(path))


def test_confusion_small_and_large(tmp_path):
    r = score_lids({"a": "eng", "b": "fra", "c": "fra"}, {"a": "eng", "b": "unknown", "c": "fra"})
    out = tmp_path / "cm.png"
    plot_confusion(r, out, title="small")
    img = _image(out)
    assert img.shape[0] > 300 and img.shape[1] > 300
    rng = np.random.default_rng(0)
    labels = [f"l{i:03d}" for i in range(110)]
    counts = np.diag(rng.integers(5, 20, 110)) + rng.integers(0, 2, (110, 110))
    big = tmp_path / "big.png"
    plot_confusion_matrix(labels, counts, big)
    assert _image(big, min_kb=50).shape[0] > 2000
    with pytest.raises(ValueError, match="expected"):
        plot_confusion_matrix(["a"], np.zeros((2, 2)), tmp_path / "bad.png")


def test_tsne_few_points(tmp_path):
    rng = np.random.default_rng(0)
    emb = {"eng": rng.normal(0, 1, (3, 16)), "fra": rng.normal(3, 1, (2, 16))}
    pts = plot_tsne(emb, tmp_path / "t.png", perplexity=30)
    assert pts.shape == (5, 2)
    _image(tmp_path / "t.png")
    avg = plot_language_averages(emb, tmp_path / "avg.png")
    assert set(avg) == {"eng", "fra"}
    _image(tmp_path / "avg.png")
    assert tsne_2d(np.ones((1, 4))).shape == (1, 2)


def test_tsne_separates_clusters(tmp_path):
    rng = np.random.default_rng(1)
    emb = {f"l{i}": rng.normal(10 * i, 0.5, (15, 8)) for i in range(3)}
    pts = plot_tsne(emb, tmp_path / "t.png", seed=0)
    cents = np.stack([pts[15 * i:15 * (i + 1)].mean(0) for i in range(3)])
    spread = max(pts[15 * i:15 * (i + 1)].std(0).max() for i in range(3))
    gaps = [np.linalg.norm(cents[i] - cents[j]) for i in range(3) for j in range(i)]
    assert min(gaps) > 2 * spread


POINTS = [{"lat": 53.0, "lon": -1.0, "label": "eng", "kind": "true"},
          {"lat": 48.9, "lon": 2.3, "label": "eng", "kind": "predicted"},
          {"lat": 35.0, "lon": 135.0, "label": "jpn", "kind": "predicted"}]


RED, BLUE = (0.839, 0.153, 0.157), (0.122, 0.467, 0.706)  # tab:red (predicted), tab:blue (true)


def _colour_columns(img, rgb, tol=0.06):
    """Relative x positions (0..1) of the pixels of one marker colour."""
    hit = (np.abs(img[..., :3] - np.asarray(rgb)) < tol).all(-1)
    return np.nonzero(hit)[1] / img.shape[1]


@pytest.mark.parametrize("use_basemap", [True, False])
def test_world_map_draws_markers_where_the_points_are(tmp_path, use_basemap):
    """Markers in their colours at the right longitudes; an empty map has none."""
    empty, full = tmp_path / "empty.png", tmp_path / "map.png"
    backend = "basemap" if use_basemap else "plain"
    assert plot_locations([], empty, use_basemap=use_basemap) == backend
    assert plot_locations(POINTS, full, title="demo", use_basemap=use_basemap) == backend
    blank, img = _image(empty), _image(full, min_kb=20 if use_basemap else 5)
    assert img.shape[1] > 1000
    assert _colour_columns(blank, RED).size == 0 and _colour_columns(blank, BLUE).size == 0
    red, blue = _colour_columns(img, RED), _colour_columns(img, BLUE)
    assert red.size > 20 and blue.size > 20
    # predicted: Paris (2.3 E) near the middle, Japan (135 E) far right; true: England
    # (1 W) near the middle only (the legend's markers sit at the far left)
    assert ((red > 0.4) & (red < 0.6)).sum() > 10 and (red > 0.75).sum() > 10
    assert ((blue > 0.4) & (blue < 0.6)).sum() > 10 and not (blue > 0.6).any()


def test_world_map_fallback_without_basemap(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("mpl_toolkits.basemap"):
            raise ImportError("no basemap here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    out = tmp_path / "plain.png"
    with pytest.warns(RuntimeWarning, match="basemap unavailable"):
        assert plot_locations(POINTS, out) == "plain"
    _image(out)


def test_world_map_bad_points(tmp_path):
    with pytest.raises(ValueError, match="point 0 needs numeric"):
        plot_locations([{"lat": "x"}], tmp_path / "m.png")
    with pytest.raises(ValueError, match="kind must be"):
        plot_locations([{"lat": 1, "lon": 2, "kind": "guess"}], tmp_path / "m.png")


def test_reliability_diagram(tmp_path):
    from geolid.plots.reliability import plot_reliability

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5) * 0.3, size=200)
    labels = rng.integers(0, 5, 200)
    out = tmp_path / "rel.png"
    plot_reliability({"before": (probs, labels), "after": (probs ** 0.5 / (probs ** 0.5).sum(1, keepdims=True),
                                                           labels)}, out, title="t")
    img = _image(out, min_kb=10)
    assert img.shape[1] > img.shape[0] > 300      # two panels side by side
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_reliability({}, tmp_path / "x.png")


# ------------------------------------------------ --map: success only when the PNG is there
def test_world_map_creates_missing_folders(tmp_path):
    out = tmp_path / "not" / "yet" / "there" / "m.png"
    assert plot_locations(POINTS, out, use_basemap=False) == "plain"
    _image(out)


def test_world_map_that_cannot_be_written_raises_a_clear_oserror(tmp_path, monkeypatch):
    import os

    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "dir" / "m.png"                 # its folder cannot be made: a file is there
    with pytest.raises(OSError) as e:
        plot_locations(POINTS, target, use_basemap=False)
    msg = str(e.value)
    assert msg.startswith(f"cannot write the figure {target}: ") and "\n" not in msg
    assert "choose a folder you can write to" in msg and not target.exists()
    folder = tmp_path / "a_folder.png"
    folder.mkdir()
    with pytest.raises(OSError, match="it is a folder"):
        plot_locations(POINTS, folder, use_basemap=False)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="pipe.png: it is not a regular file"):
        plot_locations(POINTS, fifo, use_basemap=False)
    assert fifo.is_fifo()


def test_world_map_is_not_reported_written_when_no_png_is_there(tmp_path, monkeypatch):
    """A writer that 'succeeds' without a file (or with no PNG in it) is an error."""
    import contextlib
    import io

    from geolid.utils import fileio

    @contextlib.contextmanager
    def lost(path, *a, **k):
        yield io.BytesIO()                              # rendered, never reaches the disk

    monkeypatch.setattr(fileio, "atomic_write", lost)
    out = tmp_path / "m.png"
    with pytest.raises(OSError, match=f"cannot write the figure {out}: no PNG is there"):
        plot_locations(POINTS, out, use_basemap=False)
