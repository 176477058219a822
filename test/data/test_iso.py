"""Code mapping of the five corpora to ISO 639-3."""
from __future__ import annotations

import pytest

from geolid.data import iso
from geolid.languages import has_uriel_vector, is_iso3

# The 107 labels of the published VoxLingua107 recipe (its README's language list).
PUBLISHED_VL107 = set("""
abk afr amh ara asm aze bak bel ben bod bos bre bul cat ceb ces cmn cym dan deu ell eng epo
est eus fao fas fin fra glg glv grn guj hat hau haw heb hin hrv hun hye ina ind isl ita jav
jpn kan kat kaz khm kor lao lat lav lin lit ltz mal mar mkd mlg mlt mon mri msa mya nep nld
nno nor oci pan pol por pus ron rus san sco sin slk slv sna snd som spa sqi srp sun swa swe
tam tat tel tgk tgl tha tuk tur ukr urd uzb vie war yid yor
""".split())


def test_voxlingua107_maps_all_107_to_the_published_labels():
    mapping = iso.voxlingua107_map()
    assert len(iso.VOXLINGUA107_CODES) == 107 == len(mapping)
    assert len(set(mapping.values())) == 107
    assert set(mapping.values()) == PUBLISHED_VL107


@pytest.mark.parametrize("folder,code", [
    ("iw", "heb"), ("jw", "jav"), ("zh", "cmn"), ("no", "nor"), ("nn", "nno"), ("tl", "tgl"),
    ("ar", "ara"), ("fa", "fas"), ("ms", "msa"), ("sw", "swa"), ("el", "ell"), ("ceb", "ceb"),
    ("haw", "haw"), ("war", "war"), ("sco", "sco"), ("en", "eng"),
])
def test_voxlingua107_individual_codes(folder, code):
    assert iso.voxlingua107_to_iso3(folder) == code


def test_fleurs_ids_map():
    mapping = iso.fleurs_map()
    assert len(iso.FLEURS_IDS) == 102 == len(set(mapping.values()))
    assert mapping["cmn_hans_cn"] == "cmn" and mapping["yue_hant_hk"] == "yue"
    assert mapping["en_us"] == "eng" and mapping["nb_no"] == "nob" and mapping["fil_ph"] == "fil"
    assert mapping["he_il"] == "heb" and mapping["ar_eg"] == "ara" and mapping["ast_es"] == "ast"
    assert all(is_iso3(c) for c in mapping.values())


def test_ml_superb2_rules():
    assert [iso.ml_superb2_label(x) for x in ("nno", "nob", "nor")] == [None] * 3
    assert {k: iso.ml_superb2_label(k) for k in iso.ML_SUPERB2_REMAP} == {
        "lga": "lug", "org_jpn": "jpn", "ory": "ori", "azj": "aze", "arb": "ara"}
    assert iso.ml_superb2_label(" eng ") == "eng"
    assert iso.ml_superb2_dialect_label("hin", "xx_tam_01") == "tam"
    assert iso.ml_superb2_dialect_label("hin", "xx_telugu_01") == "tel"
    assert iso.ml_superb2_dialect_label("hin", "guj_tam") == "tam"  # tam checked first
    assert iso.ml_superb2_dialect_label("hin", "plain_01") == "hin"
    assert iso.ml_superb2_dialect_label("eng", "tam_01") == "eng"


def test_voxpopuli_and_babel():
    assert len(iso.VOXPOPULI_TO_ISO3) == 16 and iso.voxpopuli_to_iso3("de") == "deu"
    assert len(iso.BABEL_TO_ISO3) == 25
    assert iso.babel_to_iso3("BABEL_101") == "yue" == iso.babel_to_iso3("101")
    assert iso.babel_to_iso3("401") == "khk" and iso.babel_to_iso3("305") == "gug"


@pytest.mark.parametrize("func,arg", [
    (iso.voxlingua107_to_iso3, "xx"), (iso.fleurs_to_iso3, "en_gb"), (iso.voxpopuli_to_iso3, "pt"),
    (iso.babel_to_iso3, "999"), (iso.two_letter_to_iso3, "q!"),
])
def test_unknown_codes_raise(func, arg):
    with pytest.raises(iso.IsoCodeError):
        func(arg)


def test_every_mapped_code_has_a_lang2vec_geo_vector():
    import lang2vec.lang2vec as l2v

    codes = (set(iso.voxlingua107_map().values()) | set(iso.fleurs_map().values())
             | set(iso.VOXPOPULI_TO_ISO3.values()) | set(iso.BABEL_TO_ISO3.values())
             | set(iso.ML_SUPERB2_REMAP.values()) | set(iso.ML_SUPERB2_DIALECT_RELABEL))
    assert len(codes) == 132
    # get_features raises for any code without a vector, so one call checks them all.
    feats = l2v.get_features(sorted(codes), "geo")
    assert set(feats) == codes and all(len(v) == 299 for v in feats.values())
    assert all(has_uriel_vector(c) for c in codes) and not has_uriel_vector("qqq")
