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
  languages as ``<test>_cross_<train>`` before inference and scoring;
* the combined model's class order (the merged set's ``lang2utt`` order) follows
  from the five training sets' labels without formatting any audio
  (:func:`combined_class_order`).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

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


def filter_by_duration(data_dir: PathLike, sample_rate: int = 16000,
                       min_seconds: Optional[float] = None,
                       max_seconds: Optional[float] = None) -> Path:
    """Remove, in place, the utterances of a formatted set outside ``(min, max)`` seconds.

    ESPnet's templates' ``--min_wav_duration`` / ``--max_wav_duration`` rule on the
    formatted lengths: an utterance stays when ``int(min * fs) < utt2num_samples <
    int(max * fs)`` (either bound may be absent). The removed ones are listed with their
    lengths in ``<data_dir>/removed_by_duration``; every utt/list file is cut alike.
    """
    data_dir = Path(data_dir)
    lengths_file = data_dir / "utt2num_samples"
    if not lengths_file.is_file():
        raise DataDirError(f"{lengths_file} not found: format the set first (stage 3)")
    lengths = {u: int(n) for u, n in read_kaldi_map(lengths_file).items()}
    lo = int(min_seconds * sample_rate) if min_seconds is not None else None
    hi = int(max_seconds * sample_rate) if max_seconds is not None else None
    data = read_data_dir(data_dir)
    keep = [u for u in data.utt2lang
            if (lo is None or lengths[u] > lo) and (hi is None or lengths[u] < hi)]
    removed = {u: lengths[u] for u in data.utt2lang if u not in set(keep)}
    bounds = f"({min_seconds if min_seconds is not None else 0} s, " \
             f"{max_seconds if max_seconds is not None else 'inf'} s)"
    if not keep:
        raise DataDirError(f"{data_dir}: no utterance lies within {bounds}; the set would be "
                           "empty: widen --min_wav_duration/--max_wav_duration")
    write_data_dir(data_dir, data.subset(keep))
    write_kaldi_map(lengths_file, {u: lengths[u] for u in keep})
    kept = set(keep)
    for name in ("utt2spk", "text"):
        if (data_dir / name).is_file():
            write_kaldi_map(data_dir / name,
                            {u: v for u, v in read_kaldi_map(data_dir / name).items() if u in kept})
    if (data_dir / "spk2utt").is_file():
        rows = {k: [u for u in v.split() if u in kept]
                for k, v in read_kaldi_map(data_dir / "spk2utt").items()}
        write_kaldi_map(data_dir / "spk2utt", {k: v for k, v in rows.items() if v})
    report = data_dir / "removed_by_duration"
    if removed:
        write_kaldi_map(report, removed)
    elif report.exists():
        report.unlink()
    log.info("%s: %d of %d utterances outside %s removed (listed in %s)", data_dir,
             len(removed), len(lengths), bounds, report)
    return data_dir


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


# --------------------------------------------------------------- class order


class ClassOrderError(DataDirError):
    """The combined class order cannot be made from what is there; the message says why."""


def published_train_languages() -> Dict[str, List[str]]:
    """The training languages of the four corpora whose language lists are published
    (ISO 639-3, sorted): VoxLingua107's 107 folders, FLEURS' 102 ids, VoxPopuli's 16
    and Babel's 25 packages. ML-SUPERB 2.0 has no such list: its training set's
    folders are read instead."""
    from geolid.data.iso import (BABEL_TO_ISO3, FLEURS_IDS, VOXLINGUA107_CODES,
                                 VOXPOPULI_TO_ISO3, fleurs_to_iso3, voxlingua107_to_iso3)

    return {
        "train_voxlingua107_lang": sorted({voxlingua107_to_iso3(c) for c in VOXLINGUA107_CODES}),
        "train_fleurs_lang": sorted({fleurs_to_iso3(f) for f in FLEURS_IDS}),
        "train_voxpopuli_lang": sorted(set(VOXPOPULI_TO_ISO3.values())),
        "train_babel_over_10s_lang": sorted(set(BABEL_TO_ISO3.values())),
    }


def _recording_frames(value: str, where: str) -> tuple:
    """(frames, sample rate) of a ``wav.scp`` recording, from its header alone.

    A piped command (``sph2pipe ... x.sph |``) is not run: the audio file it names is
    read instead (NIST SPHERE headers hold the count even for shorten-compressed files).
    """
    from geolid.audio import AudioError, probe
    from geolid.data.corpora.babel import sphere_header

    path = value
    if value.rstrip().endswith("|"):
        files = [t for t in value.split() if t.lower().endswith((".sph", ".wav", ".flac"))]
        if not files:
            raise ClassOrderError(f"{where}: command {value!r} names no audio file, so its "
                                  "length cannot be read without running it; format the set "
                                  "(stage 3) instead")
        path = files[-1]
    if path.lower().endswith(".sph") and os.path.isfile(path):
        head = sphere_header(Path(path))
        if "sample_count" in head and "sample_rate" in head:
            return int(head["sample_count"]), int(head["sample_rate"])
    try:
        info = probe(path)
    except AudioError as e:
        raise ClassOrderError(f"{where}: {e}") from None
    return info.frames, info.sample_rate


def min_samples_languages(data_dir: PathLike, set_name: str, sample_rate: int = 16000) -> List[str]:
    """The languages ``set_name`` (a :data:`MIN_SAMPLES_SETS` set) will have after
    formatting, from its unformatted source's segments and audio headers: the length
    each segment gets at ``sample_rate`` is computed as the format stage computes it."""
    from geolid.data.format import formatted_length, segment_span

    source, min_samples = MIN_SAMPLES_SETS[set_name]
    src = Path(data_dir) / source
    data = read_data_dir(src)
    langs = set()
    if data.segments is None:
        recordings = {u: (u, None, None) for u in data.utt2lang}
    else:
        recordings = data.segments
    frames_of: Dict[str, tuple] = {}
    for utt, (rec, start, end) in recordings.items():
        lang = data.utt2lang[utt]
        if lang in langs:
            continue
        if rec not in frames_of:
            frames_of[rec] = _recording_frames(data.wav_scp[rec], f"{src}/wav.scp: '{rec}'")
        frames, sr = frames_of[rec]
        span = (0, frames) if start is None else segment_span(start, end, sr, frames)
        if span is not None and formatted_length(span[1] - span[0], sr, sample_rate) >= min_samples:
            langs.add(lang)
    return sorted(langs)


def combined_class_order(data_dir: Optional[PathLike] = "data",
                         ml_superb2_root: Optional[PathLike] = None,
                         train_sets: Sequence[str] = TRAIN_SETS) -> tuple:
    """The class order of the merged training set, without formatting any audio.

    It is the merged ``lang2utt``'s order: the union of the training sets' labels,
    sorted (utterance ids start with the label). Each set's labels come from
    ``<data_dir>/<set>`` when stage 1 has prepared it (a ``MIN_SAMPLES_SETS`` set from
    its source's segment lengths, computed as formatting will make them), else, for
    the four corpora with a published language list, from that list
    (:func:`published_train_languages`); ML-SUPERB 2.0's training languages are read
    from ``data/train_ml_superb2_lang`` or the local copy's ``<root>/train/<lang>/``
    folders (label rules applied). Returns ``(order, {set: where its labels came from})``.
    """
    published = published_train_languages()
    langs, origin = set(), {}
    data_dir = Path(data_dir) if data_dir is not None else None
    for name in train_sets:
        source = format_source(name)
        here = data_dir / source if data_dir is not None else None
        if here is not None and (here / "utt2lang").is_file():
            if name in MIN_SAMPLES_SETS:
                got = min_samples_languages(data_dir, name)
                origin[name] = f"{here} (segments >= {MIN_SAMPLES_SETS[name][1]} samples)"
            else:
                got = read_data_dir(here).languages
                origin[name] = f"{here}/utt2lang"
            if name in published and set(got) != set(published[name]):
                lacking = sorted(set(published[name]) - set(got))
                extra = sorted(set(got) - set(published[name]))
                log.warning("%s: its languages differ from the published list (lacking %s, extra "
                            "%s); the published combined model's class order differs too",
                            here, lacking[:10], extra[:10])
        elif name in published:
            got = published[name]
            origin[name] = f"published language list ({len(got)} languages)"
        elif name == "train_ml_superb2_lang" and ml_superb2_root is not None:
            from geolid.data.corpora.ml_superb2 import read_split

            got = sorted({lang for lang, _ in read_split(Path(ml_superb2_root), "train").values()})
            origin[name] = f"{Path(ml_superb2_root) / 'train'} (language folders)"
        else:
            where = f"{here}/utt2lang" if here is not None else f"data/{source}/utt2lang"
            extra = (" or give the local copy's root (--ml_superb2 ROOT, its train/<language>/ "
                     "folders are read)") if name == "train_ml_superb2_lang" else ""
            raise ClassOrderError(f"{name}: {where} not found: prepare it (stage 1, "
                                  f"local/data.sh){extra}")
        if not got:
            raise ClassOrderError(f"{name}: no languages ({origin[name]})")
        langs.update(got)
    return sorted(langs), origin


def write_class_order(out: PathLike, order: Sequence[str]) -> str:
    """Write ``order`` as a class-order ``lang2utt`` (codes only) unless ``out`` already
    lists exactly it. Returns ``"written"`` or ``"unchanged"``; a file listing another
    order is a :class:`ClassOrderError` (it would give the model's classes other names)."""
    from geolid.languages import LanguageListError, read_class_order
    from geolid.utils.fileio import atomic_write

    out = Path(out)
    if out.is_file():
        try:
            have = read_class_order(out)
        except LanguageListError as e:
            raise ClassOrderError(f"{e}; remove it and re-run") from None
        if have == list(order):
            return "unchanged"
        lacking = sorted(set(order) - set(have))
        extra = sorted(set(have) - set(order))
        raise ClassOrderError(
            f"{out} lists another class order ({len(have)} languages; lacking {lacking[:10]}, "
            f"extra {extra[:10]}{', same languages in another order' if not lacking and not extra else ''}"
            f") than the training sets give ({len(order)}); remove it if it is stale")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:  # the class order only: no utterance lists
        f.write("".join(f"{code}\n" for code in order))
    return "written"
