"""Decoding URIEL geo vectors into latitude/longitude."""
import numpy as np
import pytest

from geolid.geo import location as L


@pytest.fixture(scope="module")
def dec():
    return L.default_decoder().fit()


def test_haversine_known_distances():
    assert L.haversine_km(0, 0, 0, 0) == pytest.approx(0)
    # a quarter of the equator, and London -> Paris (~344 km)
    assert L.haversine_km(0, 0, 0, 90) == pytest.approx(np.pi / 2 * L.EARTH_RADIUS_KM)
    assert L.haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.6, abs=1)
    assert L.haversine_km(0, 179, 0, -179) == pytest.approx(222.4, abs=0.5)


def test_uriel_vector_is_angle_over_pi(dec):
    """The fixed-point recovery explains the data to its 4-decimal rounding."""
    vec = L.language_geo_vector("jpn")
    pos, rms = L.trilaterate(vec[None], dec.points, np.array([dec.coordinates("jpn")]), iters=2)
    assert rms[0] < 1e-4


@pytest.mark.parametrize("iso3,lat,lon", [("eng", 53.0, -1.0), ("fra", 48.0, 2.0),
                                          ("jpn", 35.0, 135.0), ("cmn", 40.0, 116.2),
                                          ("swh", -8.27, 37.62), ("quz", -14.07, -71.77)])
def test_language_coordinates(iso3, lat, lon):
    got = L.language_coordinates(iso3)
    assert L.haversine_km(got[0], got[1], lat, lon) < 5


def test_decode_true_vectors_of_known_languages(dec):
    codes = ["eng", "fra", "jpn", "swh", "quz"]
    vecs = np.stack([L.language_geo_vector(c) for c in codes])
    lat, lon = dec.decode(vecs)
    for c, la, lo in zip(codes, lat, lon):
        tla, tlo = dec.coordinates(c)
        assert L.haversine_km(la, lo, tla, tlo) < 5, c
    one = dec.decode(vecs[0])
    assert isinstance(one[0], float) and L.haversine_km(*one, 53.0, -1.0) < 5


def test_held_out_noisy_and_shrunk_error(dec):
    """Languages not used to recover the fixed points; thresholds ~1.5x the
    medians measured by bench/geo_decoding.py (39 km, 96 km, 157 km)."""
    langs, vecs, _ = L.load_uriel_geo()
    ok = np.nonzero(L.located_languages(vecs))[0]
    rng = np.random.default_rng(0)
    idx = rng.choice(np.setdiff1d(ok, dec.fit_indices), 300, replace=False)
    clean = vecs[idx]
    true = np.stack(dec.decode(clean, mode="exact"), 1)
    cases = {0.02: (clean + rng.normal(0, 0.02, clean.shape), 60),
             0.05: (clean + rng.normal(0, 0.05, clean.shape), 150),
             "shrunk": (0.5 * clean + 0.5 * vecs[ok].mean(0) + rng.normal(0, 0.02, clean.shape), 250)}
    for name, (x, limit) in cases.items():
        lat, lon = dec.decode(x)
        err = np.median(L.haversine_km(lat, lon, true[:, 0], true[:, 1]))
        assert err < limit, (name, err)


def test_affine_invariance_and_out_of_range(dec):
    v = L.language_geo_vector("swh")
    lat, lon = dec.decode(1.7 * v - 0.4)  # leaves [0, 1]
    assert L.haversine_km(lat, lon, *dec.coordinates("swh")) < 5


def test_errors(dec):
    with pytest.raises(ValueError, match=r"shape \(299,\)"):
        dec.decode(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        dec.decode(np.full(299, np.nan))
    with pytest.raises(KeyError, match="no URIEL location"):
        L.language_coordinates("zxx")  # URIEL stores an all-ones vector for it
    with pytest.raises(ValueError, match="unknown GeoDecoder mode"):
        L.GeoDecoder(mode="magic")


def test_unit_vector_roundtrip():
    lat, lon = np.array([10.0, -45.0, 89.0]), np.array([-170.0, 20.0, 3.0])
    la, lo = L.from_unit(L.to_unit(lat, lon))
    assert np.allclose(la, lat) and np.allclose(lo, lon)


def test_fixed_points_are_fitted_once_and_cached(tmp_path, monkeypatch):
    """The fixed-point fit (1.4 s) runs once per machine: later starts read the cache,
    and a damaged cache file is refitted."""
    import geolid.geo.location as location

    monkeypatch.setenv("GEOLID_CACHE", str(tmp_path))
    calls = []
    real = location.refine_fixed_points
    monkeypatch.setattr(location, "refine_fixed_points", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = location.GeoDecoder().fit().points
    second = location.GeoDecoder().fit().points
    assert len(calls) == 1 and np.array_equal(first, second)
    (cached,) = tmp_path.glob("uriel_fixed_points_*.npy")
    cached.write_bytes(b"garbage")
    third = location.GeoDecoder().fit().points
    assert len(calls) == 2 and np.array_equal(first, third)
