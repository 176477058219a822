"""Turn a 299-d URIEL "geo" vector into a latitude/longitude.

How URIEL builds the vector (verified on the data shipped in lang2vec 1.1.2,
``geocoord_features.npz``): feature ``GC_<lat>_<lon>`` is the great-circle angle
between the language's location and a fixed point on a unit sphere, divided by pi
(so 0 = same place, 1 = antipode). The fixed points are named by their coordinates
rounded to whole degrees; their exact positions are not shipped.

Decoding is therefore a trilateration problem. :class:`GeoDecoder`

1. recovers the fixed points' exact positions from the data (alternating least
   squares between 1000 language locations and the 299 fixed points, starting
   from the rounded names; the rms residual falls from 1.4e-3 to 3e-5, i.e. to the
   4-decimal rounding of the stored values),
2. decodes a vector by a grid search over ~5000 points on the sphere followed by
   Levenberg-Marquardt refinement, allowing a free scale, offset and pull towards
   the mean vector (see :class:`GeoDecoder` modes). That freedom is what makes it
   robust to model outputs: an MSE regressor shrinks uncertain predictions towards
   the mean vector, and its outputs may leave [0, 1].

``bench/geo_decoding.py`` compares this with nearest-neighbour, k-NN and ridge
decoders (held-out languages, clean and noisy inputs).
"""
from __future__ import annotations

import threading
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from geolid.languages import suggest_codes, uriel_table

EARTH_RADIUS_KM = 6371.0088
GEO_DIM = 299


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasts)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def to_unit(lat, lon) -> np.ndarray:
    """Degrees -> unit vectors (..., 3)."""
    phi, lmb = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(phi) * np.cos(lmb), np.cos(phi) * np.sin(lmb), np.sin(phi)], -1)


def from_unit(xyz: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Unit (or any non-zero) vectors (..., 3) -> (lat, lon) in degrees."""
    xyz = np.asarray(xyz, dtype=float)
    norm = np.linalg.norm(xyz, axis=-1)
    lat = np.degrees(np.arcsin(np.clip(xyz[..., 2] / np.maximum(norm, 1e-12), -1, 1)))
    lon = np.degrees(np.arctan2(xyz[..., 1], xyz[..., 0]))
    return lat, lon


def fibonacci_sphere(n: int) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` nearly evenly spaced points on the sphere, as (lat, lon) degrees."""
    i = np.arange(n) + 0.5
    lat = np.degrees(np.arcsin(1 - 2 * i / n))
    lon = (np.degrees(np.pi * (1 + 5 ** 0.5) * i) + 180) % 360 - 180
    return lat, lon


# ----------------------------------------------------------------------------- data
_URIEL_CACHE: Dict[str, object] = {}
_LOCK = threading.Lock()


def load_uriel_geo() -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(langs (L,), vectors (L, 299), fixed_points (299, 2) lat/lon as named)``.

    The vectors are URIEL's "geo" set as :func:`geolid.languages.uriel_table` loads
    it; each feature is named after its fixed point (``GC_<lat>_<lon>``).
    """
    with _LOCK:
        if "data" not in _URIEL_CACHE:
            table = uriel_table("geo")
            points = np.array([[float(x) for x in n.split("_")[1:3]] for n in table.features])
            _URIEL_CACHE["data"] = (table.langs, table.values, points)
        return _URIEL_CACHE["data"]  # type: ignore[return-value]


# ---------------------------------------------------------------------- trilateration
def _angles_and_jacobian(lat, lon, alat, alon):
    """Angles (N, M) between points (N,) and anchors (M,) in radians, with the
    derivatives of the angle w.r.t. lat and lon of the points (radians)."""
    phi, lmb = lat[:, None], lon[:, None]
    aphi, almb = alat[None, :], alon[None, :]
    dl = lmb - almb
    sp, cp, sa, ca = np.sin(phi), np.cos(phi), np.sin(aphi), np.cos(aphi)
    cos_t = np.clip(sp * sa + cp * ca * np.cos(dl), -1.0, 1.0)
    theta = np.arccos(cos_t)
    # d(theta) = -d(cos theta) / sin(theta); keep away from 0 and pi (flat there)
    sin_t = np.maximum(np.sqrt(1 - cos_t ** 2), 1e-6)
    d_phi = -(cp * sa - sp * ca * np.cos(dl)) / sin_t
    d_lmb = (cp * ca * np.sin(dl)) / sin_t
    return theta, d_phi, d_lmb


def nuisance_basis(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Orthonormal basis (M, k) of the given column directions (QR)."""
    q, _ = np.linalg.qr(np.stack([np.asarray(c, dtype=np.float64) for c in columns], 1))
    return q


def _project_out(x: np.ndarray, basis: Optional[np.ndarray]) -> np.ndarray:
    """Remove from the rows of ``x`` their component in span(basis)."""
    return x if basis is None else x - (x @ basis) @ basis.T


def trilaterate(values: np.ndarray, anchors: np.ndarray, init: np.ndarray,
                basis: Optional[np.ndarray] = None, iters: int = 15) -> Tuple[np.ndarray, np.ndarray]:
    """Locate each row of ``values`` (N, M) such that ``angle(x, anchor_m) / pi ~= v_m``.

    ``basis=None`` fits that relation exactly (URIEL's definition). With a basis
    (M, k), the fit is ``a * angle / pi + basis @ c ~= v`` with a free scale
    ``a > 0`` and free coefficients ``c`` per row: components along the basis
    (a constant offset, a pull towards the mean vector) are ignored.
    ``anchors`` (M, 2) and ``init`` (N, 2) are lat/lon degrees. Levenberg-Marquardt
    over lat/lon, vectorised across rows. Returns (positions (N, 2) degrees,
    rms residual (N,)).
    """
    values = np.asarray(values, dtype=np.float64)
    vp = _project_out(values, basis)
    alat, alon = np.radians(anchors[:, 0]), np.radians(anchors[:, 1])
    lat, lon = np.radians(init[:, 0]).copy(), np.radians(init[:, 1]).copy()
    damp = np.full(len(values), 1e-3)

    def residual(lat_, lon_):
        theta, dp, dl = _angles_and_jacobian(lat_, lon_, alat, alon)
        t = _project_out(theta / np.pi, basis)
        if basis is None:
            return t - vp, dp / np.pi, dl / np.pi
        # best scale for this position (variable projection); positive, since a
        # flipped map would mean "far is near"
        a = np.maximum((t * vp).sum(1) / np.maximum((t * t).sum(1), 1e-12), 1e-3)[:, None]
        return (a * t - vp, a * _project_out(dp, basis) / np.pi,
                a * _project_out(dl, basis) / np.pi)

    r, jp, jl = residual(lat, lon)
    cost = (r ** 2).sum(1)
    for _ in range(iters):
        # 2x2 normal equations per row
        g = np.stack([(jp * r).sum(1), (jl * r).sum(1)], 1)
        h11, h12, h22 = (jp * jp).sum(1), (jp * jl).sum(1), (jl * jl).sum(1)
        h11d, h22d = h11 * (1 + damp) + 1e-9, h22 * (1 + damp) + 1e-9
        det = h11d * h22d - h12 ** 2
        step_p = -(h22d * g[:, 0] - h12 * g[:, 1]) / det
        step_l = -(-h12 * g[:, 0] + h11d * g[:, 1]) / det
        # cap steps at ~10 degrees so a bad start cannot fly off
        scale = np.minimum(1.0, 0.17 / np.maximum(np.hypot(step_p, step_l), 1e-12))
        nlat = np.clip(lat + step_p * scale, -np.pi / 2, np.pi / 2)
        nlon = lon + step_l * scale
        nr, njp, njl = residual(nlat, nlon)
        ncost = (nr ** 2).sum(1)
        better = ncost < cost
        lat, lon = np.where(better, nlat, lat), np.where(better, nlon, lon)
        r = np.where(better[:, None], nr, r)
        jp = np.where(better[:, None], njp, jp)
        jl = np.where(better[:, None], njl, jl)
        cost = np.where(better, ncost, cost)
        damp = np.where(better, damp * 0.3, damp * 10)
    lon = (np.degrees(lon) + 180) % 360 - 180
    return np.stack([np.degrees(lat), lon], 1), np.sqrt(cost / values.shape[1])


class GridTable:
    """Angles from ~``size`` evenly spaced candidate points to the anchors, kept for
    the grid-search start of :func:`trilaterate` (computed once per anchor set
    and basis)."""

    def __init__(self, anchors: np.ndarray, basis: Optional[np.ndarray] = None,
                 size: int = 5000):
        self.lat, self.lon = fibonacci_sphere(size)
        self.basis = basis
        t = _angles_and_jacobian(np.radians(self.lat), np.radians(self.lon),
                                 np.radians(anchors[:, 0]), np.radians(anchors[:, 1]))[0] / np.pi
        if basis is None:
            self.t, self.sq_norm = t, (t * t).sum(1)
        else:
            tp = _project_out(t, basis)
            self.t_unit = tp / np.maximum(np.linalg.norm(tp, axis=1, keepdims=True), 1e-12)

    def best(self, values: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """Best grid point per row: least squares (no basis) or highest
        correlation after removing the basis directions."""
        best = np.empty(len(values), dtype=int)
        for s in range(0, len(values), chunk):
            v = values[s:s + chunk]
            if self.basis is None:
                score = 2 * v @ self.t.T - self.sq_norm[None, :]
            else:
                score = v @ self.t_unit.T  # t_unit is already orthogonal to the basis
            best[s:s + chunk] = np.argmax(score, 1)
        return np.stack([self.lat[best], self.lon[best]], 1)


def locate(values: np.ndarray, anchors: np.ndarray, basis: Optional[np.ndarray] = None,
           grid: Optional[GridTable] = None, iters: int = 15) -> Tuple[np.ndarray, np.ndarray]:
    """Grid search then Levenberg-Marquardt; see :func:`trilaterate`."""
    grid = grid if grid is not None else GridTable(anchors, basis)
    return trilaterate(values, anchors, grid.best(values), basis=basis, iters=iters)


def refine_fixed_points(vectors: np.ndarray, named_points: np.ndarray,
                        rounds: int = 3) -> np.ndarray:
    """Exact fixed-point positions from language vectors (rows with real locations).

    Alternates: locate the languages from the points, then the points from the
    languages (the problem is symmetric in the two). Starting from the rounded
    names, the rms residual drops from 1.4e-3 to 3e-5, the 4-decimal rounding of
    the stored values.
    """
    points = named_points.astype(float)
    langs, _ = locate(vectors, points)
    for _ in range(rounds):
        points, _ = trilaterate(vectors.T, langs, points, iters=8)
        langs, _ = trilaterate(vectors, points, langs, iters=8)
    return points


def _cached_fixed_points(vectors: np.ndarray, named_points: np.ndarray) -> np.ndarray:
    """:func:`refine_fixed_points`, kept in ``$GEOLID_CACHE`` (1.4 s at every start otherwise),
    keyed by a hash of its inputs, so another lang2vec release refits. Best effort: an
    unreadable or unwritable cache only means fitting again."""
    import hashlib

    from geolid.model.identity import cache_dir
    from geolid.utils.fileio import atomic_write

    key = hashlib.sha256(np.ascontiguousarray(vectors).tobytes()
                         + np.ascontiguousarray(named_points).tobytes()).hexdigest()[:16]
    path = cache_dir() / f"uriel_fixed_points_{key}.npy"
    try:
        points = np.load(path)
        if points.shape == named_points.shape and np.isfinite(points).all():
            return points
    except (OSError, ValueError):
        pass
    points = refine_fixed_points(vectors, named_points)
    try:
        with atomic_write(path, "wb") as f:
            np.save(f, points)
    except OSError:
        pass
    return points


def located_languages(vectors: np.ndarray) -> np.ndarray:
    """Mask of rows that carry a location: URIEL stores all-ones vectors for
    non-languages (und, mis, mul, zxx, zbl)."""
    return vectors.std(1) > 1e-3


# --------------------------------------------------------------------------- decoder
class GeoDecoder:
    """Decode URIEL geo vectors (or model predictions of them) into (lat, lon).

    ``mode`` says what the fit may ignore (see :func:`trilaterate`):

    * ``"exact"``: nothing; the vector must be ``angle / pi`` (clean URIEL vectors),
    * ``"affine"``: a free scale and offset,
    * ``"shrink"``: a free scale, offset and pull towards the mean URIEL vector,
      which is what an MSE regressor does when unsure. Much better on such blurred
      predictions, but about 2x worse on merely noisy ones (one more nuisance
      direction that resembles the signal),
    * ``"auto"`` (default): fits both "affine" and "shrink" and keeps "shrink" only
      where the extra direction is significant (F-test, p < 0.001); within a few
      percent of the better of the two in every case of ``bench/geo_decoding.py``.

    Fitted lazily on first use from lang2vec's data (about 1.5 s, kept in memory;
    :func:`default_decoder` shares one instance per process).
    """

    MODES = ("exact", "affine", "shrink", "auto")
    #: F(1, ~294) critical value at p = 0.001 for the "auto" choice
    F_CRIT = 10.9
    #: languages used to recover the fixed points (plenty: 2 unknowns per point)
    N_FIT_LANGS = 1000

    def __init__(self, mode: str = "auto", grid_size: int = 5000):
        if mode not in self.MODES:
            raise ValueError(f"unknown GeoDecoder mode '{mode}'; choose from {self.MODES}")
        self.mode = mode
        self.grid_size = grid_size
        self._fitted = False
        self._lock = threading.Lock()
        self._coords: Dict[str, Tuple[float, float]] = {}
        self._grids: Dict[str, GridTable] = {}

    def fit(self) -> "GeoDecoder":
        """Recover the fixed points' exact positions (once)."""
        with self._lock:
            if not self._fitted:
                langs, vecs, named = load_uriel_geo()
                ok = np.nonzero(located_languages(vecs))[0]
                # a fixed, evenly strided subset keeps the fit deterministic and fast
                sub = ok[np.linspace(0, len(ok) - 1, min(self.N_FIT_LANGS, len(ok))).astype(int)]
                self.fit_indices = sub  # rows used; the rest are held out
                self.points = _cached_fixed_points(vecs[sub], named)
                ones = np.ones(vecs.shape[1])
                self.bases = {"exact": None, "affine": nuisance_basis([ones]),
                              "shrink": nuisance_basis([ones, vecs[ok].mean(0)])}
                self.lang_index = {str(langs[i]): int(i) for i in ok}
                self._fitted = True
        return self

    def _grid(self, mode: str) -> GridTable:
        with self._lock:
            if mode not in self._grids:
                self._grids[mode] = GridTable(self.points, self.bases[mode], self.grid_size)
            return self._grids[mode]

    def decode(self, vec: np.ndarray, mode: Optional[str] = None):
        """``vec`` (299,) or (N, 299) -> (lat, lon) degrees: floats for one vector,
        arrays (N,) for a batch. Values outside [0, 1] are fine (see class doc)."""
        self.fit()
        mode = self.mode if mode is None else mode
        if mode not in self.MODES:
            raise ValueError(f"unknown GeoDecoder mode '{mode}'; choose from {self.MODES}")
        v = np.asarray(vec, dtype=np.float64)
        single = v.ndim == 1
        v = np.atleast_2d(v)
        if v.ndim != 2 or v.shape[1] != GEO_DIM:
            raise ValueError(f"expected a geo vector of shape ({GEO_DIM},) or (N, {GEO_DIM}), "
                             f"got {np.asarray(vec).shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError("geo vector contains NaN/inf values")
        if mode == "auto":
            pos = self._locate_auto(v)
        else:
            pos, _ = locate(v, self.points, self.bases[mode], grid=self._grid(mode))
        if single:
            return float(pos[0, 0]), float(pos[0, 1])
        return pos[:, 0], pos[:, 1]

    def _locate_auto(self, v: np.ndarray) -> np.ndarray:
        pos_a, rms_a = locate(v, self.points, self.bases["affine"], grid=self._grid("affine"))
        pos_s, rms_s = locate(v, self.points, self.bases["shrink"], grid=self._grid("shrink"))
        dof = v.shape[1] - 5  # lat, lon, scale, offset, mean coefficient
        f_stat = (rms_a ** 2 - rms_s ** 2) / np.maximum(rms_s ** 2 / dof, 1e-300)
        return np.where((f_stat > self.F_CRIT)[:, None], pos_s, pos_a)

    def coordinates(self, iso3: str) -> Tuple[float, float]:
        """URIEL location of a language (decoded exactly from its clean vector)."""
        self.fit()
        if iso3 not in self._coords:
            if iso3 not in self.lang_index:
                hint = suggest_codes(iso3)
                raise KeyError(f"language '{iso3}' has no URIEL location; use an ISO 639-3 "
                               "code known to lang2vec (e.g. 'eng', 'fra', 'cmn')"
                               + (f"; close matches: {hint}" if hint else ""))
            vec = load_uriel_geo()[1][self.lang_index[iso3]]
            self._coords[iso3] = self.decode(vec, mode="exact")
        return self._coords[iso3]



_DEFAULT: Optional[GeoDecoder] = None


def default_decoder() -> GeoDecoder:
    """Process-wide decoder (fitted once)."""
    global _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            _DEFAULT = GeoDecoder()
    return _DEFAULT


def language_coordinates(iso3: str) -> Tuple[float, float]:
    """(lat, lon) in degrees of a language as located by URIEL."""
    return default_decoder().coordinates(iso3)


def language_geo_vector(iso3: str) -> np.ndarray:
    """The language's 299-d URIEL geo vector (same values as lang2vec's ``geo`` set)."""
    langs, vecs, _ = load_uriel_geo()
    idx = np.nonzero(langs == iso3)[0]
    if len(idx) == 0:
        raise KeyError(f"language '{iso3}' has no URIEL geo vector")
    return vecs[idx[0]].copy()
