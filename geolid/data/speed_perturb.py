"""Stage 2 of the recipe: speed perturbation of a training data directory.

Each utterance is copied once per factor (default 0.9, 1.0, 1.1). A copy with
factor ``f != 1.0`` gets the id ``{utt}_sp{f}`` (e.g. ``eng_a_sp0.9``), so the
id keeps its ``{iso3}_`` prefix and sorting still groups languages; factor 1.0
keeps the original id.

Encoding (understood by :mod:`geolid.data.format`, stage 3): the perturbed
recording's ``wav.scp`` value is ``speed:<f>:<original value>``, where the
original value is a path or a piped command ending in ``|``; prefixes may nest
(factors multiply). No audio is touched here: stage 3 formats every utterance
anyway and applies the change while resampling, by treating the samples as if
they had been recorded at ``sr * f`` and resampling to the target rate. Like
``sox speed`` this changes tempo and pitch together; the length becomes
``len / f``.

With ``segments``, recording ``r`` becomes ``r_sp{f}`` and the segment times are
divided by ``f`` (times on the perturbed recording's time line, as in Kaldi);
stage 3 maps them back to the original samples so only the needed part is read.
``utt2spk`` speakers become ``{spk}_sp{f}``; ``text`` is copied; ``lang2utt``,
``category2utt`` and ``dataset2utt`` are regenerated.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Sequence, Tuple, Union

from geolid.data.datadir import DataDir, DataDirError, read_data_dir, write_data_dir
from geolid.utils.fileio import read_kaldi_map, write_kaldi_map

PathLike = Union[str, os.PathLike]

SPEED_PREFIX = "speed:"
DEFAULT_FACTORS = (0.9, 1.0, 1.1)


def format_factor(factor: float) -> str:
    """``0.9 -> '0.9'``, ``1 -> '1.0'`` (the shortest float repr, used in ids and wav.scp)."""
    return repr(float(factor))


def perturbed_id(key: str, factor: float) -> str:
    """``{key}_sp{factor}``; factor 1.0 keeps ``key``."""
    return key if float(factor) == 1.0 else f"{key}_sp{format_factor(factor)}"


def encode_speed(value: str, factor: float) -> str:
    """The ``wav.scp`` value that plays ``value`` at ``factor`` times its speed."""
    return value if float(factor) == 1.0 else f"{SPEED_PREFIX}{format_factor(factor)}:{value}"


def parse_speed(value: str) -> Tuple[str, float]:
    """Split a ``wav.scp`` value into (original value, total speed factor).

    ``'speed:0.9:/a.wav'`` -> ``('/a.wav', 0.9)``; a value without the prefix has
    factor 1.0. Raises ``ValueError`` for a malformed factor.
    """
    factor = 1.0
    while value.startswith(SPEED_PREFIX):
        head, sep, rest = value[len(SPEED_PREFIX):].partition(":")
        try:
            f = float(head)
        except ValueError:
            f = -1.0
        if not sep or not f > 0:
            raise ValueError(f"bad speed prefix in {value!r}: expected 'speed:<factor>:<audio>' "
                             "with a positive factor")
        factor *= f
        value = rest
    return value, factor


def speed_perturb_data_dir(src: PathLike, dst: PathLike,
                           factors: Sequence[float] = DEFAULT_FACTORS) -> Path:
    """Write ``dst``: every utterance of ``src`` once per speed factor (see module doc)."""
    src, dst = Path(src), Path(dst)
    factors = _check_factors(src, factors)
    if dst.resolve() == src.resolve():
        raise DataDirError(f"speed-perturb: output {dst} is the input; choose another folder "
                           "(e.g. data/<set>_sp)")
    data = read_data_dir(src)
    out = DataDir({}, {}, None if data.segments is None else {},
                  None if data.utt2dataset is None else {})
    for f in factors:
        for rec, value in data.wav_scp.items():
            out.wav_scp[perturbed_id(rec, f)] = encode_speed(value, f)
        for utt, lang in data.utt2lang.items():
            out.utt2lang[perturbed_id(utt, f)] = lang
        if data.segments is not None:
            for utt, (rec, start, end) in data.segments.items():
                out.segments[perturbed_id(utt, f)] = (perturbed_id(rec, f), start / f, end / f)
        if data.utt2dataset is not None:
            for utt, name in data.utt2dataset.items():
                out.utt2dataset[perturbed_id(utt, f)] = name
    write_data_dir(dst, out, validate=False)
    _perturb_extra(src, dst, factors)
    return dst


def _check_factors(src: Path, factors: Sequence[float]) -> Tuple[float, ...]:
    factors = tuple(float(f) for f in factors)
    if not factors:
        raise DataDirError(f"speed-perturb {src}: no factors given (e.g. 0.9 1.0 1.1)")
    bad = [f for f in factors if not 0.1 <= f <= 10]
    if bad:
        raise DataDirError(f"speed-perturb {src}: factors {bad} out of range; use values like "
                           "0.9 1.0 1.1")
    if len(set(map(format_factor, factors))) != len(factors):
        raise DataDirError(f"speed-perturb {src}: repeated factor in {list(factors)}")
    return factors


def _perturb_extra(src: Path, dst: Path, factors: Sequence[float]) -> None:
    """utt2spk/spk2utt (speakers get the suffix too) and text, when present."""
    for name in ("utt2spk", "spk2utt", "text"):
        if (dst / name).exists():
            (dst / name).unlink()  # never keep a stale file from an earlier run
    if (src / "text").is_file():
        text = read_kaldi_map(src / "text")
        write_kaldi_map(dst / "text", {perturbed_id(u, f): t for f in factors for u, t in text.items()})
    if (src / "utt2spk").is_file():
        utt2spk = read_kaldi_map(src / "utt2spk")
        new: Dict[str, str] = {perturbed_id(u, f): perturbed_id(s, f)
                               for f in factors for u, s in utt2spk.items()}
        write_kaldi_map(dst / "utt2spk", new)
        spk2utt: Dict[str, list] = {}
        for utt in sorted(new):
            spk2utt.setdefault(new[utt], []).append(utt)
        write_kaldi_map(dst / "spk2utt", spk2utt)
