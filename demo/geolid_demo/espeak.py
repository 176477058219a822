"""Speech synthesis with espeak-ng through the ``espeakng-loader`` wheel.

Why ctypes: the ``espeakng-loader`` wheel ships ``libespeak-ng.so`` (1.52) and its
voice data, so users need no system espeak-ng, but it only *locates* the library.
The pip packages that wrap espeak-ng either drive the ``espeak-ng`` executable
(which the wheel does not ship) or only do phonemisation, and none is maintained
for synthesis with this library; the synchronous C API we need is five functions,
so a small ctypes binding is the least fragile option.

espeak-ng keeps one global synthesiser per process, so the library is initialised
once (lazily, on first use) and every call into it holds a module-level lock.
Audio comes out as int16 at espeak's native 22050 Hz and is resampled with
:func:`geolid.audio.resample`, like every other audio in geolid.

Repeated calls are not bit-identical: espeak-ng keeps its pitch-flutter phase in a
C static that no API call resets, so the same text can differ by a few samples
from call to call. Lengths and loudness agree to well under 1%.
"""
from __future__ import annotations

import ctypes
import difflib
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from geolid.audio.resample import resample

NATIVE_SAMPLE_RATE = 22050

# Constants from espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "punctuation": 5, "wordgap": 7}

# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events)
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short),
                                   ctypes.c_int, ctypes.c_void_p)


class _Voice(ctypes.Structure):
    """``espeak_VOICE`` (only the fields we read are meaningful to us)."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte + NUL-terminated string)*, then NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class _Engine:
    """The process-wide espeak-ng instance: library handle, callback, sample buffer."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "espeak-ng synthesis needs the 'espeakng-loader' wheel: "
                "pip install espeakng-loader") from e
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._declare()
        data_path = espeakng_loader.get_data_path().encode()
        rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path,
                                          _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed (returned {rate}); "
                               f"voice data expected at {data_path.decode()}")
        self.native_rate = int(rate)
        self.chunks: List[np.ndarray] = []
        # Keep a reference: ctypes frees the thunk if the Python object dies.
        self._callback = _SYNTH_CALLBACK(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.voices = self._list_voices()
        variant_dir = Path(data_path.decode()) / "voices" / "!v"
        self.variants = sorted(p.name for p in variant_dir.iterdir()) if variant_dir.is_dir() else []
        self.current_voice: Optional[str] = None

    def _declare(self) -> None:
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None

    def _collect(self, wav, numsamples, events) -> int:
        if wav and numsamples > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
        return 0  # 0 = keep synthesising

    def _list_voices(self) -> Dict[str, str]:
        """Language code (e.g. 'en-gb', 'pt-br') -> voice file identifier ('gmw/en').

        espeak_SetVoiceByName only accepts file names and display names, not language
        codes, so codes are resolved here. A code several voices claim goes to the
        one listing it with the best (lowest) priority, then to the one whose file
        is named after it.
        """
        best: Dict[str, Tuple[int, int, str]] = {}
        array = self.lib.espeak_ListVoices(None)
        i = 0
        while array[i]:
            voice = array[i].contents
            i += 1
            if not voice.identifier:
                continue
            ident = voice.identifier.decode("utf-8", "replace")
            stem = ident.rsplit("/", 1)[-1].lower()
            claims = _parse_languages(voice.languages) + [(0, stem)]
            for priority, code in claims:
                rank = (priority, 0 if code == stem else 1, ident)
                if code not in best or rank < best[code]:
                    best[code] = rank
        return {code: rank[2] for code, rank in sorted(best.items())}

    def set_voice(self, voice: str) -> None:
        if voice == self.current_voice:
            return
        base, plus, variant = voice.partition("+")
        base = base.lower()
        if base not in self.voices:
            close = difflib.get_close_matches(base, self.voices, n=5, cutoff=0.5)
            hint = f"; close matches: {', '.join(close)}" if close else ""
            raise ValueError(f"unknown espeak-ng voice '{voice}'{hint}. "
                             f"See geolid_demo.espeak.list_voices() for all {len(self.voices)}.")
        if plus and variant not in self.variants:
            close = difflib.get_close_matches(variant, self.variants, n=5, cutoff=0.5)
            hint = f"; close matches: {', '.join(close)}" if close else ""
            raise ValueError(f"unknown espeak-ng speaker variant '+{variant}' in voice "
                             f"'{voice}'{hint}. Variants: {', '.join(self.variants)}")
        spec = self.voices[base] + (f"+{variant}" if plus else "")
        err = self.lib.espeak_SetVoiceByName(spec.encode())
        if err != _EE_OK:
            raise ValueError(f"espeak-ng could not load voice '{voice}' ({spec}), error {err}")
        self.current_voice = voice

    def synth(self, text: str, rate: int, pitch: int, pitch_range: int, seed: int) -> np.ndarray:
        # espeak-ng seeds its noise sources (breathy variants, Klatt voicing) from the
        # clock at start-up; a seed per call makes a clip depend only on its arguments,
        # not on the time or on what was spoken before it.
        self.lib.espeak_ng_SetRandSeed(int(seed))
        for name, value in (("rate", rate), ("pitch", pitch), ("range", pitch_range)):
            self.lib.espeak_SetParameter(_PARAM[name], int(value), 0)
        data = text.encode("utf-8") + b"\0"
        self.chunks = []
        err = self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != _EE_OK:
            raise RuntimeError(f"espeak_Synth failed with error {err} for text {text[:40]!r}")
        self.lib.espeak_Synchronize()
        pcm = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        self.chunks = []
        return pcm


def _parse_languages(ptr: Optional[int]) -> List[Tuple[int, str]]:
    """Decode espeak's packed language list: (priority byte, NUL-terminated code)*, NUL."""
    out: List[Tuple[int, str]] = []
    if not ptr:
        return out
    offset = 0
    while True:
        priority = ctypes.c_ubyte.from_address(ptr + offset).value
        if priority == 0:  # a zero priority byte ends the list
            break
        code = ctypes.string_at(ptr + offset + 1)
        if not code:
            break
        out.append((priority, code.decode("utf-8", "replace").lower()))
        offset += 1 + len(code) + 1
    return out


_LOCK = threading.Lock()
_ENGINE: Optional[_Engine] = None


def _engine() -> _Engine:
    """Caller must hold ``_LOCK``."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE


def list_variants() -> List[str]:
    """Speaker variants usable as a ``+name`` voice suffix (``'m3'``, ``'f2'``, ...)."""
    with _LOCK:
        return list(_engine().variants)


def list_voices() -> List[str]:
    """Language codes espeak-ng can speak (e.g. ``'en-gb'``, ``'pt-br'``), sorted.

    A code may be followed by ``+variant`` (``'en-gb+f3'``) when synthesising; variants
    are the speaker files in espeak-ng-data/voices/!v (m1..m8, f1..f5, ...).
    """
    with _LOCK:
        return list(_engine().voices)


def synthesize(text: str, voice: str, rate: int = 175, pitch: int = 50, pitch_range: int = 50,
               sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Speak ``text`` with espeak-ng voice ``voice``; float32 mono in [-1, 1] at ``sample_rate``.

    The same arguments (``seed`` included) always give the same samples.

    ``rate`` is words per minute (80-450), ``pitch`` and ``pitch_range`` are 0-100.
    An unknown voice raises ValueError naming the voice and close matches.
    """
    if not text.strip():
        raise ValueError("synthesize() got empty text")
    if not 80 <= rate <= 450:
        raise ValueError(f"rate={rate} words/min is outside espeak-ng's range 80-450")
    for name, value in (("pitch", pitch), ("pitch_range", pitch_range)):
        if not 0 <= value <= 100:
            raise ValueError(f"{name}={value} is outside 0-100")
    with _LOCK:
        engine = _engine()
        engine.set_voice(voice)
        pcm = engine.synth(text, rate, pitch, pitch_range, seed)
        native = engine.native_rate
    audio = pcm.astype(np.float32) / 32768.0
    # Resampling can overshoot full-scale peaks slightly.
    return np.clip(resample(audio, native, sample_rate), -1.0, 1.0)
