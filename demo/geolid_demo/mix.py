"""Join clips of different languages into one long recording with known boundaries.

Long-audio language ID (segmenting a recording where the language changes) needs
test audio whose true language per time span is known; concatenating synthetic
clips with short silences between them gives exactly that.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class Part:
    """One clip inside the joined waveform: its label and span (samples and seconds)."""

    label: str
    start: int
    end: int  # exclusive
    sample_rate: int

    @property
    def start_s(self) -> float:
        return self.start / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.end / self.sample_rate


def concat_languages(clips: Sequence[Tuple[str, np.ndarray]], sample_rate: int,
                     gap_s: float = 0.3) -> Tuple[np.ndarray, List[Part]]:
    """Join ``(label, mono waveform)`` clips, ``gap_s`` seconds of silence between them.

    Returns the float32 waveform and one :class:`Part` per clip, in order; no silence
    is added before the first or after the last clip.
    """
    if not clips:
        raise ValueError("concat_languages() needs at least one (label, waveform) clip")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if gap_s < 0:
        raise ValueError(f"gap_s must be >= 0, got {gap_s}")
    gap = np.zeros(int(round(gap_s * sample_rate)), dtype=np.float32)
    pieces: List[np.ndarray] = []
    parts: List[Part] = []
    pos = 0
    for i, (label, wav) in enumerate(clips):
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim != 1 or wav.size == 0:
            raise ValueError(f"clip {i} ({label!r}) must be a non-empty 1-D waveform, "
                             f"got shape {wav.shape}")
        if i > 0:
            pieces.append(gap)
            pos += gap.size
        pieces.append(wav)
        parts.append(Part(str(label), pos, pos + wav.size, sample_rate))
        pos += wav.size
    return np.concatenate(pieces), parts
