"""The shortest input geolid answers by default, and why.

On very short clips the model still puts most of its probability on one
language, but that language is a guess: 500 clips of 0.2 s gave no correct
answer with a median top-1 probability of 0.97 (issue 7). Below
:data:`MIN_DURATION` an input therefore becomes an error record (no label),
unless the caller lowers the minimum (``--min-duration`` /
``InferenceOptions.min_duration``; 0 turns the check off).

The value comes from ``bench/short_input_accuracy.py`` on the demo model: see
docs/cli.md ("Short inputs") for the measured accuracy-by-duration curve.
"""
from __future__ import annotations

from typing import Optional

MIN_DURATION = 1.0  # seconds; measured, see the module docstring


def short_input_error(n_samples: int, min_duration: float, sample_rate: int = 16000) -> Optional[str]:
    """The error for an input shorter than ``min_duration`` seconds (None if long enough)."""
    seconds = n_samples / sample_rate
    if min_duration and seconds < min_duration:
        return (f"too short for a reliable answer: {seconds:.2f} s < {min_duration:g} s minimum "
                f"(below it accuracy collapses while confidence stays high; lower it with "
                f"--min-duration / InferenceOptions(min_duration=...) at your own risk)")
    return None
