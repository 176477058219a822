"""LID preprocessor that also attaches each utterance's URIEL vector.

Extends ESPnet's released ``LIDPreprocessor`` (label mapping, duration fixing,
noise/RIR augmentation) with the published keys ``use_lang2vec`` and
``lang2vec_type``: every example with a language label gets ``lang2vecs``, the
URIEL vector of that language. The vectors of all training languages are looked
up once at start-up, so a code without a vector fails before training, with every
offending code named at once.
"""
from __future__ import annotations

from typing import Dict, Optional, Union

import numpy as np

from geolid.geo.lang2vec_targets import UnknownLanguageError, lang2vec_table
from geolid.utils.quiet_imports import quiet_espnet_imports

with quiet_espnet_imports():   # espnet2.train.preprocessor pulls in g2p_en (an nltk download)
    from espnet2.train.preprocessor import LIDPreprocessor


class GeoLIDPreprocessor(LIDPreprocessor):
    """Args: those of ESPnet's ``LIDPreprocessor`` plus

    use_lang2vec: add ``lang2vecs`` (float32, (dim,)) to each labelled example.
    lang2vec_type: URIEL feature set ("geo", "phonology_knn", ...).
    lang2vec_aliases: {label: code} to look a label's vector up under another
        code, for labels URIEL lacks (e.g. ``{ara: arb, aze: azj}``).
    """

    def __init__(self, train: bool, lang2utt: Optional[str] = None,
                 use_lang2vec: bool = False, lang2vec_type: str = "geo",
                 lang2vec_aliases: Optional[Dict[str, str]] = None, **kwargs):
        if not lang2utt:
            raise ValueError("The LID preprocessor needs --lang2utt (the training lang2utt file, "
                             "whose line order defines the class indices)")
        super().__init__(train, lang2utt=lang2utt, **kwargs)
        self.use_lang2vec = use_lang2vec
        self.lang2vec_type = lang2vec_type
        self.lang2vec = None
        if use_lang2vec:
            aliases = dict(lang2vec_aliases or {})
            langs = list(self.lang2label)
            try:
                table = lang2vec_table([aliases.get(lang, lang) for lang in langs], lang2vec_type)
            except UnknownLanguageError as e:
                raise UnknownLanguageError(
                    f"{lang2utt}: languages without a '{lang2vec_type}' vector:\n{e}\n"
                    "Add preprocessor_conf.lang2vec_aliases {label: code} or remove them."
                ) from None
            self.lang2vec = {lang: row for lang, row in zip(langs, table)}

    def __call__(self, uid: str, data: Dict[str, Union[str, np.ndarray]]) -> Dict[str, np.ndarray]:
        iso3 = data.get("lid_labels")
        if isinstance(iso3, str):
            if iso3 not in self.lang2label:
                raise KeyError(f"utterance '{uid}': language '{iso3}' is not in {self.lang2utt_path}; "
                               "the model only knows the training languages")
            if self.lang2vec is not None:
                data["lang2vecs"] = self.lang2vec[iso3]
        return super().__call__(uid, data)
