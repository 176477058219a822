"""Recipe-level set names and the logic that derives sets from sets: one owner.

Every stage of ``egs2/geolid/lid1`` that needs a set name or derives a set
(``local/data.sh``, ``lid.sh`` stages 3, 6 and 8) calls this module through
``python -m geolid.bin.data_sets``. Names are those of the published recipe:

* training sets of the five corpora, merged into ``train_all_no_filter_lang``
  (with ``utt2dataset``/``dataset2utt``) for the combined configuration;
* Babel's ``*_babel_over_10s_lang``: the formatted ``*_babel_lang`` cut to
  segments of at least 10 s, counted on the 16 kHz audio
  (``utt2num_samples >= 160000``, the published rule);
* test sets from another corpus than the training set (by the name's second
  field, as ESPnet's ``lid1`` template decides) are cut down to the training
  languages as ``<test>_cross_<train>`` before inference and scoring.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

from geolid.data.datadir import (DataDirError, combine_data_dirs, filter_to_languages,
                                 read_data_dir, write_data_dir)
from geolid.utils.fileio import read_kaldi_map, write_kaldi_map

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

COMBINED_SET = "train_all_no_filter_lang"
# Order of the published combine step.
TRAIN_SETS = ("train_fleurs_lang", "train_ml_superb2_lang", "train_voxlingua107_lang",
              "train_voxpopuli_lang", "train_babel_over_10s_lang")
TEST_SETS = ("dev_voxlingua107_lang", "test_voxpopuli_lang", "test_fleurs_lang",
             "dev_ml_superb2_lang", "dev_dialect_ml_superb2_lang", "dev_babel_over_10s_lang")
CORPORA = ("voxlingua107", "fleurs", "ml_superb2", "voxpopuli", "babel")

# Sets made from a formatted set by a minimum length: name -> (source set, samples at 16 kHz).
MIN_SAMPLES_SETS: Dict[str, tuple] = {
    "train_babel_over_10s_lang": ("train_babel_lang", 160000),
    "dev_babel_over_10s_lang": ("dev_babel_lang", 160000),
}


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


# ----------------------------------------------------------------- set names


def corpus_field(set_name: str) -> str:
    """The corpus part of a set name: its second ``_`` field (``dev_voxlingua107_lang``
    -> ``voxlingua107``), the rule of ESPnet's ``lid1`` template."""
    parts = set_name.split("_")
    return parts[1] if len(parts) > 1 else set_name


def is_in_domain(test_set: str, train_set: str) -> bool:
    return corpus_field(test_set) == corpus_field(train_set)


def cross_set_name(test_set: str, train_set: str) -> str:
    """Name of a test set cut down to a training set's languages."""
    return f"{test_set}_cross_{train_set}"


def eval_set_name(test_set: str, train_set: str, cross_domain: bool = True) -> str:
    """The set a stage evaluates for ``test_set``: the cross set for another corpus."""
    if cross_domain and not is_in_domain(test_set, train_set):
        return cross_set_name(test_set, train_set)
    return test_set


def format_source(set_name: str) -> str:
    """The set stage 3 formats to obtain ``set_name`` (itself, or the unfiltered set)."""
    return MIN_SAMPLES_SETS.get(set_name, (set_name,))[0]


# ----------------------------------------------------------- derived sets


def make_min_samples_set(data_feats: PathLike, set_name: str) -> Path:
    """Write ``<data_feats>/<set_name>`` from its formatted source, keeping utterances with
    ``utt2num_samples`` at least the set's minimum (see :data:`MIN_SAMPLES_SETS`)."""
    source, min_samples = MIN_SAMPLES_SETS[set_name]
    src = Path(data_feats) / source
    if not (src / "utt2num_samples").is_file():
        raise DataDirError(f"{src}/utt2num_samples not found: format {source} first (stage 3)")
    num_samples = read_kaldi_map(src / "utt2num_samples")
    data = read_data_dir(src)
    keep = [u for u in data.utt2lang if int(num_samples.get(u, 0)) >= min_samples]
    if not keep:
        raise DataDirError(f"{src}: no utterance has {min_samples} samples or more; "
                           f"{set_name} would be empty")
    out = write_data_dir(Path(data_feats) / set_name, data.subset(keep))
    write_kaldi_map(out / "utt2num_samples", {u: num_samples[u] for u in keep})
    log.info("%s: %d of %d utterances have >= %d samples", out, len(keep), len(data.utt2lang),
             min_samples)
    return out


def make_combined(data_dir: PathLike, out: Optional[PathLike] = None,
                  train_sets: Sequence[str] = TRAIN_SETS) -> Path:
    """Merge ``<data_dir>/<train set>`` for each of ``train_sets`` into
    ``<data_dir>/train_all_no_filter_lang`` (or ``out``), dataset = set name.

    ``utt2num_samples`` is merged too when every part has it. Give the formatted
    directories (``dump/raw``) as ``data_dir`` when some sets have ``segments``
    (Babel) and others do not.
    """
    data_dir = Path(data_dir)
    dirs = [data_dir / name for name in train_sets]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise DataDirError(f"make_combined: {missing} not found; prepare those corpora first "
                           "or leave them out of train_sets")
    out = Path(out) if out is not None else data_dir / COMBINED_SET
    combine_data_dirs(dirs, out, list(train_sets))
    if all((d / "utt2num_samples").is_file() for d in dirs):
        merged: Dict[str, str] = {}
        for d in dirs:
            merged.update(read_kaldi_map(d / "utt2num_samples"))
        write_kaldi_map(out / "utt2num_samples", merged)
    return out


def write_single_dataset(data_dir: PathLike, name: Optional[str] = None) -> Path:
    """``utt2dataset``/``dataset2utt`` naming one dataset (default: the folder name).

    The dataset-balanced sampler (``catpow_balance_dataset``) needs them in every
    set it iterates, the validation set included when ``valid_iterator_type`` is
    ``category`` as published.
    """
    data_dir = Path(data_dir)
    name = name or data_dir.name
    utts = list(read_kaldi_map(data_dir / "utt2lang"))
    write_kaldi_map(data_dir / "utt2dataset", {u: name for u in utts})
    write_kaldi_map(data_dir / "dataset2utt", {name: " ".join(utts)})
    return data_dir


def make_cross_sets(data_dir: PathLike, train_set: str,
                    test_sets: Sequence[str] = TEST_SETS,
                    train_languages: Optional[PathLike] = None) -> List[Path]:
    """Write ``<data_dir>/<test>_cross_<train_set>`` for each out-of-domain test set.

    The kept languages are those of ``train_languages`` (a lang2utt file or data
    dir; default ``<data_dir>/<train_set>``). In-domain test sets are left as they
    are; missing test sets are skipped with a warning.
    """
    data_dir = Path(data_dir)
    languages = train_languages if train_languages is not None else data_dir / train_set
    written = []
    for test in test_sets:
        if is_in_domain(test, train_set):
            continue
        if not (data_dir / test).is_dir():
            log.warning("make_cross_sets: %s not found; skipped", data_dir / test)
            continue
        out = data_dir / cross_set_name(test, train_set)
        written.append(filter_to_languages(data_dir / test, out, languages))
        num_samples = data_dir / test / "utt2num_samples"
        if num_samples.is_file():
            kept = read_kaldi_map(out / "utt2lang")
            write_kaldi_map(out / "utt2num_samples",
                            {u: n for u, n in read_kaldi_map(num_samples).items() if u in kept})
    return written
