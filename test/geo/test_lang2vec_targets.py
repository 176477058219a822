import numpy as np
import pytest

from geolid.geo import lang2vec_targets as t


def test_geo_vector_values_match_uriel():
    v = t.get_lang2vec("eng")
    assert v.shape == (299,) and v.dtype == np.float32
    np.testing.assert_allclose(v[:3], [0.7665, 0.7924, 0.8278], atol=1e-6)
    assert 0.0 <= v.min() and v.max() <= 1.0


@pytest.mark.parametrize("kind,dim", [("geo", 299), ("phonology_knn", 28), ("syntax_knn", 103),
                                      ("inventory_knn", 158)])
def test_every_type_has_its_dimension(kind, dim):
    assert t.get_lang2vec("fra", kind).shape == (dim,)
    assert t.lang2vec_dim(kind) == dim
    assert t.is_binary(kind) == (kind != "geo")


def test_vectors_are_cached():
    assert t.get_lang2vec("deu") is t.get_lang2vec("deu")


def test_macrolanguage_codes_resolve():
    # lang2vec resolves some codes it does not list, e.g. the Arabic macrolanguage.
    assert t.get_lang2vec("ara").shape == (299,)


def test_unknown_code_names_it_and_suggests():
    with pytest.raises(t.UnknownLanguageError) as e:
        t.get_lang2vec("engg")
    msg = str(e.value)
    assert "'engg'" in msg and "eng" in msg and "ISO 639-3" in msg


def test_unknown_type_is_rejected():
    with pytest.raises(ValueError, match="lang2vec_type 'geox'"):
        t.get_lang2vec("eng", "geox")


def test_language_without_vector_values(monkeypatch):
    from geolid import languages

    real = languages.uriel_table("geo")
    values = real.values.copy()
    values[real.index["kok"]] = -1  # lang2vec's mark of a missing value
    monkeypatch.setattr(languages, "uriel_table", lambda s="geo": real.__class__(
        real.feature_set, real.langs, real.features, values, real.index))
    languages.uriel_vector.cache_clear()
    try:
        with pytest.raises(t.UnknownLanguageError, match="'kok' has no 'geo' vector"):
            t.get_lang2vec("kok")
    finally:
        languages.uriel_vector.cache_clear()


def test_table_reports_all_bad_codes_at_once():
    with pytest.raises(t.UnknownLanguageError) as e:
        t.lang2vec_table(["eng", "xxq", "yyq"])
    assert "'xxq'" in str(e.value) and "'yyq'" in str(e.value)
    table = t.lang2vec_table(["eng", "cmn"])
    assert table.shape == (2, 299)
    np.testing.assert_array_equal(table[1], t.get_lang2vec("cmn"))
