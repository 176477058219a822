"""One languages module: ISO check, names, URIEL vectors, class order."""
from __future__ import annotations

import numpy as np
import pytest

from geolid import languages as L


def test_iso3_shape():
    assert L.is_iso3("eng") and L.is_iso3("cmn")
    for bad in ("en", "ENG", "engg", "eng\n", "e1g", "", None):
        assert not L.is_iso3(bad)


def test_names():
    assert L.language_name("eng") == "English"
    assert L.language_name("cmn") == "Mandarin Chinese"
    assert L.language_name("zxx") == "No linguistic content"
    assert L.language_name("qqq") is None and L.language_name("not a tag") is None


@pytest.mark.parametrize("feature_set,dim", [("geo", 299), ("phonology_knn", 28),
                                             ("syntax_knn", 103), ("inventory_knn", 158)])
def test_uriel_vectors_equal_lang2vec_get_features(feature_set, dim):
    """Our loader reads lang2vec's data; lang2vec's own API must give the same numbers."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lang2vec.lang2vec as l2v

    codes = ["eng", "cmn", "ara", "swh", "yue", "tgl", "en"]  # 'ara': a macrolanguage row
    ref = l2v.get_features(codes, feature_set)
    for code in codes:
        mine = L.uriel_vector(code, feature_set)
        assert mine.shape == (dim,) and mine.dtype == np.float32
        np.testing.assert_array_equal(mine, np.asarray(ref[code], dtype=np.float64).astype(np.float32))


def test_uriel_vectors_are_cached_and_read_only():
    v = L.uriel_vector("deu")
    assert v is L.uriel_vector("deu") and not v.flags.writeable
    assert L.has_uriel_vector("deu") and not L.has_uriel_vector("qqq")


def test_unknown_codes_name_the_code_and_suggest():
    with pytest.raises(L.UnknownLanguageError) as e:
        L.uriel_vector("engg")
    assert "'engg'" in str(e.value) and "'eng'" in str(e.value)
    with pytest.raises(ValueError, match="Unknown URIEL feature set 'geox'"):
        L.uriel_table("geox")


def test_class_order_is_file_order(tmp_path):
    p = tmp_path / "lang2utt"
    p.write_text("\ufefffra\tfra_1 fra_2\n\neng eng_1\ncmn\n", encoding="utf-8")
    assert L.read_class_order(p) == ["fra", "eng", "cmn"]


@pytest.mark.parametrize("text,needle", [("", "is empty"), ("eng a\nfra b\neng c\n",
                                                              "lang2utt:3: language 'eng' listed twice")])
def test_class_order_errors(tmp_path, text, needle):
    p = tmp_path / "lang2utt"
    p.write_text(text)
    with pytest.raises(L.LanguageListError, match=needle):
        L.read_class_order(p)
    with pytest.raises(L.LanguageListError, match="not found"):
        L.read_class_order(tmp_path / "missing")
