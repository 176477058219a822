"""Recipe-level data preparation: all corpora, the merged training set, cross sets.

Set names are those of the published recipe (docs/architecture.md, "Recipe set names"):

* training sets of the five corpora, merged into ``train_all_no_filter_lang``
  (with ``utt2dataset``/``dataset2utt``) for the combined configuration;
* test sets, cut down to a model's training languages as
  ``<test>_cross_<train>`` before scoring.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

from geolid.data.datadir import DataDirError, combine_data_dirs, filter_to_languages

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

COMBINED_SET = "train_all_no_filter_lang"
# Order of the published combine step.
TRAIN_SETS = ("train_fleurs_lang", "train_ml_superb2_lang", "train_voxlingua107_lang",
              "train_voxpopuli_lang", "train_babel_over_10s_lang")
TEST_SETS = ("dev_voxlingua107_lang", "test_voxpopuli_lang", "test_fleurs_lang",
             "dev_ml_superb2_lang", "dev_dialect_ml_superb2_lang", "dev_babel_over_10s_lang")
CORPORA = ("voxlingua107", "fleurs", "ml_superb2", "voxpopuli", "babel")


def prepare_all(roots: Mapping[str, Optional[PathLike]], out_dir: PathLike,
                download: bool = False) -> Dict[str, List[Path]]:
    """Prepare every corpus whose root is given; returns ``{corpus: written dirs}``.

    ``roots`` maps corpus names (:data:`CORPORA`) to local-copy folders; a
    corpus mapped to None (or absent) is skipped. ``download`` lets FLEURS and
    ML-SUPERB 2.0 fetch what their folder lacks from the Hugging Face Hub.
    """
    from geolid.data.corpora.babel import prepare_babel
    from geolid.data.corpora.fleurs import prepare_fleurs
    from geolid.data.corpora.ml_superb2 import prepare_ml_superb2
    from geolid.data.corpora.voxlingua107 import prepare_voxlingua107
    from geolid.data.corpora.voxpopuli import prepare_voxpopuli

    unknown = sorted(set(roots) - set(CORPORA))
    if unknown:
        raise DataDirError(f"prepare_all: unknown corpora {unknown}; known: {list(CORPORA)}")
    runners = {
        "voxlingua107": lambda r: prepare_voxlingua107(r, out_dir),
        "fleurs": lambda r: prepare_fleurs(r, out_dir, download=download),
        "ml_superb2": lambda r: prepare_ml_superb2(r, out_dir, download=download),
        "voxpopuli": lambda r: prepare_voxpopuli(r, out_dir),
        "babel": lambda r: prepare_babel(r, out_dir),
    }
    done: Dict[str, List[Path]] = {}
    for corpus in CORPORA:
        root = roots.get(corpus)
        if root is not None:
            log.info("preparing %s from %s", corpus, root)
            done[corpus] = runners[corpus](root)
    return done


def make_combined(data_dir: PathLike, out: Optional[PathLike] = None,
                  train_sets: Sequence[str] = TRAIN_SETS) -> Path:
    """Merge ``<data_dir>/<train set>`` for each of ``train_sets`` into
    ``<data_dir>/train_all_no_filter_lang`` (or ``out``), dataset = set name.

    Give the formatted directories (``dump/raw``) as ``data_dir`` when some sets
    have ``segments`` (Babel) and others do not.
    """
    data_dir = Path(data_dir)
    dirs = [data_dir / name for name in train_sets]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise DataDirError(f"make_combined: {missing} not found; prepare those corpora first "
                           "or leave them out of train_sets")
    return combine_data_dirs(dirs, out if out is not None else data_dir / COMBINED_SET,
                             list(train_sets))


def cross_set_name(test_set: str, train_set: str) -> str:
    """Name of a test set cut down to a training set's languages."""
    return f"{test_set}_cross_{train_set}"


def make_cross_sets(data_dir: PathLike, train_set: str,
                    test_sets: Sequence[str] = TEST_SETS) -> List[Path]:
    """Write ``<data_dir>/<test>_cross_<train_set>`` for each test set present.

    The kept languages are those of ``<data_dir>/<train_set>/lang2utt``. Test
    sets that are missing are skipped with a warning.
    """
    data_dir = Path(data_dir)
    train_dir = data_dir / train_set
    written = []
    for test in test_sets:
        if not (data_dir / test).is_dir():
            log.warning("make_cross_sets: %s not found; skipped", data_dir / test)
            continue
        written.append(filter_to_languages(data_dir / test,
                                           data_dir / cross_set_name(test, train_set),
                                           train_dir))
    return written
