import numpy as np
import pytest

from geolid.geo.lang2vec_targets import UnknownLanguageError, get_lang2vec
from geolid.lid.preprocessor import GeoLIDPreprocessor


def lang2utt(tmp_path, langs):
    path = tmp_path / "lang2utt"
    path.write_text("".join(f"{lang} {lang}_1\n" for lang in langs))
    return str(path)


def test_adds_lang2vec_and_label(tmp_path):
    pre = GeoLIDPreprocessor(train=True, lang2utt=lang2utt(tmp_path, ["eng", "cmn"]), use_lang2vec=True,
                             fix_duration=False, noise_apply_prob=0.0, rir_apply_prob=0.0)
    out = pre("cmn_1", {"speech": np.zeros(1600, dtype=np.float32), "lid_labels": "cmn"})
    assert out["lid_labels"].tolist() == [1]
    np.testing.assert_array_equal(out["lang2vecs"], get_lang2vec("cmn"))
    assert out["lang2vecs"].dtype == np.float32


def test_without_use_lang2vec_no_vector(tmp_path):
    pre = GeoLIDPreprocessor(train=False, lang2utt=lang2utt(tmp_path, ["eng"]), fix_duration=False)
    out = pre("eng_1", {"speech": np.zeros(1600, dtype=np.float32), "lid_labels": "eng"})
    assert "lang2vecs" not in out


def test_languages_without_vectors_fail_at_start_naming_all(tmp_path):
    with pytest.raises(UnknownLanguageError) as e:
        GeoLIDPreprocessor(train=True, lang2utt=lang2utt(tmp_path, ["eng", "xxq", "yyq"]), use_lang2vec=True)
    msg = str(e.value)
    assert "lang2utt" in msg and "'xxq'" in msg and "'yyq'" in msg and "lang2vec_aliases" in msg


def test_aliases_map_labels_to_other_codes(tmp_path):
    pre = GeoLIDPreprocessor(train=True, lang2utt=lang2utt(tmp_path, ["eng", "xxq"]), use_lang2vec=True,
                             lang2vec_aliases={"xxq": "fra"}, fix_duration=False)
    out = pre("xxq_1", {"speech": np.zeros(1600, dtype=np.float32), "lid_labels": "xxq"})
    np.testing.assert_array_equal(out["lang2vecs"], get_lang2vec("fra"))


def test_label_outside_training_languages(tmp_path):
    pre = GeoLIDPreprocessor(train=True, lang2utt=lang2utt(tmp_path, ["eng"]), fix_duration=False)
    with pytest.raises(KeyError, match="'fra' is not in"):
        pre("fra_1", {"speech": np.zeros(1600, dtype=np.float32), "lid_labels": "fra"})


def test_missing_lang2utt_is_explained():
    with pytest.raises(ValueError, match="--lang2utt"):
        GeoLIDPreprocessor(train=True, lang2utt="")
