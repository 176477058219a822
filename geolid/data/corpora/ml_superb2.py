"""ML-SUPERB 2.0 -> ``train_ml_superb2_lang``, ``dev_ml_superb2_lang``,
``dev_dialect_ml_superb2_lang``.

The data is the Hugging Face dataset ``espnet/ml_superb_hf`` (splits ``train``,
``dev``, ``dev_dialect``; fields ``id``, ``language``, ``audio``). The local
copy has one folder per split and language, holding one wav per utterance::

    <root>/<split>/<language>/<id>.wav

``<language>`` is the dataset's ``language`` field as is (``lga``,
``org_jpn`` ...) or already remapped; ``<id>`` its ``id`` field. This is the
layout the published recipe dumps the audio to. ``download=True`` fills it
from the Hub: the split's Parquet shards (``data/<split>-*.parquet``) are
fetched and their audio written out as wav; reading Parquet needs ``pyarrow``.

Label rules (published): ``nno``, ``nob``, ``nor`` are skipped; ``lga``->``lug``,
``org_jpn``->``jpn``, ``ory``->``ori``, ``azj``->``aze``, ``arb``->``ara``; in
``dev_dialect`` a ``hin`` utterance whose id contains ``tam``/``tel``/``guj`` is
relabelled to that language, and one whose id names none of them is an error
(as published). Utterance id: ``{label}_{id}``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from geolid.data.corpora.common import (CorpusError, PathLike, check_original_id,
                                        files_with_suffix, hub_call)
from geolid.data.datadir import DataDir, write_data_dir
from geolid.data.iso import ml_superb2_dialect_label, ml_superb2_label
from geolid.languages import is_iso3

log = logging.getLogger(__name__)

HUB_REPO = "espnet/ml_superb_hf"
SPLITS = {"train": "train_ml_superb2_lang", "dev": "dev_ml_superb2_lang",
          "dev_dialect": "dev_dialect_ml_superb2_lang"}
DIALECT_SPLIT = "dev_dialect"
SAMPLE_RATE = 16000


def read_split(root: Path, split: str) -> Dict[str, Tuple[str, str]]:
    """``{utt_id: (label, wav path)}`` for one split of the local copy, rules applied."""
    split_dir = root / split
    if not split_dir.is_dir():
        raise CorpusError(f"ML-SUPERB 2.0: '{split_dir}' not found; the local copy needs "
                          f"<root>/{split}/<language>/<id>.wav (or pass --download)")
    out: Dict[str, Tuple[str, str]] = {}
    relabelled = 0
    for lang_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        label = ml_superb2_label(lang_dir.name)
        if label is None:
            continue
        if not is_iso3(label):
            raise CorpusError(f"ML-SUPERB 2.0: folder '{lang_dir}' gives label {label!r}, which "
                              "is not ISO 639-3; rename the folder to the dataset's language")
        for wav in files_with_suffix(lang_dir, ".wav"):
            original = check_original_id(wav.stem, wav)
            utt_label = label
            if split == DIALECT_SPLIT:
                utt_label = ml_superb2_dialect_label(label, original)
                if utt_label == "hin":
                    raise CorpusError(
                        f"ML-SUPERB 2.0: dev_dialect utterance '{original}' ({wav}) is labelled "
                        "hin but its id names none of tam, tel, guj; the published recipe relabels "
                        "every hin utterance of dev_dialect by the language its id names and stops "
                        "on any other. Check the local copy of the split")
                relabelled += utt_label != label
            utt = f"{utt_label}_{original}"
            if utt in out:
                raise CorpusError(f"ML-SUPERB 2.0: {wav} and {out[utt][1]} give the same "
                                  f"utterance id '{utt}'; remove one of them")
            out[utt] = (utt_label, str(wav.resolve()))
    if relabelled:
        log.info("ML-SUPERB 2.0: %s: %d 'hin' utterances relabelled to tam/tel/guj",
                 split, relabelled)
    return out


def prepare_ml_superb2(root: PathLike, out_dir: PathLike, download: bool = False,
                       splits: Optional[Sequence[str]] = None,
                       revision: Optional[str] = None) -> List[Path]:
    """Write the ML-SUPERB 2.0 data directories for ``splits`` under ``out_dir``.

    ``splits`` default: all three with ``download``, else those the local copy has
    (a copy of dev and dev_dialect alone is enough for evaluation; the missing
    training split is named in a warning). ``download``: fill the local copy from
    the Hub for splits not yet there. Returns the written paths in the order of
    ``splits``.
    """
    root = Path(root)
    if splits is None and download:
        splits = tuple(SPLITS)
    elif splits is None:
        splits = [split for split in SPLITS if (root / split).is_dir()]
        if not splits:
            raise CorpusError(
                f"ML-SUPERB 2.0: no local copy in '{root}' (expected <root>/<split>/<language>/"
                f"<id>.wav for the splits {list(SPLITS)}). Either place it there, or pass "
                f"--download to fetch {HUB_REPO} from the Hugging Face Hub.")
        for split in SPLITS:
            if split not in splits:
                log.warning("ML-SUPERB 2.0: no '%s' split in %s: %s not written", split, root,
                            SPLITS[split])
    for split in splits:
        if split not in SPLITS:
            raise CorpusError(f"ML-SUPERB 2.0: unknown split {split!r}; use {list(SPLITS)}")
        if not (root / split).is_dir():
            if not download:
                raise CorpusError(
                    f"ML-SUPERB 2.0: no local copy of split '{split}' in '{root}' (expected "
                    f"<root>/{split}/<language>/<id>.wav). Either place it there, or pass "
                    f"--download to fetch {HUB_REPO} from the Hugging Face Hub.")
            download_split(root, split, revision=revision)
    out_dir = Path(out_dir)
    written = []
    for split in splits:
        utts = read_split(root, split)
        written.append(write_data_dir(out_dir / SPLITS[split], DataDir.from_labelled(utts)))
    return written


# --------------------------------------------------------------------------- Hub


def write_rows(rows: Iterable[Mapping], split_dir: Path) -> int:
    """Write dataset rows (``id``, ``language``, ``audio`` {bytes | array}) as
    ``<split_dir>/<language>/<id>.wav``; returns how many were written.

    Rows of skipped languages are still written: the skip happens when the
    data directory is made, so the local copy stays a faithful mirror.
    """
    import numpy as np

    from geolid.audio import decode, write_pcm16

    count = 0
    for row in rows:
        language = str(row["language"]).strip()
        original = check_original_id(str(row["id"]), f"{HUB_REPO} row {row['id']!r}")
        audio = row["audio"]
        if audio.get("bytes"):
            samples, rate = decode(audio["bytes"], f"{HUB_REPO} row {row['id']!r}")
        else:
            samples = np.asarray(audio["array"], dtype="float32")
            rate = int(audio.get("sampling_rate", SAMPLE_RATE))
        write_pcm16(split_dir / language / f"{original}.wav", samples, rate)
        count += 1
    return count


def iter_parquet_rows(path: Path) -> Iterator[Dict]:
    """Rows of one Parquet shard as dicts (needs ``pyarrow``)."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(str(path))
    for batch in table.iter_batches(batch_size=256, columns=["id", "language", "audio"]):
        yield from batch.to_pylist()


def download_split(root: PathLike, split: str, revision: Optional[str] = None) -> Path:
    """Fetch one split's Parquet shards from the Hub and write the local copy."""
    from tqdm import tqdm

    root = Path(root)
    local_fix = (f"place a local copy in '{root}' as <root>/{split}/<language>/<id>.wav")

    def fetch():
        import pyarrow  # noqa: F401  (fail before a long download, not after)
        from huggingface_hub import snapshot_download
        return snapshot_download(HUB_REPO, repo_type="dataset", revision=revision,
                                 allow_patterns=[f"data/{split}-*.parquet"])

    snapshot = Path(hub_call("ML-SUPERB 2.0", f"split '{split}'", local_fix, fetch))
    shards = sorted((snapshot / "data").glob(f"{split}-*.parquet"))
    if not shards:
        raise CorpusError(f"ML-SUPERB 2.0: the Hub snapshot has no data/{split}-*.parquet; "
                          f"the dataset layout changed: {local_fix}")
    split_dir = root / split
    tmp_dir = root / f".{split}.part"
    total = 0
    for shard in tqdm(shards, desc=f"ML-SUPERB 2.0 {split}", unit="shard"):
        total += write_rows(iter_parquet_rows(shard), tmp_dir)
    # Renamed at the end: a half-written split is never mistaken for a local copy.
    tmp_dir.replace(split_dir)
    log.info("ML-SUPERB 2.0: %s: %d utterances written to %s", split, total, split_dir)
    return split_dir
