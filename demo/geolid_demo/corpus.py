"""Synthetic multilingual demo corpus: espeak-ng speech in Kaldi data directories.

Layout written under ``out_dir``::

    wav/<split>/<iso3>/<utt>.wav      16 kHz mono 16-bit PCM
    data/<split>/wav.scp              utt /abs/path.wav
    data/<split>/utt2lang             utt iso3
    data/<split>/lang2utt             iso3 utt utt ...
    data/<split>/category2utt         copy of lang2utt (ESPnet's category sampler)
    data/<split>/utt2voice            utt voice rate pitch pitch_range
    data/<split>/text                 utt sentence
    data/<split>/utt2spk              utt utt (every utterance its own speaker)
    demo_corpus.json                  the settings and the language/voice table

Splits: ``train``, ``dev`` and ``test`` use each language's training voice;
``test_accent`` uses *other* espeak-ng variants of the same language (en-us and
Scottish English for a British-English-trained model, pt-br for pt, es-419 for es,
...), so it measures robustness to accent shift. Only languages with such variants
appear in ``test_accent``. Sentences never repeat across splits.

Every utterance's voice, speed and pitch derive from the seed and the utterance id
alone, so a rerun rewrites identical metadata and skips wav files already on disk.
"""
from __future__ import annotations

import json
import random
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from geolid.utils.fileio import atomic_write, write_kaldi_map

SAMPLE_RATE = 16000
SPLITS = ("train", "dev", "test", "test_accent")


@dataclass(frozen=True)
class VoicePlan:
    """espeak-ng voices of one language: the training accent and held-out accents."""

    iso3: str
    train_voice: str
    accent_voices: Tuple[str, ...] = ()


# Training voice = the variant a model is trained on; accent voices are held out.
VOICE_PLANS: Dict[str, VoicePlan] = {p.iso3: p for p in [
    VoicePlan("eng", "en-gb", ("en-us", "en-gb-scotland")),
    VoicePlan("fra", "fr-fr", ("fr-be", "fr-ch")),
    VoicePlan("deu", "de"),
    VoicePlan("spa", "es", ("es-419",)),
    VoicePlan("por", "pt", ("pt-br",)),
    VoicePlan("rus", "ru", ("ru-lv",)),
    VoicePlan("cmn", "cmn"),
    VoicePlan("hin", "hi"),
    VoicePlan("jpn", "ja"),
    VoicePlan("vie", "vi", ("vi-vn-x-south", "vi-vn-x-central")),
    VoicePlan("ara", "ar"),
    VoicePlan("swa", "sw"),
    VoicePlan("amh", "am"),
    VoicePlan("que", "qu"),
    VoicePlan("gug", "gn"),
    VoicePlan("nci", "nci"),
    VoicePlan("mri", "mi"),
]}

# A few speaker timbres (espeak-ng "!v" variants; "" = the voice's default) so that
# a language is not one single synthetic speaker. Shared by all splits.
SPEAKER_VARIANTS = ("", "m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4")
RATE_RANGE = (130, 200)         # words per minute
PITCH_RANGE = (30, 70)          # espeak pitch 0-100
PITCH_SPREAD_RANGE = (20, 80)   # espeak intonation range 0-100

# The demo's default: 12 languages on every inhabited continent, including all six
# with accent-shifted voices (the other planned languages are available through
# --languages; 12 keep the CPU demo within its time budget).
DEMO_LANGUAGES = ("eng", "fra", "spa", "por", "rus", "cmn", "hin", "vie", "swa", "que", "nci", "mri")

# CI / test sized corpus: five languages on four continents, three with accents.
SMALL_LANGUAGES = ("eng", "spa", "por", "cmn", "swa")
# dev: 6 a language, so that choosing the best checkpoint on it is not a coin toss (2 a
# language picked an epoch 20 points worse on test than the last one)
SMALL_SIZES = {"n_train_per_lang": 8, "n_dev_per_lang": 6, "n_test_per_lang": 12}


@dataclass(frozen=True)
class UttPlan:
    """Everything needed to (re)create one utterance."""

    utt: str
    split: str
    iso3: str
    text: str
    voice: str
    rate: int
    pitch: int
    pitch_range: int


def _utt_params(seed: int, utt: str) -> Tuple[str, int, int, int]:
    """Speaker variant, rate, pitch, pitch range from a per-utterance RNG (order-free)."""
    rng = random.Random(f"{seed}/{utt}")
    return (rng.choice(SPEAKER_VARIANTS), rng.randint(*RATE_RANGE), rng.randint(*PITCH_RANGE),
            rng.randint(*PITCH_SPREAD_RANGE))


def synthesis_seed(seed: int, utt: str) -> int:
    """espeak-ng's noise seed for one utterance: the corpus is the same on every run
    (espeak-ng itself seeds from the clock, which made two runs train different models)."""
    return zlib.crc32(f"{seed}/{utt}".encode()) & 0x7FFFFFFF


def plan_corpus(languages: Sequence[str], n_train: int, n_dev: int, n_test: int,
                seed: int = 0) -> List[UttPlan]:
    """All utterances of the corpus, in (split, utt) order."""
    from geolid_demo.texts import split_sentences

    plans: List[UttPlan] = []
    for iso3 in languages:
        vp = VOICE_PLANS[iso3]
        sizes = {"train": n_train, "dev": n_dev, "test": n_test,
                 "test_accent": n_test if vp.accent_voices else 0}
        sentences = split_sentences(iso3, sizes, seed=seed)
        for split in SPLITS:
            for i, text in enumerate(sentences[split]):
                utt = f"{iso3}_{split}_{i:04d}"
                base = vp.train_voice if split != "test_accent" else \
                    vp.accent_voices[i % len(vp.accent_voices)]
                variant, rate, pitch, spread = _utt_params(seed, utt)
                voice = f"{base}+{variant}" if variant else base
                plans.append(UttPlan(utt, split, iso3, text, voice, rate, pitch, spread))
    plans.sort(key=lambda p: (SPLITS.index(p.split), p.utt))
    return plans


def _write_wav_atomic(path: Path, audio, sample_rate: int) -> None:
    """Write 16-bit PCM via a temp file + rename: an interrupted run leaves no stub."""
    from geolid.audio import write_pcm16

    path.parent.mkdir(parents=True, exist_ok=True)
    write_pcm16(path, audio, sample_rate)


def _check_languages(languages: Optional[Sequence[str]]) -> List[str]:
    if languages is None:
        return list(DEMO_LANGUAGES)
    langs = [lang.strip() for lang in languages if lang.strip()]
    unknown = [lang for lang in langs if lang not in VOICE_PLANS]
    if unknown:
        raise ValueError(f"demo corpus has no language(s) {', '.join(unknown)}; "
                         f"choose from: {','.join(VOICE_PLANS)}")
    if len(set(langs)) != len(langs):
        raise ValueError(f"duplicate language in {','.join(langs)}")
    if not langs:
        raise ValueError("no languages given")
    return langs


def _write_data_dir(data_dir: Path, plans: Sequence[UttPlan], wav_paths: Dict[str, Path]) -> None:
    lang2utt: Dict[str, List[str]] = {}
    for p in plans:
        lang2utt.setdefault(p.iso3, []).append(p.utt)
    lang2utt = {k: sorted(v) for k, v in lang2utt.items()}
    write_kaldi_map(data_dir / "wav.scp", {p.utt: str(wav_paths[p.utt]) for p in plans})
    write_kaldi_map(data_dir / "utt2lang", {p.utt: p.iso3 for p in plans})
    write_kaldi_map(data_dir / "lang2utt", lang2utt)
    write_kaldi_map(data_dir / "category2utt", lang2utt)
    write_kaldi_map(data_dir / "utt2voice",
                    {p.utt: [p.voice, p.rate, p.pitch, p.pitch_range] for p in plans})
    write_kaldi_map(data_dir / "text", {p.utt: p.text for p in plans})
    write_kaldi_map(data_dir / "utt2spk", {p.utt: p.utt for p in plans})


def make_demo_corpus(out_dir, n_train_per_lang: int = 60, n_dev_per_lang: int = 10,
                     n_test_per_lang: int = 20, seed: int = 0,
                     languages: Optional[Sequence[str]] = None, progress: bool = True) -> dict:
    """Synthesise the demo corpus into ``out_dir`` (see module docstring for the layout).

    Resumable: wav files already present are kept as they are. Returns a summary:
    ``{"out_dir", "data_dirs": {split: path}, "num_utts": {split: n}, "synthesized",
    "skipped", "seconds", "seconds_per_clip", "audio_seconds", "languages", "voices"}``.
    """
    from tqdm import tqdm

    from geolid_demo.espeak import list_voices, synthesize

    langs = _check_languages(languages)
    for name, n in (("n_train_per_lang", n_train_per_lang), ("n_dev_per_lang", n_dev_per_lang),
                    ("n_test_per_lang", n_test_per_lang)):
        if n < 0:
            raise ValueError(f"{name} must be >= 0, got {n}")
    available = set(list_voices())
    for iso3 in langs:
        vp = VOICE_PLANS[iso3]
        missing = [v for v in (vp.train_voice,) + vp.accent_voices if v not in available]
        if missing:
            raise RuntimeError(f"espeak-ng lacks voice(s) {missing} for {iso3}; "
                               "is espeakng-loader's voice data complete?")

    out = Path(out_dir).resolve()
    plans = plan_corpus(langs, n_train_per_lang, n_dev_per_lang, n_test_per_lang, seed)
    wav_paths = {p.utt: out / "wav" / p.split / p.iso3 / f"{p.utt}.wav" for p in plans}

    synthesized = skipped = 0
    audio_seconds = 0.0
    synth_time = 0.0
    for p in tqdm(plans, desc="espeak-ng demo corpus", unit="utt", disable=not progress):
        path = wav_paths[p.utt]
        if path.exists():
            skipped += 1
            continue
        t0 = time.perf_counter()
        audio = synthesize(p.text, p.voice, rate=p.rate, pitch=p.pitch,
                           pitch_range=p.pitch_range, sample_rate=SAMPLE_RATE,
                           seed=synthesis_seed(seed, p.utt))
        synth_time += time.perf_counter() - t0
        _write_wav_atomic(path, audio, SAMPLE_RATE)
        synthesized += 1
        audio_seconds += len(audio) / SAMPLE_RATE

    data_dirs: Dict[str, str] = {}
    num_utts: Dict[str, int] = {}
    for split in SPLITS:
        split_plans = [p for p in plans if p.split == split]
        if not split_plans:
            continue
        data_dir = out / "data" / split
        _write_data_dir(data_dir, split_plans, wav_paths)
        data_dirs[split] = str(data_dir)
        num_utts[split] = len(split_plans)

    voices = {iso3: {"train": VOICE_PLANS[iso3].train_voice,
                     "accent": list(VOICE_PLANS[iso3].accent_voices)} for iso3 in langs}
    summary = {
        "out_dir": str(out), "data_dirs": data_dirs, "num_utts": num_utts,
        "synthesized": synthesized, "skipped": skipped,
        "seconds": round(synth_time, 3),
        "seconds_per_clip": round(synth_time / synthesized, 5) if synthesized else None,
        "audio_seconds": round(audio_seconds, 2), "languages": langs, "voices": voices,
    }
    settings = {"seed": seed, "n_train_per_lang": n_train_per_lang,
                "n_dev_per_lang": n_dev_per_lang, "n_test_per_lang": n_test_per_lang,
                "sample_rate": SAMPLE_RATE, "languages": langs, "voices": voices}
    with atomic_write(out / "demo_corpus.json") as f:
        json.dump(settings, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return summary
