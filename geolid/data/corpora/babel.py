"""IARPA Babel (LDC) -> ``train_babel_lang`` and ``dev_babel_lang``.

Layout of the local copy (the LDC packages extracted side by side)::

    <root>/BABEL_<id>/conversational/{training,dev}/audio/<file>.sph
    <root>/BABEL_<id>/conversational/{training,dev}/transcription/<file>.txt
    <root>/BABEL_<id>/conversational/reference_materials/lexicon.txt

``<id>`` is one of the 25 Babel ids (``101`` Cantonese ... ``404`` Georgian).
A transcript alternates time marks and text::

    [0.000]
    <no-speech>
    [7.050]
    some words here
    [14.070]

Each stretch between two consecutive marks is a segment. The published rules
(its Kaldi-style ``prepare_babel.pl``) decide which segments are speech:
``(())``, ``<foreign>``, ``<overlap>``, ``<prompt>`` and every word missing from
the lexicon (after stripping the fragment markers ``-*~`` from either end) become
``<unk>``; breath/lip-smack/cough/laugh and click/ring/dtmf/int tags are noise;
``<no-speech>`` is silence; ``<sta>``, ``~`` and the speaker-change tags are
dropped. A segment left with only ``<unk>``, noise or silence is dropped.

The published evaluation uses only segments of at least 10 s, counted on the
formatted 16 kHz audio (``utt2num_samples >= 160000``): that cut is made after
the recipe's format stage, as ``*_babel_over_10s_lang`` (see
:mod:`geolid.data.prepare`). ``min_duration`` here is an optional early cut on
the time marks, off by default.

Recording id: ``{iso3}_{file stem}``; segment id: ``{recording id}_{start}_{end}``
in centiseconds, zero-padded, so ids sort by time. ``wav.scp`` lists the audio
file itself: libsndfile (soundfile) reads uncompressed NIST SPHERE (PCM, u-law,
a-law) at its 8 kHz; the recipe's format stage resamples to 16 kHz.
Shorten-compressed SPHERE cannot be read by libsndfile: give ``sph2pipe`` (path
of the sph2pipe binary) to write piped commands instead, or convert the files
beforehand.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

from geolid.data.corpora.common import CorpusError, PathLike, check_original_id, require_dir
from geolid.data.datadir import DataDir, write_data_dir
from geolid.data.iso import BABEL_TO_ISO3, IsoCodeError, babel_to_iso3

log = logging.getLogger(__name__)

SETS = {"training": "train_babel_lang", "dev": "dev_babel_lang"}
TIME_MARK_RE = re.compile(r"^\[(\d+(?:\.\d*)?)\]$")
AUDIO_SUFFIXES = (".sph", ".wav")
LEXICON = Path("reference_materials") / "lexicon.txt"
# Token rules of the published prepare_babel.pl.
UNK, VOCAL_NOISE, NOISE, SILENCE = "<unk>", "<v-noise>", "<noise>", "<silence>"
DROPPED_TOKENS = frozenset({"<sta>", "<male-to-female>", "<female-to-male>", "~"})
TOKEN_MAP = {
    **{t: VOCAL_NOISE for t in ("<lipsmack>", "<breath>", "<cough>", "<laugh>")},
    **{t: NOISE for t in ("<click>", "<ring>", "<dtmf>", "<int>")},
    **{t: UNK for t in ("(())", "<foreign>", "<overlap>", "<prompt>")},
    "<no-speech>": SILENCE,
}
NOT_SPEECH = frozenset({UNK, VOCAL_NOISE, NOISE, SILENCE})
FRAGMENT_MARKERS = "-*~"


@dataclass(frozen=True)
class TranscriptSegment:
    """A stretch of one recording between two transcript time marks."""

    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start

    def has_speech(self, lexicon: Optional[Set[str]] = None) -> bool:
        """True if a token is a word (of ``lexicon``, when given) after the published mapping."""
        return any(tok not in NOT_SPEECH for tok in map_tokens(self.text, lexicon))


def read_lexicon(path: Path) -> Set[str]:
    """The words of a Babel lexicon: the first field of each line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return {line.split()[0] for line in f if line.strip()}


def _in_lexicon(word: str, lexicon: Set[str]) -> str:
    """``word``, or the form left after stripping fragment markers one at a time from
    either end that is in the lexicon, or ``<unk>``."""
    while word not in lexicon and len(word) > 1:
        if word[-1] in FRAGMENT_MARKERS:
            word = word[:-1]
        elif word[0] in FRAGMENT_MARKERS:
            word = word[1:]
        else:
            break
    return word if word in lexicon else UNK


def map_tokens(text: str, lexicon: Optional[Set[str]] = None) -> List[str]:
    """Transcript tokens after the published mapping (see the module docstring)."""
    out = []
    for tok in text.split():
        if tok in DROPPED_TOKENS:
            continue
        if tok in TOKEN_MAP:
            out.append(TOKEN_MAP[tok])
        else:
            out.append(tok if lexicon is None else _in_lexicon(tok, lexicon))
    return out


def parse_transcript(path: Path) -> List[TranscriptSegment]:
    """Segments of a Babel transcript, in file order (empty text included)."""
    segments: List[TranscriptSegment] = []
    prev: Optional[Tuple[float, int]] = None
    text: List[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            mark = TIME_MARK_RE.match(line)
            if not mark:
                if line:
                    text.append(line)
                continue
            t = float(mark.group(1))
            if prev is not None:
                if t < prev[0]:
                    raise CorpusError(
                        f"Babel: {path}:{lineno}: time mark [{mark.group(1)}] is before the "
                        f"previous one [{prev[0]}] (line {prev[1]}); fix the transcript by "
                        "hand or remove the file")
                if t > prev[0]:
                    segments.append(TranscriptSegment(prev[0], t, " ".join(text)))
            prev, text = (t, lineno), []
    return segments


def sphere_header(path: Path) -> Dict[str, str]:
    """Fields of a NIST SPHERE header (``{}`` if the file is not SPHERE)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head.startswith(b"NIST_1A"):
        return {}
    fields = {}
    for line in head.decode("latin-1").splitlines()[2:]:
        if line.strip() == "end_head":
            break
        parts = line.split(None, 2)
        if len(parts) == 3:
            fields[parts[0]] = parts[2].strip()
    return fields


def is_shorten(path: Path) -> bool:
    """True for shorten-compressed SPHERE, which libsndfile cannot decode."""
    return "shorten" in sphere_header(path).get("sample_coding", "")


def wav_entry(audio: Path, sph2pipe: Optional[str]) -> str:
    """The ``wav.scp`` value for one recording."""
    if audio.suffix.lower() == ".sph" and sph2pipe:
        return f"{sph2pipe} -f wav -p -c 1 {audio} |"
    if audio.suffix.lower() == ".sph" and is_shorten(audio):
        raise CorpusError(
            f"Babel: '{audio}' is shorten-compressed SPHERE, which soundfile/libsndfile cannot "
            "read. Pass --sph2pipe /path/to/sph2pipe (wav.scp then uses sph2pipe pipes), or "
            "convert the audio with `sph2pipe -f wav` first.")
    return str(audio)


def centiseconds(seconds: float) -> int:
    return int(round(seconds * 100))


def prepare_split(split_dir: Path, iso3: str, min_duration: Optional[float],
                  sph2pipe: Optional[str], lexicon: Optional[Set[str]] = None) -> DataDir:
    """Segments of one language and split (``training`` or ``dev``) as a data directory."""
    trans_dir = require_dir(split_dir / "transcription", "Babel",
                            f"Expected transcripts in '{split_dir}/transcription/*.txt'.")
    audio_dir = require_dir(split_dir / "audio", "Babel",
                            f"Expected audio in '{split_dir}/audio/*.sph'.")
    audio = {p.stem: p for p in sorted(audio_dir.iterdir())
             if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES}
    data = DataDir(wav_scp={}, utt2lang={}, segments={})
    no_audio = short = not_speech = 0
    for txt in sorted(trans_dir.glob("*.txt")):
        stem = check_original_id(txt.stem, txt)
        segments = parse_transcript(txt)
        kept = [s for s in segments if s.has_speech(lexicon)]
        not_speech += len(segments) - len(kept)
        long_enough = [s for s in kept if min_duration is None or s.duration >= min_duration - 1e-6]
        short += len(kept) - len(long_enough)
        if not long_enough:
            continue
        if stem not in audio:
            no_audio += 1
            continue
        rec = f"{iso3}_{stem}"
        data.wav_scp[rec] = wav_entry(audio[stem].resolve(), sph2pipe)
        for seg in long_enough:
            utt = f"{rec}_{centiseconds(seg.start):07d}_{centiseconds(seg.end):07d}"
            data.segments[utt] = (rec, seg.start, seg.end)
            data.utt2lang[utt] = iso3
    if no_audio:
        log.warning("Babel: %s: %d transcripts have no audio file; skipped", split_dir, no_audio)
    log.info("Babel: %s: %d segments kept; dropped: %d only <unk>/noise/silence, %d shorter "
             "than min_duration", split_dir, len(data.utt2lang), not_speech, short)
    return data


def prepare_babel(root: PathLike, out_dir: PathLike, min_duration: Optional[float] = None,
                  sph2pipe: Optional[str] = None,
                  babel_ids: Optional[Sequence[str]] = None) -> List[Path]:
    """Write ``<out_dir>/train_babel_lang`` and ``<out_dir>/dev_babel_lang``.

    ``babel_ids``: ids to use (``101`` ...; default: every ``BABEL_<id>`` under
    ``root``). Each package needs its lexicon (``reference_materials/lexicon.txt``).
    Returns the written paths (train, dev; dev alone when no package has its
    ``conversational/training`` folder, which evaluation does not need).
    """
    root = require_dir(root, "Babel",
                       "Babel is licensed by LDC: obtain the packages, extract each into "
                       "ROOT/BABEL_<id>/ and pass ROOT.").resolve()
    if babel_ids is None:
        found = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("BABEL_"))
        if not found:
            raise CorpusError(f"Babel: no BABEL_<id> folders in '{root}'; expected e.g. "
                              f"'{root}/BABEL_101/conversational/training/audio/*.sph'")
        babel_ids = found
    langs = []
    for bid in babel_ids:
        try:
            iso3 = babel_to_iso3(bid)
        except IsoCodeError as exc:
            raise CorpusError(f"Babel: {root}/{bid}: {exc}; known ids: "
                              f"{sorted(BABEL_TO_ISO3)}") from None
        folder = bid if bid.startswith("BABEL_") else f"BABEL_{bid}"
        conv = require_dir(root / folder / "conversational", "Babel",
                           f"Expected '{root}/{folder}/conversational/{{training,dev}}'.")
        if not (conv / LEXICON).is_file():
            raise CorpusError(f"Babel: lexicon '{conv / LEXICON}' not found; the published rules "
                              "map words missing from it to <unk> (segments of only <unk>, noise "
                              "or silence are dropped). Extract the package's reference_materials.")
        langs.append((conv, iso3, read_lexicon(conv / LEXICON)))
    from tqdm import tqdm

    out_dir = Path(out_dir)
    written = []
    for split, set_name in SETS.items():
        if split == "training" and not any((conv / split).is_dir() for conv, _, _ in langs):
            log.warning("Babel: no conversational/training folder in %s: %s not written (dev "
                        "is enough for evaluation)", root, set_name)
            continue
        merged = DataDir(wav_scp={}, utt2lang={}, segments={})
        for conv_dir, iso3, lexicon in tqdm(langs, desc=f"Babel {split}", unit="lang"):
            part = prepare_split(require_dir(conv_dir / split, "Babel", "The package looks "
                                             "incomplete; re-extract it."),
                                 iso3, min_duration, sph2pipe, lexicon)
            merged.wav_scp.update(part.wav_scp)
            merged.utt2lang.update(part.utt2lang)
            merged.segments.update(part.segments)
        written.append(write_data_dir(out_dir / set_name, merged))
    return written
