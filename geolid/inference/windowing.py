"""Long recordings: split into windows, optionally at silences, and aggregate.

Windows are planned from the file header (and, with VAD, from a streaming pass
that keeps only one energy value per 10 ms), then read one span at a time
(:func:`geolid.audio.read_span`), so a 10-minute file never sits whole
in memory, let alone on the model.

File-level scores are the duration-weighted mean of the windows' probabilities
(and geo vectors / embeddings); each window is also reported as a segment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from geolid.audio import TARGET_SR, AudioInfo, read_blocks, to_mono

VAD_HOP_S = 0.01          # energy frame hop
MIN_SILENCE_S = 0.2       # a pause shorter than this is not a cut point
SILENCE_DB_BELOW_PEAK = 35.0
MIN_LAST_WINDOW_S = 2.0   # a shorter VAD remainder joins the previous window


@dataclass(frozen=True)
class Window:
    """Samples ``[start, end)`` at 16 kHz."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def start_s(self) -> float:
        return self.start / TARGET_SR

    @property
    def end_s(self) -> float:
        return self.end / TARGET_SR


def plan_windows(n_samples: int, window_s: float = 30.0, overlap_s: float = 5.0) -> List[Window]:
    """Fixed windows of ``window_s`` overlapping by ``overlap_s``; one if it fits.

    The last window is shifted back to end at the end of the audio, so no window
    is a short scrap (it overlaps its neighbour more instead).
    """
    win = int(round(window_s * TARGET_SR))
    hop = win - int(round(overlap_s * TARGET_SR))
    if win <= 0:
        raise ValueError(f"window must be positive, got {window_s} s")
    if hop <= 0:
        raise ValueError(f"overlap ({overlap_s} s) must be shorter than the window ({window_s} s)")
    if n_samples <= win:
        return [Window(0, n_samples)]
    n = int(math.ceil((n_samples - win) / hop)) + 1
    starts = [min(i * hop, n_samples - win) for i in range(n)]
    return [Window(s, s + win) for s in sorted(set(starts))]


def frame_energies_db(info: AudioInfo, block_s: float = 10.0) -> np.ndarray:
    """Energy (dB) of each 10 ms frame, computed while streaming the file in blocks."""
    hop = max(1, int(round(VAD_HOP_S * info.sample_rate)))
    block = hop * max(1, int(block_s / VAD_HOP_S))
    out = []
    for data in read_blocks(info.path, block):
        x = to_mono(data)
        n = len(x) // hop * hop
        if n:
            frames = x[:n].reshape(-1, hop)
            out.append(10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10))
        if n < len(x):  # the file's last partial frame
            out.append(np.array([10 * np.log10(np.mean(x[n:] ** 2) + 1e-10)]))
    return np.concatenate(out) if out else np.zeros(0)


def silence_midpoints(energy_db: np.ndarray, hop_s: float = VAD_HOP_S,
                      min_silence_s: float = MIN_SILENCE_S,
                      db_below_peak: float = SILENCE_DB_BELOW_PEAK) -> List[float]:
    """Centres (seconds) of pauses: runs of frames ``db_below_peak`` under the loud end.

    The reference level is the 95th percentile, robust to a single click.
    """
    if energy_db.size == 0:
        return []
    threshold = np.percentile(energy_db, 95) - db_below_peak
    quiet = energy_db < threshold
    cuts = []
    i = 0
    min_len = max(1, int(round(min_silence_s / hop_s)))
    while i < len(quiet):
        if quiet[i]:
            j = i
            while j < len(quiet) and quiet[j]:
                j += 1
            if j - i >= min_len and i > 0 and j < len(quiet):  # not leading/trailing
                cuts.append((i + j) / 2 * hop_s)
            i = j
        else:
            i += 1
    return cuts


def plan_windows_vad(n_samples: int, cuts_s: Sequence[float], window_s: float = 30.0,
                     min_window_s: Optional[float] = None) -> List[Window]:
    """Non-overlapping windows of at most ``window_s``, cut at pauses where possible.

    From each window start, the latest pause within ``[start + min_window_s,
    start + window_s]`` ends the window; with no pause there, a hard cut at
    ``window_s``. ``min_window_s`` defaults to half the window.
    """
    win = int(round(window_s * TARGET_SR))
    low = int(round((min_window_s if min_window_s is not None else window_s / 2) * TARGET_SR))
    cuts = sorted(int(round(c * TARGET_SR)) for c in cuts_s)
    out: List[Window] = []
    start = 0
    while n_samples - start > win:
        candidates = [c for c in cuts if start + low <= c <= start + win]
        end = candidates[-1] if candidates else start + win
        out.append(Window(start, end))
        start = end
    if out and n_samples - start < MIN_LAST_WINDOW_S * TARGET_SR:
        out[-1] = Window(out[-1].start, n_samples)  # no scrap of a window at the end
    else:
        out.append(Window(start, n_samples))
    return out


def windows_for(info: AudioInfo, window_s: float = 30.0, overlap_s: float = 5.0,
                vad: bool = False, pauses: Optional[Sequence[float]] = None) -> List[Window]:
    """The windows of a file (a single one when it fits in ``window_s``).

    ``pauses``: with ``vad``, the cut points (seconds) of the speech detector
    (:meth:`geolid.inference.vad.SpeechTrack.pause_midpoints`); without them, the energy rule.
    """
    n = info.frames_16k
    if n <= int(round(window_s * TARGET_SR)):
        return [Window(0, n)]
    if vad:
        if pauses is None:
            pauses = silence_midpoints(frame_energies_db(info))
        return plan_windows_vad(n, pauses, window_s)
    return plan_windows(n, window_s, overlap_s)


def windows_for_array(x, window_s: float = 30.0, overlap_s: float = 5.0, vad: bool = False,
                      pauses: Optional[Sequence[float]] = None) -> List[Window]:
    """Windows of an in-memory 16 kHz waveform (tensor or array); ``pauses`` as in :func:`windows_for`."""
    n = int(x.shape[-1])
    if n <= int(round(window_s * TARGET_SR)):
        return [Window(0, n)]
    if vad and pauses is not None:
        return plan_windows_vad(n, pauses, window_s)
    if vad:
        arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        hop = int(VAD_HOP_S * TARGET_SR)
        m = len(arr) // hop * hop
        energy = 10 * np.log10(np.mean(arr[:m].reshape(-1, hop) ** 2, axis=1) + 1e-10)
        return plan_windows_vad(n, silence_midpoints(energy), window_s)
    return plan_windows(n, window_s, overlap_s)


def aggregate(values: np.ndarray, windows: Sequence[Window]) -> np.ndarray:
    """Duration-weighted mean over windows of ``values`` (n_windows, ...)."""
    w = np.array([win.length for win in windows], dtype=np.float64)
    w = w / w.sum()
    return np.tensordot(w, np.asarray(values, dtype=np.float64), axes=1)
