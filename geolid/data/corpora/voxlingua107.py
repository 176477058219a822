"""VoxLingua107 -> ``train_voxlingua107_lang`` and ``dev_voxlingua107_lang``.

Layout of the local copy (the corpus zips extracted side by side)::

    <root>/<lang>/<file>.wav          training data, one folder per language
    <root>/dev/<lang>/<file>.wav      the validated dev set (33 languages)

``<lang>`` is a VoxLingua107 folder code (ISO 639-1 style, plus ``ceb``,
``haw``, ``sco``, ``war`` and the legacy ``iw``, ``jw``, ``zh``), mapped to
ISO 639-3 by :mod:`geolid.data.iso`. Utterance id: ``{iso3}_{file stem}``.
As in the published recipe, a training file whose id also occurs in the dev
set is left out of training. A copy holding only ``dev/`` (enough for evaluation)
gives the dev set alone, with a warning.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Tuple

from geolid.data.corpora.common import (CorpusError, PathLike, check_original_id,
                                        files_with_suffix, require_dir)
from geolid.data.datadir import DataDir, write_data_dir
from geolid.data.iso import IsoCodeError, voxlingua107_to_iso3

log = logging.getLogger(__name__)

TRAIN_SET = "train_voxlingua107_lang"
DEV_SET = "dev_voxlingua107_lang"
DEV_FOLDER = "dev"


def _scan(folder: Path, skip: Tuple[str, ...] = ()) -> Dict[str, Tuple[str, str]]:
    """``{utt_id: (iso3, wav path)}`` for every ``<folder>/<lang>/*.wav``."""
    from tqdm import tqdm

    out: Dict[str, Tuple[str, str]] = {}
    lang_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in skip)
    if not lang_dirs:
        raise CorpusError(f"VoxLingua107: no language folders in '{folder}'; expected "
                          f"'{folder}/<lang>/<file>.wav' (e.g. '{folder}/en/abc.wav')")
    for lang_dir in tqdm(lang_dirs, desc=f"VoxLingua107 {folder.name}", unit="lang"):
        try:
            iso3 = voxlingua107_to_iso3(lang_dir.name)
        except IsoCodeError as exc:
            raise CorpusError(f"VoxLingua107: {lang_dir}: {exc}") from None
        wavs = files_with_suffix(lang_dir, ".wav")
        if not wavs:
            log.warning("VoxLingua107: %s holds no .wav files; skipped", lang_dir)
        for wav in wavs:
            utt = f"{iso3}_{check_original_id(wav.stem, wav)}"
            if utt in out:
                raise CorpusError(f"VoxLingua107: {wav} and {out[utt][1]} give the same "
                                  f"utterance id '{utt}'; remove one of them")
            out[utt] = (iso3, str(wav))
    return out


def train_language_folders(root: Path) -> List[Path]:
    """The training language folders of a local copy (every folder but ``dev``)."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and p.name != DEV_FOLDER)


def prepare_voxlingua107(root: PathLike, out_dir: PathLike,
                         train_set: str = TRAIN_SET, dev_set: str = DEV_SET) -> List[Path]:
    """Write ``<out_dir>/train_voxlingua107_lang`` and ``<out_dir>/dev_voxlingua107_lang``.

    Returns the written data directory paths (train, dev; dev alone when ``root``
    has no training language folders).
    """
    fix = ("Download VoxLingua107 (https://cs.taltech.ee/staff/tanel.alumae/data/voxlingua107/), "
           "extract each <lang>.zip into ROOT/<lang>/ and dev.zip into ROOT/dev/, and pass ROOT.")
    root = require_dir(root, "VoxLingua107", fix).resolve()
    dev_root = require_dir(root / DEV_FOLDER, "VoxLingua107 dev set", fix)
    dev = _scan(dev_root)
    out_dir = Path(out_dir)
    if not train_language_folders(root):
        log.warning("VoxLingua107: no training language folders in '%s' (only %s/): %s not "
                    "written; the dev set is enough for evaluation", root, DEV_FOLDER, train_set)
        return [write_data_dir(out_dir / dev_set, DataDir.from_labelled(dev))]
    train = _scan(root, skip=(DEV_FOLDER,))
    overlap = [u for u in train if u in dev]
    for utt in overlap:
        del train[utt]
    if overlap:
        log.info("VoxLingua107: %d training files also in the dev set were left out of "
                 "training", len(overlap))
    return [write_data_dir(out_dir / train_set, DataDir.from_labelled(train)),
            write_data_dir(out_dir / dev_set, DataDir.from_labelled(dev))]
