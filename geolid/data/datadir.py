"""The Kaldi-style data directory used by every stage of the recipe.

A data directory holds, one ``key value`` pair per line and sorted by key:

* ``wav.scp``       recording id -> audio path, or a shell command ending in ``|``
* ``utt2lang``      utterance id -> ISO 639-3 label
* ``lang2utt``      label -> all its utterance ids (the inverse of ``utt2lang``)
* ``category2utt``  a copy of ``lang2utt`` (ESPnet's category sampler reads it)
* ``segments``      optional: utterance id -> ``recording start end`` (seconds);
  without it every recording is one utterance and the two ids coincide
* ``utt2dataset`` / ``dataset2utt``  optional, for merged training sets: which
  corpus each utterance came from (the dataset-balanced sampler needs them)

Utterance ids start with their label and ``_`` (``{iso3}_{original_id}``) so that
sorting by id groups languages, as ESPnet's LID recipe expects.

Every writer is atomic; :func:`validate_data_dir` checks a directory on disk and
raises :class:`DataDirError` naming the file, the line and the fix.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from geolid.languages import LanguageListError, is_iso3, read_class_order
from geolid.utils.fileio import read_kaldi_lines, write_kaldi_map

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
Segment = Tuple[str, float, float]

# Files a data directory must have.
REQUIRED_FILES = ("wav.scp", "utt2lang", "lang2utt")


class DataPrepError(Exception):
    """Base class of every error raised by corpus preparation."""


class DataDirError(DataPrepError):
    """A data directory (or a file in it) is malformed; the message says how to fix it."""


def _where(path: PathLike, lineno: Optional[int] = None) -> str:
    return f"{path}:{lineno}" if lineno is not None else str(path)


def format_time(seconds: float) -> str:
    """Segment times are written with millisecond precision (Babel marks have 3 decimals)."""
    return f"{seconds:.3f}"


@dataclass
class DataDir:
    """An in-memory data directory.

    ``wav_scp`` is keyed by recording id; without ``segments`` the recording ids
    are the utterance ids.
    """

    wav_scp: Dict[str, str]
    utt2lang: Dict[str, str]
    segments: Optional[Dict[str, Segment]] = None
    utt2dataset: Optional[Dict[str, str]] = None
    path: Optional[Path] = field(default=None, compare=False)

    @classmethod
    def from_labelled(cls, utts: Mapping[str, Tuple[str, str]]) -> "DataDir":
        """From ``{utt: (iso3, audio path)}``, the shape every corpus reader returns."""
        return cls(wav_scp={u: p for u, (_, p) in utts.items()},
                   utt2lang={u: l for u, (l, _) in utts.items()})

    @property
    def utterances(self) -> List[str]:
        """Sorted utterance ids."""
        return sorted(self.utt2lang)

    @property
    def languages(self) -> List[str]:
        """Sorted labels present."""
        return sorted(set(self.utt2lang.values()))

    def lang2utt(self) -> Dict[str, List[str]]:
        """Label -> sorted utterance ids."""
        return _invert(self.utt2lang)

    def dataset2utt(self) -> Optional[Dict[str, List[str]]]:
        """Dataset name -> sorted utterance ids (None without ``utt2dataset``)."""
        return None if self.utt2dataset is None else _invert(self.utt2dataset)

    def subset(self, utterances: Iterable[str]) -> "DataDir":
        """The same directory restricted to ``utterances`` (unused recordings dropped)."""
        keep = set(utterances)
        utt2lang = {u: l for u, l in self.utt2lang.items() if u in keep}
        segments = None
        if self.segments is not None:
            segments = {u: s for u, s in self.segments.items() if u in keep}
            recs = {s[0] for s in segments.values()}
            wav_scp = {r: v for r, v in self.wav_scp.items() if r in recs}
        else:
            wav_scp = {u: v for u, v in self.wav_scp.items() if u in keep}
        utt2dataset = None
        if self.utt2dataset is not None:
            utt2dataset = {u: d for u, d in self.utt2dataset.items() if u in keep}
        return DataDir(wav_scp, utt2lang, segments, utt2dataset)


def _invert(mapping: Mapping[str, str]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for key in sorted(mapping):
        out.setdefault(mapping[key], []).append(key)
    return out


# --------------------------------------------------------------------------- write


def write_data_dir(path: PathLike, data: DataDir, validate: bool = True) -> Path:
    """Write ``data`` as a Kaldi data directory at ``path`` (created if needed).

    All files are written sorted by key and atomically. Stale optional files
    (``segments``, ``utt2dataset``, ``dataset2utt``) left by an earlier run are
    removed so the directory never mixes two preparations. With ``validate``
    the written directory is checked with :func:`validate_data_dir`.
    """
    path = Path(path)
    _check_in_memory(data, path)
    path.mkdir(parents=True, exist_ok=True)
    write_kaldi_map(path / "wav.scp", data.wav_scp)
    write_kaldi_map(path / "utt2lang", data.utt2lang)
    lang2utt = data.lang2utt()
    write_kaldi_map(path / "lang2utt", lang2utt)
    write_kaldi_map(path / "category2utt", lang2utt)
    _write_or_remove(path / "segments", None if data.segments is None else {
        u: f"{r} {format_time(s)} {format_time(e)}" for u, (r, s, e) in data.segments.items()})
    _write_or_remove(path / "utt2dataset", data.utt2dataset)
    _write_or_remove(path / "dataset2utt", data.dataset2utt())
    if validate:
        validate_data_dir(path)
    log.info("wrote %s: %d utterances, %d languages", path, len(data.utt2lang),
             len(lang2utt))
    return path


def _write_or_remove(path: Path, mapping: Optional[Mapping]) -> None:
    if mapping is None:
        if path.exists():
            path.unlink()
        return
    write_kaldi_map(path, mapping)


def _check_in_memory(data: DataDir, path: Path) -> None:
    """Catch programming/corpus errors before anything is written."""
    if not data.utt2lang:
        raise DataDirError(
            f"{path}: no utterances to write; check that the corpus folder holds the "
            "expected audio files")
    for key in list(data.wav_scp) + list(data.utt2lang) + list(data.segments or {}):
        if not key or any(c.isspace() for c in key):
            raise DataDirError(
                f"{path}: id {key!r} is empty or contains whitespace; Kaldi ids must "
                "not contain spaces (rename the source file)")
    for key, value in data.wav_scp.items():
        if not value.strip() or "\n" in value:
            raise DataDirError(f"{path}/wav.scp: bad audio entry {value!r} for {key!r}")


# --------------------------------------------------------------------------- read


def _read_sorted_map(path: Path, value_fields: Optional[int] = None,
                     layout: str = "") -> Tuple[Dict[str, str], Dict[str, int]]:
    """Read a Kaldi map, insisting on sorted, unique keys; also return key -> line.

    ``value_fields``: the number of fields after the key (``utt2lang``: 1). A line
    with more is an id (or value) holding a space, reported as that before any
    sortedness check, which such a line would otherwise fail first.
    """
    out: Dict[str, str] = {}
    lines: Dict[str, int] = {}
    prev_key, prev_line = None, None
    try:
        rows = read_kaldi_lines(path)
    except ValueError as e:  # not UTF-8: the message names the line
        raise DataDirError(str(e)) from None
    for lineno, key, rest in rows:
        if value_fields is not None and len(rest.split()) > value_fields:
            fields = [key] + rest.split()
            head = " ".join(fields[:len(fields) - value_fields])
            raise DataDirError(
                f"{_where(path, lineno)}: {len(fields)} fields where '{layout}' has "
                f"{value_fields + 1}: the id '{head}' contains a space (Kaldi ids end at the "
                "first space). Rename the utterance without spaces (e.g. '_' for ' ') in every "
                "file of the directory, and re-run the preparation")
        if key in out:
            raise DataDirError(
                f"{_where(path, lineno)}: duplicate key '{key}' (first on line {lines[key]}); "
                "keys must be unique: remove the duplicate and re-run the preparation")
        if prev_key is not None and key < prev_key:
            raise DataDirError(
                f"{_where(path, lineno)}: key '{key}' comes after '{prev_key}' (line "
                f"{prev_line}); files must be sorted by key: run `LC_ALL=C sort -k1,1 -o "
                f"{path} {path}` or rewrite the directory with geolid's writer")
        out[key] = rest
        lines[key] = lineno
        prev_key, prev_line = key, lineno
    return out, lines


def read_data_dir(path: PathLike) -> DataDir:
    """Read a data directory (sortedness and uniqueness checked, not consistency).

    Use :func:`validate_data_dir` for the full check.
    """
    return _load(Path(path))[0]


def _load(path: Path) -> Tuple[DataDir, Dict[str, Dict[str, int]]]:
    """Read a data directory; also return, per file, key -> line number."""
    if not path.is_dir():
        raise DataDirError(f"{path}: no such data directory; run the data preparation "
                           "stage first (egs2/geolid/lid1/local/data.sh)")
    for name in ("wav.scp", "utt2lang"):
        if not (path / name).is_file():
            raise DataDirError(f"{path}: missing {name}; a data directory needs wav.scp "
                               "and utt2lang (re-run the data preparation)")
    lines: Dict[str, Dict[str, int]] = {}
    # utt2lang first: its fixed two fields tell an id holding a space from an unsorted file
    # (wav.scp values are paths or commands, which may hold spaces).
    utt2lang, lines["utt2lang"] = _read_sorted_map(path / "utt2lang", 1, "<utt> <label>")
    wav_scp, lines["wav.scp"] = _read_sorted_map(path / "wav.scp")
    segments = None
    if (path / "segments").is_file():
        seg_raw, lines["segments"] = _read_sorted_map(path / "segments")
        segments = {utt: parse_segment(rest, _where(path / "segments", lines["segments"][utt]))
                    for utt, rest in seg_raw.items()}
    utt2dataset = None
    if (path / "utt2dataset").is_file():
        utt2dataset, lines["utt2dataset"] = _read_sorted_map(path / "utt2dataset", 1,
                                                             "<utt> <dataset>")
    return DataDir(wav_scp, utt2lang, segments, utt2dataset, path=path), lines


def parse_segment(rest: str, where: str) -> Segment:
    """``recording start end`` of a segments line; ``where`` (file:line) names it in errors."""
    fields = rest.split()
    if len(fields) != 3:
        raise DataDirError(
            f"{where}: expected '<utt> <recording> <start> <end>', got "
            f"{len(fields) + 1} fields; fix the line")
    try:
        start, end = float(fields[1]), float(fields[2])
    except ValueError:
        raise DataDirError(f"{where}: start/end must be numbers (seconds), "
                           f"got {fields[1]!r} {fields[2]!r}") from None
    if not 0 <= start < end:
        raise DataDirError(f"{where}: need 0 <= start < end, got start={start} "
                           f"end={end}; drop the segment or fix its times")
    return fields[0], start, end


# --------------------------------------------------------------------------- validate


def validate_data_dir(path: PathLike, check_audio: bool = False) -> DataDir:
    """Check a data directory on disk; return it read, or raise :class:`DataDirError`.

    Checks: required files present; every file sorted with unique keys; labels
    look like ISO 639-3; utterance ids start with ``<label>_``; ``wav.scp`` and
    ``utt2lang`` cover the same utterances (or, with ``segments``, segments
    refer to recordings in ``wav.scp`` with ``0 <= start < end`` and every
    recording is used); ``lang2utt``/``category2utt`` and
    ``utt2dataset``/``dataset2utt`` agree with their inverses; with
    ``check_audio`` each audio path exists and soundfile can read its header
    (piped commands, ending in ``|``, are not run).
    """
    path = Path(path)
    if not path.is_dir():
        raise DataDirError(f"{path}: no such data directory; run the data preparation "
                           "stage first (egs2/geolid/lid1/local/data.sh)")
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise DataDirError(f"{path}: missing {name}; re-run the data preparation for "
                               "this set")
    data, lines = _load(path)
    utt_lines, wav_lines = lines["utt2lang"], lines["wav.scp"]
    if not data.utt2lang:
        raise DataDirError(f"{path}/utt2lang: empty; the set has no utterances")
    _check_labels(path / "utt2lang", data.utt2lang, utt_lines)
    if data.segments is None:
        _check_same_keys(path / "wav.scp", wav_lines, path / "utt2lang", utt_lines)
    else:
        seg_lines = lines["segments"]
        _check_same_keys(path / "segments", seg_lines, path / "utt2lang", utt_lines)
        _check_segments(path, data, seg_lines, wav_lines)
    _check_inverse(path / "lang2utt", data.utt2lang, "utt2lang")
    if (path / "category2utt").is_file():
        _check_inverse(path / "category2utt", data.utt2lang, "utt2lang")
    if data.utt2dataset is not None or (path / "dataset2utt").is_file():
        if data.utt2dataset is None or not (path / "dataset2utt").is_file():
            raise DataDirError(f"{path}: utt2dataset and dataset2utt come together; one is "
                               "missing (re-run the combine step)")
        _check_same_keys(path / "utt2dataset", lines["utt2dataset"], path / "utt2lang", utt_lines)
        _check_inverse(path / "dataset2utt", data.utt2dataset, "utt2dataset")
    if check_audio:
        check_audio_files(path / "wav.scp", data.wav_scp, wav_lines)
    return data


def _check_labels(path: Path, utt2lang: Mapping[str, str], lines: Mapping[str, int]) -> None:
    for utt, lang in utt2lang.items():
        if not is_iso3(lang):
            raise DataDirError(
                f"{_where(path, lines[utt])}: label {lang!r} of '{utt}' is not an ISO 639-3 "
                "code (3 lowercase letters); map it with geolid.data.iso")
        if not utt.startswith(lang + "_"):
            raise DataDirError(
                f"{_where(path, lines[utt])}: utterance id '{utt}' must start with its label "
                f"'{lang}_' so that sorting groups languages; re-run the preparation")


def _check_same_keys(path_a: Path, lines_a: Mapping[str, int], path_b: Path,
                     lines_b: Mapping[str, int]) -> None:
    for key, lineno in lines_a.items():
        if key not in lines_b:
            raise DataDirError(f"{_where(path_a, lineno)}: '{key}' has no entry in {path_b.name}; "
                               f"add it there or remove it from {path_a.name}")
    for key, lineno in lines_b.items():
        if key not in lines_a:
            raise DataDirError(f"{_where(path_b, lineno)}: '{key}' has no entry in {path_a.name}; "
                               f"add it there or remove it from {path_b.name}")


def _check_segments(path: Path, data: DataDir, seg_lines: Mapping[str, int],
                    wav_lines: Mapping[str, int]) -> None:
    used = set()
    for utt, (rec, _start, _end) in data.segments.items():
        if rec not in data.wav_scp:
            raise DataDirError(f"{_where(path / 'segments', seg_lines[utt])}: recording '{rec}' of "
                               f"'{utt}' is not in wav.scp; add the recording or drop the segment")
        used.add(rec)
    for rec, lineno in wav_lines.items():
        if rec not in used:
            raise DataDirError(f"{_where(path / 'wav.scp', lineno)}: recording '{rec}' is used by "
                               "no segment; remove it from wav.scp")


def _check_inverse(path: Path, forward: Mapping[str, str], forward_name: str) -> None:
    """``path`` (label -> keys) must be exactly the inverse of ``forward`` (key -> label)."""
    expected = _invert(forward)
    seen = set()
    raw, lines = _read_sorted_map(path)
    for label, rest in raw.items():
        keys = rest.split()
        where = _where(path, lines[label])
        if label not in expected:
            raise DataDirError(f"{where}: '{label}' has no utterance in {forward_name}; "
                               f"regenerate {path.name} from {forward_name}")
        if keys != expected[label]:
            diff = sorted(set(keys) ^ set(expected[label]))
            detail = (f"differs on {diff[:3]}" if diff else "is not sorted / has duplicates")
            raise DataDirError(f"{where}: the list for '{label}' {detail} compared with "
                               f"{forward_name}; regenerate {path.name} from {forward_name}")
        seen.add(label)
    missing = sorted(set(expected) - seen)
    if missing:
        raise DataDirError(f"{path}: no line for {missing[:3]} found in {forward_name}; "
                           f"regenerate {path.name} from {forward_name}")


def check_audio_files(path: Path, wav_scp: Mapping[str, str],
                      lines: Optional[Mapping[str, int]] = None) -> None:
    """Each non-piped ``wav.scp`` entry must exist and be readable by soundfile."""
    from tqdm import tqdm

    from geolid.audio import AudioError, probe  # only the audio check needs soundfile

    for key, value in tqdm(wav_scp.items(), desc=f"check audio {path.parent.name}",
                           disable=len(wav_scp) < 1000):
        where = _where(path, None if lines is None else lines.get(key))
        if value.rstrip().endswith("|"):
            continue  # a command: running it would be costly and may need tools
        try:
            info = probe(value)
        except AudioError as exc:
            raise DataDirError(f"{where}: audio of '{key}': {exc} (or drop the utterance and "
                               "re-run the preparation)") from None
        if info.frames <= 0:
            raise DataDirError(f"{where}: audio file '{value}' of '{key}' is empty; drop it")


# --------------------------------------------------------------------------- combine / filter


def combine_data_dirs(dirs: Sequence[PathLike], out: PathLike,
                      dataset_names: Optional[Sequence[str]] = None) -> Path:
    """Merge data directories into ``out`` and record where each utterance came from.

    ``dataset_names`` defaults to the folder names (``train_fleurs_lang`` ...),
    as the published combined recipe does; ``utt2dataset``/``dataset2utt`` are
    written. Utterance ids must not collide. Either all inputs have
    ``segments`` or none has: combine the formatted (``dump/raw``) directories
    when the corpora differ, as the recipe does.
    """
    dirs = [Path(d) for d in dirs]
    if not dirs:
        raise DataDirError("combine: no input directories given")
    names = list(dataset_names) if dataset_names is not None else [d.name for d in dirs]
    if len(names) != len(dirs):
        raise DataDirError(f"combine: {len(dirs)} directories but {len(names)} dataset names")
    parts = [read_data_dir(d) for d in dirs]
    with_segments = [p.segments is not None for p in parts]
    if any(with_segments) and not all(with_segments):
        seg = [str(d) for d, s in zip(dirs, with_segments) if s]
        raise DataDirError(f"combine: {seg} have segments but the others do not; combine the "
                           "formatted directories (dump/raw, after stage 3) instead")
    merged = DataDir({}, {}, {} if all(with_segments) else None, {})
    origin: Dict[str, Path] = {}
    for d, name, part in zip(dirs, names, parts):
        for utt, lang in part.utt2lang.items():
            if utt in merged.utt2lang:
                raise DataDirError(f"combine: utterance '{utt}' is in both {origin[utt]} and {d}; "
                                   "utterance ids must be unique across the merged sets")
            merged.utt2lang[utt] = lang
            merged.utt2dataset[utt] = name
            origin[utt] = d
        for rec, value in part.wav_scp.items():
            if merged.wav_scp.get(rec, value) != value:
                raise DataDirError(f"combine: recording '{rec}' of {d} has another audio entry "
                                   "in an earlier input; recording ids must be unique")
            merged.wav_scp[rec] = value
        if part.segments is not None:
            merged.segments.update(part.segments)
    return write_data_dir(out, merged)


def filter_to_languages(src: PathLike, out: PathLike,
                        languages: Union[Iterable[str], PathLike]) -> Path:
    """Write the part of ``src`` whose labels are in ``languages`` to ``out``.

    Used for the cross-domain test sets ``<test>_cross_<train>``: an
    out-of-domain test set cut down to the languages the model was trained on.
    ``languages`` is a list of codes, or a training data directory / its
    ``lang2utt`` file. Raises :class:`DataDirError` when nothing is left.
    """
    if isinstance(languages, (str, os.PathLike)):
        file = Path(languages) / "lang2utt" if Path(languages).is_dir() else Path(languages)
        try:
            languages = read_class_order(file)
        except LanguageListError as e:
            raise DataDirError(f"{e}; give a training data directory with lang2utt or a "
                               "lang2utt file") from None
    keep_langs = set(languages)
    data = read_data_dir(src)
    keep = [u for u, lang in data.utt2lang.items() if lang in keep_langs]
    if not keep:
        raise DataDirError(f"{src}: none of its languages {data.languages[:5]}... is among the "
                           f"{len(keep_langs)} training languages; leave this set out of the "
                           "cross-domain test sets")
    dropped = sorted(set(data.languages) - keep_langs)
    if dropped:
        log.info("%s: dropping %d languages not in training: %s", src, len(dropped), dropped)
    return write_data_dir(out, data.subset(keep))
