"""Non-speech test signals: length, level, determinism, and the pink noise's slope."""
import numpy as np
import pytest

from geolid_demo.nonspeech import NON_SPEECH, pink_noise, white_noise


@pytest.mark.parametrize("kind", sorted(NON_SPEECH))
def test_generators_are_deterministic_float32_in_range(kind):
    a, b = NON_SPEECH[kind](2.5, seed=3), NON_SPEECH[kind](2.5, seed=3)
    assert a.dtype == np.float32 and a.shape == (40000,)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 1.0
    assert (np.abs(a).max() == 0) == (kind == "silence")


def test_pink_noise_falls_3_db_per_octave_and_white_is_flat():
    def band_power(x, lo, hi):
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / 16000)
        return spec[(f >= lo) & (f < hi)].mean()

    pink, white = pink_noise(20.0), white_noise(20.0)
    drop = 10 * np.log10(band_power(pink, 250, 500) / band_power(pink, 2000, 4000))
    assert drop == pytest.approx(9.0, abs=1.5)          # three octaves x 3 dB
    assert abs(10 * np.log10(band_power(white, 250, 500) / band_power(white, 2000, 4000))) < 1.0
