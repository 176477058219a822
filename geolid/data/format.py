"""Stage 3 of the recipe: format a data directory's audio into ``dump/raw``.

Every utterance becomes one mono 16-bit file (``wav`` or ``flac``) at the target
rate in ``<dst>/data/<utt>.wav``; ``<dst>/wav.scp`` then points at those files
(absolute paths) and ``<dst>/utt2num_samples`` holds their lengths. Segments
are resolved (cut out), so ``<dst>`` has no ``segments`` file.

What a ``wav.scp`` value may be:

* a path soundfile can read (wav, flac, ogg, NIST sphere ...);
* a shell command ending in ``|`` whose stdout is a readable audio file
  (e.g. ``sph2pipe -f wav x.sph |``), run once per recording;
* either of the above behind ``speed:<f>:`` (written by
  :mod:`geolid.data.speed_perturb`): the audio is played at ``f`` times its
  speed (tempo and pitch, like ``sox speed``), done here by treating it as if
  sampled at ``sr * f`` while resampling, so the length becomes ``len / f``.
  Segment times of such a recording are on the perturbed time line and are
  mapped back (``t * f``) to read only the needed frames.

Processing goes through :mod:`geolid.audio`, the path inference uses too: the
frames are read by span, channels are averaged, the audio is resampled with
:func:`geolid.audio.resample`, and samples are written as 16-bit PCM via a temp
file and a rename, so a file that exists is complete.

Multi-column ``wav.scp`` (ESPnet's ``format_wav_scp --multi-columns-input/-output``,
lid.sh's ``--multi_columns_input_wav_scp`` / ``--multi_columns_output_wav_scp``):

* ``multi_columns_input``: a value is several files, ``utt a.wav b.wav ...``, whose
  channels are concatenated (same sample rate and length, else an error naming the
  line), as ESPnet's ``SoundScpReader(multi_columns=True)`` reads them; piped
  commands cannot be columns;
* ``multi_columns_output``: channels are kept instead of averaged, one mono file per
  channel ``<utt>-CH<c>.<fmt>`` listed as columns (ESPnet's ``SoundScpWriter``
  naming); a one-channel utterance stays ``<utt>.<fmt>`` in one column.

Resuming: an output file that already exists with the target rate, one channel
and the target format is reused as is (its length read from the header), so a
re-run after an interruption or a failure only processes what is missing.
Note that a changed source is not detected: delete the output folder to redo it.

Errors: an unreadable/missing/corrupt recording, a failing command, an empty or
NaN-holding utterance, or a segment beyond the end of its recording (by more
than :data:`MAX_OVERSHOOT_S`; a smaller overshoot is cut off, as Kaldi does)
does not stop the run. All such errors are collected, written to
``<dst>/format_errors`` and raised together at the end as :class:`FormatError`
(the first :data:`MAX_SHOWN_ERRORS` in the message), after every other
utterance has been written; with ``skip_bad=True`` the bad utterances are left
out of ``<dst>`` instead (with a warning).
"""
from __future__ import annotations

import functools
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from geolid.audio import (FORMATS, AudioError, decode, probe, read_frames, resample, to_mono,
                          write_pcm16)
from geolid.data.datadir import DataDirError, DataPrepError, parse_segment
from geolid.data.speed_perturb import parse_speed
from geolid.utils.fileio import read_kaldi_lines, remove_stale_temps, write_kaldi_map

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

MAX_OVERSHOOT_S = 0.5
MAX_SHOWN_ERRORS = 20
# Files keyed by utterance, and files listing utterances per label; both are
# carried over to the formatted directory (restricted to the utterances written).
UTT_FILES = ("utt2lang", "utt2dataset", "utt2spk", "text")
LIST_FILES = ("lang2utt", "category2utt", "dataset2utt", "spk2utt")


class FormatError(DataPrepError):
    """Formatting failed for some utterances (all are listed) or the input is malformed."""


class _AudioError(Exception):
    """One utterance could not be formatted; the message names the line and the file."""


@dataclass(frozen=True)
class _Utt:
    utt: str
    out: str                                  # output audio path
    segment: Optional[Tuple[float, float]]    # start, end in seconds, or whole recording
    seg_where: Optional[str]                  # "<src>/segments:<line>"


@dataclass(frozen=True)
class _Task:
    """One ``wav.scp`` entry and the utterances cut from it (loaded once)."""

    rec: str
    value: str
    where: str                                # "<src>/wav.scp:<line>"
    utts: Tuple[_Utt, ...]
    multi_input: bool = False                 # the value lists one file per channel group


# --------------------------------------------------------------------------- public


def output_path(audio_dir: PathLike, utt: str, audio_format: str = "wav") -> Path:
    """Where ``utt``'s audio goes (the id, %-escaped should it hold ``/``)."""
    return Path(audio_dir) / f"{quote(utt, safe='')}.{audio_format}"


def channel_path(out: PathLike, channel: int) -> Path:
    """The file of one channel when channels are kept (``<utt>-CH<c>.<fmt>``, ESPnet's name)."""
    out = Path(out)
    return out.with_name(f"{out.stem}-CH{channel}{out.suffix}")


def existing_outputs(out: PathLike, sample_rate: int, audio_format: str = "wav",
                     keep_channels: bool = False) -> Optional[Tuple[int, List[str]]]:
    """(length, files) of a reusable earlier output of one utterance, or None."""
    n = existing_num_samples(out, sample_rate, audio_format)
    if n is not None or not keep_channels:
        return None if n is None else (n, [str(out)])
    files, lengths = [], set()
    while True:
        ch = channel_path(out, len(files))
        m = existing_num_samples(ch, sample_rate, audio_format)
        if m is None:
            break
        files.append(str(ch))
        lengths.add(m)
    return (lengths.pop(), files) if len(files) > 1 and len(lengths) == 1 else None


def existing_num_samples(path: PathLike, sample_rate: int, audio_format: str = "wav") -> Optional[int]:
    """Length of a reusable earlier output, or None (absent, unreadable, other rate/format)."""
    if not os.path.isfile(path):
        return None
    try:
        info = probe(path)
    except AudioError:  # a damaged file is simply redone
        return None
    ok = (info.sample_rate == sample_rate and info.channels == 1 and info.frames > 0
          and info.format == FORMATS[audio_format][0])
    return info.frames if ok else None


def segment_span(start_s: float, end_s: float, sample_rate: float, frames: int,
                 speed: float = 1.0) -> Optional[Tuple[int, int]]:
    """The frames ``[start, stop)`` a segment cuts from a recording of ``frames`` frames at
    ``sample_rate``, or None when it lies beyond the end (by more than
    :data:`MAX_OVERSHOOT_S`; a smaller overshoot is cut off). Segment times are on the
    (possibly speed-perturbed) recording's time line."""
    start = int(round(start_s * speed * sample_rate))
    stop = int(round(end_s * speed * sample_rate))
    if start >= frames or stop > frames + MAX_OVERSHOOT_S * sample_rate:
        return None
    return start, min(stop, frames)


def formatted_length(frames: int, sample_rate: float, target_rate: int,
                     speed: float = 1.0) -> int:
    """How many samples formatting writes for ``frames`` source frames (resampled to
    ``target_rate``, played at ``speed``), without reading any audio."""
    from geolid.audio.resample import resampled_length

    if float(sample_rate) * speed == float(target_rate):
        return frames
    return resampled_length(frames, sample_rate * speed, target_rate)


def format_data_dir(src: PathLike, dst: PathLike, audio_dir: Optional[PathLike] = None,
                    sample_rate: int = 16000, audio_format: str = "wav", nj: int = 1,
                    progress: bool = True, skip_bad: bool = False,
                    multi_columns_input: bool = False,
                    multi_columns_output: bool = False) -> Path:
    """Format ``src`` into ``dst`` (see the module doc); return ``dst``.

    ``audio_dir`` defaults to ``dst/data``; ``nj`` worker processes share the
    recordings. ``multi_columns_input`` / ``multi_columns_output``: see the module doc. Raises :class:`FormatError` listing every bad utterance (unless
    ``skip_bad``), after all the others have been written.
    """
    src, dst = Path(src), Path(dst)
    if audio_format not in FORMATS:
        raise FormatError(f"format: audio format {audio_format!r} not supported; use "
                          f"{' or '.join(sorted(FORMATS))}")
    if not (isinstance(sample_rate, int) and sample_rate > 0):
        raise FormatError(f"format: sample rate must be a positive integer, got {sample_rate!r}")
    if dst.resolve() == src.resolve():
        raise FormatError(f"format: output {dst} is the input; write to another folder "
                          "(e.g. dump/raw/<set>)")
    audio_dir = (Path(audio_dir) if audio_dir is not None else dst / "data").resolve()
    tasks = read_tasks(src, audio_dir, audio_format, multi_columns_input)
    audio_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(audio_dir)
    results = _run(tasks, sample_rate, audio_format, nj, progress, label=src.name,
                   keep_channels=multi_columns_output)

    num_samples = {r[0]: r[1] for r in results if r[1] is not None}
    outputs = {r[0]: " ".join(r[4]) for r in results if r[1] is not None}
    errors = [r[2] for r in sorted(results, key=lambda r: r[0]) if r[2]]
    reused = sum(1 for r in results if r[3])
    dst.mkdir(parents=True, exist_ok=True)
    _write_error_log(dst / "format_errors", errors)
    if errors and not skip_bad:
        raise FormatError(_error_summary(src, dst, audio_dir, errors, len(results)))
    if errors:
        log.warning("format %s: left out %d bad utterances (listed in %s)", src, len(errors),
                    dst / "format_errors")
    if not num_samples:
        raise FormatError(f"format {src}: no utterance could be formatted")
    _write_outputs(src, dst, outputs, num_samples)
    log.info("format %s -> %s: %d utterances (%d reused) at %d Hz", src, dst, len(num_samples),
             reused, sample_rate)
    return dst


def read_tasks(src: PathLike, audio_dir: PathLike, audio_format: str = "wav",
               multi_columns_input: bool = False) -> List[_Task]:
    """The work list: ``wav.scp`` entries with the utterances (segments) they hold."""
    src = Path(src)
    if not (src / "wav.scp").is_file():
        raise FormatError(f"format: {src}/wav.scp not found; run the data preparation stage "
                          "first or check the data directory path")
    wav = _read_unique(src / "wav.scp")
    multi = bool(multi_columns_input)
    seg_path = src / "segments"
    if not seg_path.is_file():
        return [_Task(rec, value, f"{src / 'wav.scp'}:{line}",
                      (_Utt(rec, str(output_path(audio_dir, rec, audio_format)), None, None),),
                      multi)
                for rec, (line, value) in wav.items()]
    by_rec: Dict[str, List[_Utt]] = {}
    for utt, (line, rest) in _read_unique(seg_path).items():
        where = f"{seg_path}:{line}"
        try:
            rec, start, end = parse_segment(rest, where)
        except DataDirError as e:
            raise FormatError(str(e)) from None
        if rec not in wav:
            raise FormatError(f"{where}: recording '{rec}' of segment '{utt}' is not in "
                              f"{src / 'wav.scp'}; add it there or drop the segment")
        by_rec.setdefault(rec, []).append(
            _Utt(utt, str(output_path(audio_dir, utt, audio_format)), (start, end), where))
    return [_Task(rec, wav[rec][1], f"{src / 'wav.scp'}:{wav[rec][0]}", tuple(utts), multi)
            for rec, utts in by_rec.items()]


# --------------------------------------------------------------------------- reading input


def _read_unique(path: Path) -> Dict[str, Tuple[int, str]]:
    out: Dict[str, Tuple[int, str]] = {}
    try:
        rows = read_kaldi_lines(path)
    except ValueError as e:  # not UTF-8: the message names the line
        raise FormatError(str(e)) from None
    for line, key, rest in rows:
        if key in out:
            raise FormatError(f"{path}:{line}: duplicate key '{key}' (first on line "
                              f"{out[key][0]}); keys must be unique")
        if not rest:
            raise FormatError(f"{path}:{line}: '{key}' has no value; fix or remove the line")
        out[key] = (line, rest)
    return out


class _ScpAudio:
    """The audio of one ``wav.scp`` entry: a file read piecewise, or a command's output."""

    def __init__(self, task: _Task):
        self.task, self.where = task, task.where
        try:
            self.audio, self.speed = parse_speed(task.value)
        except ValueError as exc:
            raise _AudioError(f"{self.where}: {exc}") from None
        self.data = None
        self.files = [self.audio]
        if task.multi_input:
            self.files = self.audio.split()
            if any(f.endswith("|") for f in self.files) or self.audio.rstrip().endswith("|"):
                raise _AudioError(f"{self.where}: '{task.rec}': a multi-column wav.scp lists "
                                  "audio files, one column per file; a piped command cannot be "
                                  "a column (format it first, or drop "
                                  "--multi_columns_input_wav_scp)")
        if not task.multi_input and self.audio.rstrip().endswith("|"):
            self.data, self.sr = self._run_command(self.audio.rstrip()[:-1].strip())
            self.frames = len(self.data)
        else:
            self.frames, self.sr = self._info()

    def _describe(self) -> str:
        return f"'{self.audio}' of '{self.task.rec}'"

    def _failed(self, exc: AudioError) -> "_AudioError":
        return _AudioError(f"{self.where}: audio of '{self.task.rec}': {exc} (or drop the "
                           "utterance)")

    def _info(self) -> Tuple[int, int]:
        infos = []
        for f in self.files:
            try:
                infos.append(probe(f))
            except AudioError as exc:
                raise self._failed(exc) from None
        first = infos[0]
        for f, info in zip(self.files[1:], infos[1:]):
            if (info.sample_rate, info.frames) != (first.sample_rate, first.frames):
                raise _AudioError(
                    f"{self.where}: the columns of '{self.task.rec}' differ: '{self.files[0]}' "
                    f"has {first.frames} frames at {first.sample_rate} Hz, '{f}' {info.frames} at "
                    f"{info.sample_rate} Hz; the channels of one utterance must match")
        return first.frames, first.sample_rate

    def _run_command(self, cmd: str):
        proc = subprocess.run(cmd, shell=True, capture_output=True)
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip()[-300:]
            raise _AudioError(f"{self.where}: command {cmd!r} of '{self.task.rec}' failed (exit "
                              f"{proc.returncode}): {tail or 'no message'}")
        try:
            return decode(proc.stdout, cmd)
        except AudioError as exc:
            raise _AudioError(f"{self.where}: cannot decode the output of command {cmd!r} of "
                              f"'{self.task.rec}' ({exc.reason}); it must write an audio file "
                              "(wav) to stdout") from None

    def read(self, utt: _Utt):
        """Float32 ``(frames, channels)`` of ``utt`` at the source rate (the columns'
        channels side by side)."""
        import numpy as np

        start, stop = (0, self.frames) if utt.segment is None else self._frames(utt)
        if self.data is not None:
            x = np.asarray(self.data[start:stop], dtype=np.float32)
            return x[:, None] if x.ndim == 1 else x
        try:
            return np.concatenate([read_frames(f, start, stop) for f in self.files], axis=1)
        except AudioError as exc:
            raise self._failed(exc) from None

    def _frames(self, utt: _Utt) -> Tuple[int, int]:
        start_s, end_s = utt.segment
        span = segment_span(start_s, end_s, self.sr, self.frames, self.speed)
        if span is None:
            start = int(round(start_s * self.speed * self.sr))
            which = "starts" if start >= self.frames else "ends"
            at = start_s if which == "starts" else end_s
            duration = self.frames / self.sr / self.speed
            raise _AudioError(
                f"{utt.seg_where}: segment '{utt.utt}' {which} at {at:.3f} s, beyond the end of "
                f"recording {self._describe()} ({duration:.3f} s, {self.where}); fix the times "
                "or drop the segment")
        return span


# --------------------------------------------------------------------------- processing


def _process(task: _Task, sample_rate: int, audio_format: str, keep_channels: bool = False):
    """Format the utterances of one task:
    ``[(utt, num_samples|None, error|None, reused, output files)]``."""
    results = []
    source, source_error = None, None
    for utt in task.utts:
        done = existing_outputs(utt.out, sample_rate, audio_format, keep_channels)
        if done is not None:
            results.append((utt.utt, done[0], None, True, done[1]))
            continue
        try:
            if source_error is not None:
                raise _AudioError(source_error)
            if source is None:
                try:
                    source = _ScpAudio(task)
                except _AudioError as exc:
                    source_error = str(exc)
                    raise
            n, files = _convert(source, utt, sample_rate, audio_format, keep_channels)
            results.append((utt.utt, n, None, False, files))
        except _AudioError as exc:
            results.append((utt.utt, None, str(exc), False, []))
        except Exception as exc:  # keep going; the run reports everything at the end
            results.append((utt.utt, None, f"{task.where}: '{utt.utt}': unexpected "
                            f"{type(exc).__name__}: {exc}", False, []))
    return results


def _convert(source: _ScpAudio, utt: _Utt, sample_rate: int, audio_format: str,
             keep_channels: bool = False) -> Tuple[int, List[str]]:
    channels = source.read(utt)
    if keep_channels and channels.shape[1] > 1:
        outs = []
        for c in range(channels.shape[1]):
            one = _Utt(utt.utt, str(channel_path(utt.out, c)), utt.segment, utt.seg_where)
            outs.append(_convert_mono(source, one, channels[:, c], sample_rate, audio_format))
        return outs[0], [str(channel_path(utt.out, c)) for c in range(len(outs))]
    return _convert_mono(source, utt, to_mono(channels), sample_rate, audio_format), [utt.out]


def _convert_mono(source: _ScpAudio, utt: _Utt, x, sample_rate: int, audio_format: str) -> int:
    import numpy as np

    where = utt.seg_where or source.where
    if len(x) == 0:
        raise _AudioError(f"{where}: '{utt.utt}' has no samples ({source._describe()}); drop it")
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        what = "all samples are" if bad == len(x) else f"{bad} of {len(x)} samples are"
        raise _AudioError(f"{where}: '{utt.utt}': {what} NaN/inf ({source._describe()}); "
                          "replace the file or drop the utterance")
    y = resample(x, source.sr * source.speed, sample_rate)
    if len(y) == 0:
        raise _AudioError(f"{where}: '{utt.utt}' is too short to resample ({len(x)} samples at "
                          f"{source.sr} Hz); drop it")
    write_pcm16(utt.out, y, sample_rate, audio_format)
    return len(y)


def _init_worker() -> None:
    # Workers are processes; nested thread pools would only oversubscribe the CPUs.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _run(tasks: Sequence[_Task], sample_rate: int, audio_format: str, nj: int, progress: bool,
         label: str, keep_channels: bool = False):
    from tqdm import tqdm

    work = functools.partial(_process, sample_rate=sample_rate, audio_format=audio_format,
                             keep_channels=keep_channels)
    total = sum(len(t.utts) for t in tasks)
    results = []
    with tqdm(total=total, desc=f"format {label}", unit="utt", disable=not progress) as bar:
        if nj <= 1 or len(tasks) <= 1:
            for task in tasks:
                results.extend(work(task))
                bar.update(len(task.utts))
            return results
        import multiprocessing as mp

        # spawn: safe even when the caller has torch (and its thread pools) loaded.
        ctx = mp.get_context("spawn")
        chunksize = max(1, min(32, len(tasks) // (nj * 8)))
        with ctx.Pool(min(nj, len(tasks)), initializer=_init_worker) as pool:
            for res in pool.imap_unordered(work, tasks, chunksize=chunksize):
                results.extend(res)
                bar.update(len(res))
    return results


# --------------------------------------------------------------------------- writing


def _error_summary(src: Path, dst: Path, audio_dir: Path, errors: List[str], total: int) -> str:
    shown = "\n  ".join(errors[:MAX_SHOWN_ERRORS])
    more = len(errors) - MAX_SHOWN_ERRORS
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return (f"format {src}: {len(errors)} of {total} utterances failed (all listed in "
            f"{dst / 'format_errors'}); the other {total - len(errors)} are in {audio_dir} and "
            "are reused on a re-run. Fix or drop the failed ones and re-run, or pass "
            f"--skip-bad to leave them out:\n  {shown}{tail}")


def _write_error_log(path: Path, errors: List[str]) -> None:
    from geolid.utils.fileio import atomic_write

    if not errors:
        path.unlink(missing_ok=True)
        return
    with atomic_write(path) as f:
        f.write("".join(e.replace("\n", " ") + "\n" for e in errors))


def _write_outputs(src: Path, dst: Path, outputs: Dict[str, str],
                   num_samples: Dict[str, int]) -> None:
    write_kaldi_map(dst / "wav.scp", {u: outputs[u] for u in num_samples})
    write_kaldi_map(dst / "utt2num_samples", num_samples)
    (dst / "segments").unlink(missing_ok=True)  # resolved: the files hold the segments
    kept = set(num_samples)
    for name in UTT_FILES + LIST_FILES:
        if not (src / name).is_file():
            (dst / name).unlink(missing_ok=True)  # a stale file from another run
            continue
        rows = [(k, v) for _line, k, v in read_kaldi_lines(src / name)]
        if name in UTT_FILES:
            rows = [(k, v) for k, v in rows if k in kept]
        else:
            rows = [(k, [u for u in v.split() if u in kept]) for k, v in rows]
            rows = [(k, v) for k, v in rows if v]
        write_kaldi_map(dst / name, rows)
