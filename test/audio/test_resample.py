"""The one resampler: exact lengths, right content, bounded memory at odd rates."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from geolid.audio import resample, resampled_length, to_pcm16, write_pcm16

from .conftest import peak_hz


@pytest.mark.parametrize("orig_sr,n", [(8000, 801), (44100, 16317), (16000 * 0.9, 7919),
                                       (16000 * 1.1, 7919), (16000, 100)])
def test_resample_length_and_content(orig_sr, n):
    t = np.arange(n) / orig_sr
    y = resample(np.sin(2 * np.pi * 100 * t).astype("float32"), orig_sr, 16000)
    assert y.dtype == np.float32
    assert len(y) == resampled_length(n, orig_sr, 16000) == round(n * 16000 / orig_sr)
    expected = np.sin(2 * np.pi * 100 * np.arange(len(y)) / 16000)
    np.testing.assert_allclose(y[100:-100], expected[100:-100], atol=5e-3)


def test_resample_rejects_what_it_cannot_do():
    with pytest.raises(ValueError, match="downmix first"):
        resample(np.zeros((100, 2), "float32"), 8000, 16000)
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(100, "float32"), 0, 16000)


def test_aliases_are_removed():
    """A 10 kHz tone cannot exist at 16 kHz: it must vanish, not fold to 6 kHz."""
    sr = 44100
    x = np.sin(2 * np.pi * 10000 * np.arange(sr) / sr).astype("float32")
    y = resample(x, sr, 16000)
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) < 1e-4


# Issue 7 item 8: torchaudio built a (16000 x 44099)-tap filter for 44099 Hz, 12.4 GB for
# 3 s. The child measures its own peak memory growth while resampling, so the numbers
# are not blurred by what pytest already holds.
_CHILD = r"""
import json, resource, sys
import numpy as np
from geolid.audio import resample
out = {}
for sr in (44099, 8001, 22051, 44100):
    t = np.arange(3 * sr) / sr
    x = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    y = resample(x, sr, 16000)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    np.save(sys.argv[1] + f"/{sr}.npy", y)
    out[sr] = grew_mb
print(json.dumps(out))
"""


def test_odd_rates_run_in_bounded_memory_with_right_length_and_pitch(tmp_path):
    res = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    grew = json.loads(res.stdout)
    for sr, mb in grew.items():
        assert mb < 64, f"{sr} Hz: resampling 3 s grew the process by {mb:.0f} MB"
        y = np.load(tmp_path / f"{sr}.npy")
        assert len(y) == round(3 * int(sr) * 16000 / int(sr)) == 48000
        assert abs(peak_hz(y, 16000) - 1000.0) < 0.5
        assert abs(np.sqrt(np.mean(y[1000:-1000] ** 2)) - 0.5 / np.sqrt(2)) < 1e-3


def test_pcm16_and_atomic_write(tmp_path):
    import soundfile as sf

    assert to_pcm16(np.array([1.2, -1.5, 0.5, -0.5])).tolist() == [32767, -32768, 16384, -16384]
    path = write_pcm16(tmp_path / "x.flac", np.full(10, 0.25), 8000, "flac")
    info = sf.info(str(path))
    assert (info.format, info.subtype, info.samplerate, info.frames) == ("FLAC", "PCM_16", 8000, 10)
    assert [p.name for p in tmp_path.iterdir()] == ["x.flac"]
    with pytest.raises(ValueError, match="not supported"):
        write_pcm16(tmp_path / "x.mp3", np.zeros(3), 8000, "mp3")
    assert [p.name for p in tmp_path.iterdir()] == ["x.flac"]
