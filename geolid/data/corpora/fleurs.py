"""FLEURS -> ``train_fleurs_lang`` and ``test_fleurs_lang``.

The published recipe loads ``google/xtreme_s`` (configs ``fleurs.<id>``) with the
``datasets`` library. That loader is a script that fetches the raw FLEURS-102
release; we read the same release without ``datasets``, from a local copy in
the raw release layout::

    <root>/<id>/{train,dev,test}.tsv
    <root>/<id>/audio/{train,dev,test}/<file>.wav

giving ``train_fleurs_lang``, ``dev_fleurs_lang`` and ``test_fleurs_lang`` (the three
sets of the published preparation). Only the test split is needed: a split whose
TSV no language has is left out with a warning (so the test set prepares without
the training portion); one that some languages have and others lack is an error.

``<id>`` is a FLEURS id such as ``en_us`` or ``cmn_hans_cn``. Each TSV line is
tab-separated without a header: ``id, file name, raw transcription,
transcription, characters, number of samples, gender``; only the file name is
used. Utterance id: ``{iso3}_{file stem}`` (the speech id), as published.
Rows whose audio file is missing are skipped with a warning, as published.

With ``download=True`` the missing languages are fetched from the Hugging Face
Hub dataset repo ``google/fleurs`` (the raw release: ``data/<id>/<split>.tsv``
and ``data/<id>/audio/<split>.tar.gz``) into ``root`` in the layout above.
"""
from __future__ import annotations

import csv
import logging
import shutil
import tarfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from geolid.data.corpora.common import (CorpusError, PathLike, check_original_id,
                                        hub_call)
from geolid.data.datadir import DataDir, write_data_dir
from geolid.data.iso import FLEURS_IDS, IsoCodeError, fleurs_to_iso3
from geolid.utils.fileio import atomic_write

log = logging.getLogger(__name__)

HUB_REPO = "google/fleurs"
SPLITS = {"train": "train_fleurs_lang", "dev": "dev_fleurs_lang", "test": "test_fleurs_lang"}
REQUIRED_SPLIT = "test"  # the evaluation split; train and dev are written when present
TSV_FILE_COLUMN = 1


def local_languages(root: Path, splits: Iterable[str] = (REQUIRED_SPLIT,)) -> List[str]:
    """FLEURS ids present under ``root`` (a folder with the TSV of each of ``splits``)."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and p.name in FLEURS_IDS and all(
                      (p / f"{s}.tsv").is_file() for s in splits))


def read_split(root: Path, fleurs_id: str, split: str) -> Dict[str, Tuple[str, str]]:
    """``{utt_id: (iso3, wav path)}`` for one language and split of the local copy."""
    iso3 = fleurs_to_iso3(fleurs_id)
    tsv = root / fleurs_id / f"{split}.tsv"
    audio_dir = root / fleurs_id / "audio" / split
    if not tsv.is_file():
        raise CorpusError(f"FLEURS: '{tsv}' not found; the local copy needs "
                          f"<root>/{fleurs_id}/{split}.tsv (re-run with --download to fetch it)")
    out: Dict[str, Tuple[str, str]] = {}
    missing = 0
    with open(tsv, encoding="utf-8", newline="") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) <= TSV_FILE_COLUMN:
                raise CorpusError(f"FLEURS: {tsv}:{lineno}: expected tab-separated columns "
                                  "'id<TAB>file name<TAB>...'; the file is not a FLEURS TSV")
            name = row[TSV_FILE_COLUMN].strip()
            wav = audio_dir / name
            if not wav.is_file():
                missing += 1
                continue
            speech_id = check_original_id(Path(name).stem, f"{tsv}:{lineno}")
            out.setdefault(f"{iso3}_{speech_id}", (iso3, str(wav.resolve())))
    if missing:
        log.warning("FLEURS: %s: %d rows skipped, their audio is missing from %s",
                    tsv, missing, audio_dir)
    return out


def prepare_fleurs(root: PathLike, out_dir: PathLike,
                   languages: Optional[Sequence[str]] = None, download: bool = False,
                   revision: Optional[str] = None) -> List[Path]:
    """Write ``<out_dir>/{train,dev,test}_fleurs_lang`` (train and dev when present).

    ``languages``: FLEURS ids to use (default: every id found under ``root``, or
    all 102 with ``download``). ``download``: fetch languages missing from
    ``root`` from the Hub first. Returns the written paths (train, dev, test order).
    """
    root = Path(root)
    if languages is not None:
        for fid in languages:
            try:
                fleurs_to_iso3(fid)
            except IsoCodeError as exc:
                raise CorpusError(f"FLEURS: {exc}") from None
    wanted = list(languages) if languages is not None else (
        list(FLEURS_IDS) if download else local_languages(root))
    if download:
        complete = set(local_languages(root, SPLITS))
        absent = [fid for fid in wanted if fid not in complete]
        if absent:
            download_fleurs(root, absent, revision=revision)
    if not wanted:
        raise CorpusError(
            f"FLEURS: no local copy found in '{root}' (expected <root>/<id>/test.tsv, "
            "<root>/<id>/audio/test/*.wav, and train/dev alike, e.g. <root>/en_us/...). Either place the raw "
            "FLEURS release there, or pass --download to fetch it from the Hugging Face Hub "
            f"({HUB_REPO}).")
    present = set(local_languages(root))
    for fid in wanted:
        if fid not in present:
            raise CorpusError(f"FLEURS: language '{fid}' not found in '{root}'; add "
                              f"<root>/{fid}/{{train,test}}.tsv and audio, or pass --download")
    from tqdm import tqdm

    out_dir = Path(out_dir)
    written = []
    for split, set_name in SPLITS.items():
        lacking = [fid for fid in wanted if not (root / fid / f"{split}.tsv").is_file()]
        if split != REQUIRED_SPLIT and len(lacking) == len(wanted):
            log.warning("FLEURS: no %s.tsv in %s: %s not written (only %s is needed for "
                        "evaluation)", split, root, set_name, SPLITS[REQUIRED_SPLIT])
            continue
        if lacking:
            raise CorpusError(f"FLEURS: '{root / lacking[0] / (split + '.tsv')}' not found while "
                              f"other languages have their {split} split ({len(lacking)} of "
                              f"{len(wanted)} lack it); add it (or pass --download), or choose "
                              "the languages with --languages")
        utts: Dict[str, Tuple[str, str]] = {}
        for fid in tqdm(wanted, desc=f"FLEURS {split}", unit="lang"):
            utts.update(read_split(root, fid, split))
        written.append(write_data_dir(out_dir / set_name, DataDir.from_labelled(utts)))
    return written


def extract_audio_archive(archive: Path, dest: Path) -> int:
    """Extract the ``.wav`` members of a FLEURS audio tarball flat into ``dest``.

    Only base names are used, so whatever folder the archive stores the files
    under (``train/x.wav`` or ``x.wav``), they land in ``dest`` and nothing can
    escape it. Returns the number of files written.
    """
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(archive) as tar:
        for member in tar:
            name = Path(member.name).name
            if not member.isfile() or not name.lower().endswith(".wav"):
                continue
            with atomic_write(dest / name, "wb", fsync=False) as f:
                shutil.copyfileobj(tar.extractfile(member), f, 1 << 20)
            count += 1
    return count


def download_fleurs(root: PathLike, languages: Iterable[str], splits: Iterable[str] = SPLITS,
                    revision: Optional[str] = None) -> None:
    """Fetch FLEURS ``languages`` from the Hub repo ``google/fleurs`` into ``root``."""
    from tqdm import tqdm

    root = Path(root)
    local_fix = (f"place a local copy of the raw FLEURS release in '{root}' "
                 "(<root>/<id>/{train,test}.tsv and <root>/<id>/audio/{train,test}/*.wav)")

    def fetch(filename: str) -> Path:
        def call():
            from huggingface_hub import hf_hub_download
            return hf_hub_download(HUB_REPO, filename, repo_type="dataset", revision=revision)
        return Path(hub_call("FLEURS", filename, local_fix, call))

    for fid in tqdm(list(languages), desc="FLEURS download", unit="lang"):
        for split in splits:
            tsv = fetch(f"data/{fid}/{split}.tsv")
            archive = fetch(f"data/{fid}/audio/{split}.tar.gz")
            n = extract_audio_archive(archive, root / fid / "audio" / split)
            (root / fid).mkdir(parents=True, exist_ok=True)
            # The TSV goes last: its presence marks the language as complete.
            (root / fid / f"{split}.tsv").write_bytes(tsv.read_bytes())
            log.info("FLEURS: %s %s: %d audio files", fid, split, n)
