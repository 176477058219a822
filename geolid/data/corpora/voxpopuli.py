"""VoxPopuli (transcribed part) -> ``train_voxpopuli_lang``, ``dev_voxpopuli_lang`` and
``test_voxpopuli_lang``.

Layout of the local copy (as the VoxPopuli download/segmentation scripts make it)::

    <root>/_transcribed_data/<lang>/asr_train.tsv
    <root>/_transcribed_data/<lang>/asr_dev.tsv
    <root>/_transcribed_data/<lang>/<year>/<id>.ogg

``<lang>`` is one of the 16 languages (``cs de en es et fi fr hr hu it lt nl pl
ro sk sl``). The TSVs have a header row with an ``id`` column; ``<year>`` is
the first 4 characters of the id. The dev and test sets are both made from the
dev TSVs (VoxPopuli's test split is not used), as in the published recipe.
Utterance id: ``{iso3}_{id}``.

The TSVs are read with the csv module's default quoting (a field that starts with
``"`` is quoted), which is how the published recipe's ``pandas.read_csv(sep="\t")``
reads them. ``quoting="none"`` (ours, ``--quoting none``) reads every line as one
row instead: a transcript that opens a quote and never closes it then cannot swallow
the rows after it.

Only the dev TSVs are needed: with no ``asr_train.tsv`` for any language the training
set is left out with a warning (the dev and test sets prepare without it).

A row whose ``.ogg`` file is missing cannot be formatted; it is left out of the
set and reported: the count on the console and every such row (``utt path``) in
``<set>/missing_audio``. (The published recipe wrote them into ``wav.scp`` and
failed later, when formatting.)
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from geolid.data.corpora.common import (CorpusError, PathLike, check_original_id,
                                        require_dir)
from geolid.data.datadir import DataDir, write_data_dir
from geolid.data.iso import VOXPOPULI_TO_ISO3, IsoCodeError, voxpopuli_to_iso3
from geolid.utils.fileio import write_kaldi_map

log = logging.getLogger(__name__)

SUBDIR = "_transcribed_data"
# data directory name -> TSV split it is made from
SETS = {"train_voxpopuli_lang": "train", "dev_voxpopuli_lang": "dev", "test_voxpopuli_lang": "dev"}
MISSING_AUDIO = "missing_audio"
TRAIN_SET = "train_voxpopuli_lang"
# How the TSVs are read: "default" = csv's default quoting, as pandas' read_csv
# (published); "none" = csv.QUOTE_NONE (ours).
QUOTING = {"default": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}


def audio_path(lang_dir: Path, original_id: str) -> Path:
    """``<lang_dir>/<year>/<id>.ogg`` with ``year = id[:4]``."""
    return lang_dir / original_id[:4] / f"{original_id}.ogg"


def read_ids(tsv: Path, quoting: str = "default") -> List[str]:
    """The ``id`` column of a VoxPopuli ASR TSV, in file order (``quoting``: see the
    module doc)."""
    if not tsv.is_file():
        raise CorpusError(f"VoxPopuli: '{tsv}' not found; run VoxPopuli's ASR data "
                          "preparation for this language, or leave the language out")
    with open(tsv, encoding="utf-8", newline="") as f:
        if quoting not in QUOTING:
            raise CorpusError(f"VoxPopuli: quoting {quoting!r}: use one of {sorted(QUOTING)}")
        reader = csv.reader(f, delimiter="\t", quoting=QUOTING[quoting])
        header = next(reader, None)
        if not header or "id" not in header:
            raise CorpusError(f"VoxPopuli: {tsv}:1: no 'id' column in the header {header}; "
                              "expected VoxPopuli's asr_<split>.tsv")
        col = header.index("id")
        ids = []
        for lineno, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) <= col:
                raise CorpusError(f"VoxPopuli: {tsv}:{lineno}: row has no 'id' field")
            ids.append(check_original_id(row[col].strip(), f"{tsv}:{lineno}"))
    return ids


def read_split(root: Path, lang: str, split: str,
               missing: Optional[Dict[str, str]] = None,
               quoting: str = "default") -> Dict[str, Tuple[str, str]]:
    """``{utt_id: (iso3, ogg path)}`` for one language and TSV split; rows without audio go
    to ``missing`` (``{utt_id: path}``) instead."""
    iso3 = voxpopuli_to_iso3(lang)
    lang_dir = root / SUBDIR / lang
    out: Dict[str, Tuple[str, str]] = {}
    tsv = lang_dir / f"asr_{split}.tsv"
    for original in read_ids(tsv, quoting):
        ogg = audio_path(lang_dir, original)
        if not ogg.is_file():
            if missing is not None:
                missing[f"{iso3}_{original}"] = str(ogg)
            continue
        out[f"{iso3}_{original}"] = (iso3, str(ogg))
    return out


def prepare_voxpopuli(root: PathLike, out_dir: PathLike,
                      languages: Optional[Sequence[str]] = None,
                      quoting: str = "default") -> List[Path]:
    """Write ``<out_dir>/{train,dev,test}_voxpopuli_lang``.

    ``languages``: VoxPopuli codes to use (default: all 16, each must be present).
    ``quoting``: how the TSVs are read (module doc). Returns the written paths
    (train, dev, test; dev and test alone when no language has ``asr_train.tsv``).
    """
    from tqdm import tqdm

    root = require_dir(root, "VoxPopuli",
                       "Download and segment VoxPopuli's transcribed data "
                       "(github.com/facebookresearch/voxpopuli, 'asr' subset) and pass the "
                       "folder that holds _transcribed_data/.").resolve()
    require_dir(root / SUBDIR, "VoxPopuli", f"Expected '{root}/{SUBDIR}/<lang>/asr_train.tsv'.")
    langs = list(languages) if languages is not None else sorted(VOXPOPULI_TO_ISO3)
    for lang in langs:
        try:
            voxpopuli_to_iso3(lang)
        except IsoCodeError as exc:
            raise CorpusError(f"VoxPopuli: {exc}") from None
        require_dir(root / SUBDIR / lang, "VoxPopuli",
                    f"Prepare language '{lang}' or choose languages with --languages.")
    out_dir = Path(out_dir)
    written = []
    for set_name, split in SETS.items():
        if set_name == TRAIN_SET and not any(
                (root / SUBDIR / lang / f"asr_{split}.tsv").is_file() for lang in langs):
            log.warning("VoxPopuli: no asr_%s.tsv in %s: %s not written (the dev TSVs are "
                        "enough for evaluation)", split, root / SUBDIR, set_name)
            continue
        utts: Dict[str, Tuple[str, str]] = {}
        missing: Dict[str, str] = {}
        for lang in tqdm(langs, desc=f"VoxPopuli {set_name}", unit="lang"):
            utts.update(read_split(root, lang, split, missing, quoting))
        path = write_data_dir(out_dir / set_name, DataDir.from_labelled(utts))
        report = path / MISSING_AUDIO
        if missing:
            write_kaldi_map(report, missing)
            log.warning("VoxPopuli: %s: %d rows left out because their .ogg file is missing; "
                        "listed in %s", set_name, len(missing), report)
        elif report.exists():
            report.unlink()
        written.append(path)
    return written
