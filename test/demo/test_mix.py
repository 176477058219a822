"""concat_languages: boundaries and gaps."""
import numpy as np
import pytest

from geolid_demo.mix import concat_languages


def test_boundaries_and_gap():
    a = np.ones(1600, np.float32)
    b = np.full(800, 0.5, np.float32)
    wav, parts = concat_languages([("eng", a), ("fra", b)], 16000, gap_s=0.25)
    assert wav.dtype == np.float32 and len(wav) == 1600 + 4000 + 800
    assert [(p.label, p.start, p.end) for p in parts] == [("eng", 0, 1600), ("fra", 5600, 6400)]
    assert parts[1].start_s == pytest.approx(0.35) and parts[1].end_s == pytest.approx(0.4)
    assert np.all(wav[1600:5600] == 0) and np.all(wav[5600:] == 0.5)


def test_single_clip_and_no_gap():
    wav, parts = concat_languages([("eng", np.ones(10)), ("deu", np.ones(5))], 100, gap_s=0)
    assert len(wav) == 15 and parts[1].start == 10


@pytest.mark.parametrize("clips, kwargs, msg", [
    ([], {}, "at least one"),
    ([("eng", np.zeros((2, 5)))], {}, "clip 0 \\('eng'\\) must be a non-empty 1-D"),
    ([("eng", np.zeros(0))], {}, "non-empty"),
    ([("eng", np.ones(5))], {"gap_s": -1}, "gap_s"),
])
def test_errors(clips, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        concat_languages(clips, 16000, **kwargs)
