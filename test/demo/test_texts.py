"""Sentence lists: coverage, lang2vec labels, disjoint deterministic splits."""
import pytest

from geolid_demo.corpus import VOICE_PLANS
from geolid_demo.texts import get_text, split_sentences, text_languages


def test_every_planned_language_has_many_distinct_sentences():
    assert set(text_languages()) == set(VOICE_PLANS)
    assert len(text_languages()) >= 14
    for iso3 in text_languages():
        sentences = get_text(iso3).sentences()
        assert len(sentences) >= 500, iso3
        assert len(set(sentences)) == len(sentences), iso3
        assert all("{" not in s and s.strip() == s for s in sentences), iso3


def test_all_inhabited_continents_covered():
    continents = {get_text(i).continent for i in text_languages()}
    assert {"Europe", "Asia", "Africa", "North America", "South America", "Oceania"} <= continents
    from geolid_demo.corpus import DEMO_LANGUAGES
    assert {get_text(i).continent for i in DEMO_LANGUAGES} == continents


def test_labels_have_lang2vec_geo_vectors():
    import lang2vec.lang2vec as l2v

    codes = text_languages()
    feats = l2v.get_features(codes, "geo")
    for iso3 in codes:
        assert len(feats[iso3]) == 299, iso3


def test_splits_disjoint_sized_and_deterministic():
    sizes = {"train": 40, "dev": 10, "test": 15, "test_accent": 15}
    a = split_sentences("eng", sizes, seed=0)
    assert {k: len(v) for k, v in a.items()} == sizes
    seen = set()
    for split in sizes:
        assert not seen & set(a[split])
        seen |= set(a[split])
    assert a == split_sentences("eng", sizes, seed=0)
    assert a["train"] != split_sentences("eng", sizes, seed=1)["train"]


def test_split_errors():
    with pytest.raises(ValueError, match="only 960 exist"):
        split_sentences("eng", {"train": 1000})
    with pytest.raises(KeyError, match="no sentence lists for language 'xxx'"):
        get_text("xxx")
