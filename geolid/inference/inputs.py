"""What the Python API accepts as "one input" versus "a list of inputs".

``predict(x)`` and ``embed(x)`` take one input or a list of inputs. A plain
list (or tuple) of numbers is neither a list of files nor of arrays: it is one
waveform that arrived as Python floats (``array.tolist()``, a JSON payload).
Taking it for thousands of one-sample inputs gave thousands of warnings, so it
is one waveform when ``sample_rate`` says how to read it, and an error
otherwise.
"""
from __future__ import annotations

import numbers
from typing import List, Optional, Tuple


def _is_number_sequence(x) -> bool:
    return (isinstance(x, (list, tuple)) and len(x) > 0
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in x))


def as_inputs(x, sample_rate: Optional[int]) -> Tuple[List, bool]:
    """``(inputs, single)``: the list to run and whether the caller gave one input."""
    import numpy as np

    if _is_number_sequence(x) and not (isinstance(x, tuple) and len(x) == 2 and sample_rate is None):
        if sample_rate is None:
            raise ValueError(
                f"got a plain {type(x).__name__} of {len(x)} numbers: pass it as one waveform with "
                "its sample_rate (predict(samples, sample_rate=16000)) or as a numpy array; for "
                "several inputs, pass a list of paths or arrays")
        return [np.asarray(x, dtype=np.float32)], True
    if isinstance(x, list):
        return x, False
    return [x], True

