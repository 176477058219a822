"""Reading audio: formats, resampling, downmixing, spans, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from geolid.inference.audio import (AudioError, audio_info, load_audio, read_span, to_mono_16k)

from .conftest import noise, tone, write


@pytest.mark.parametrize("fmt,ext,sr,kw", [
    ("WAV", "wav", 16000, {"subtype": "PCM_16"}),
    ("FLAC", "flac", 22050, {}),
    ("OGG", "ogg", 44100, {"subtype": "VORBIS"}),
    ("MP3", "mp3", 48000, {"subtype": "MPEG_LAYER_III"}),
])
def test_formats_are_read_at_16k_mono(tmp_path, fmt, ext, sr, kw):
    x = tone(1.5, 440, sr)
    stereo = np.stack([x, x], axis=1)
    p = write(tmp_path / f"a.{ext}", stereo, sr, format=fmt, **kw)
    wav = load_audio(p)
    assert wav.dtype == torch.float32 and wav.dim() == 1
    assert abs(wav.numel() - 1.5 * 16000) <= 16000 * 0.08  # mp3 adds encoder delay
    spec = np.abs(np.fft.rfft(wav.numpy()))
    peak_hz = np.argmax(spec) * 16000 / wav.numel()
    assert abs(peak_hz - 440) < 5


def test_downmix_averages_channels(tmp_path):
    left, right = tone(1.0, 300), tone(1.0, 300) * 0.5
    p = write(tmp_path / "st.wav", np.stack([left, right], 1), subtype="FLOAT")
    np.testing.assert_allclose(load_audio(p).numpy(), 0.75 * left, atol=1e-6)


def test_array_layouts_and_dtypes():
    x = tone(1.0, 200)
    ref = to_mono_16k(x, 16000)
    np.testing.assert_allclose(to_mono_16k(np.stack([x, x], 1), 16000), ref, atol=1e-6)  # numpy (T, C)
    np.testing.assert_allclose(to_mono_16k(torch.from_numpy(np.stack([x, x])), 16000), ref, atol=1e-6)
    np.testing.assert_allclose(to_mono_16k(torch.from_numpy(np.stack([x, x], 1)), 16000), ref, atol=1e-6)
    pcm = (x * 32767).astype(np.int16)
    np.testing.assert_allclose(to_mono_16k(pcm, 16000), ref, atol=1e-4)
    assert to_mono_16k(x, 8000).numel() == 32000


def test_read_span_matches_full_read(tmp_path):
    x = noise(5.0, 22050)
    p = write(tmp_path / "n.flac", x, 22050)
    info = audio_info(p)
    full = read_span(info)
    part = read_span(info, 16000, 48000)
    assert part.numel() == 32000
    # resampling a span differs from the full signal only near its edges
    np.testing.assert_allclose(part[400:-400], full[16400:47600], atol=2e-3)


@pytest.mark.parametrize("case,needle", [
    ("empty", "empty file"), ("header_only", "empty audio"), ("short", "too short"),
    ("nan", "NaN/inf"), ("inf", "NaN/inf"), ("garbage", "unreadable audio"),
    ("missing", "not found"), ("folder", "is a folder"),
])
def test_bad_files_have_clear_errors(tmp_path, case, needle):
    p = tmp_path / f"{case}.wav"
    if case == "empty":
        p.write_bytes(b"")
    elif case == "header_only":
        sf.write(str(p), np.zeros(0, "float32"), 16000)
    elif case == "short":
        write(p, noise(0.05))
    elif case in ("nan", "inf"):
        x = noise(1.0)
        x[10] = np.nan if case == "nan" else np.inf
        write(p, x, subtype="FLOAT")
    elif case == "garbage":
        p.write_text("this is not audio")
    elif case == "folder":
        p.mkdir()
    with pytest.raises(AudioError) as e:
        load_audio(p)
    assert needle in str(e.value) and str(p) in str(e.value)


def test_bad_arrays():
    with pytest.raises(AudioError, match="sample rate"):
        to_mono_16k(noise(1.0), None)
    with pytest.raises(AudioError, match="1-D or 2-D"):
        to_mono_16k(np.zeros((2, 2, 16000), "float32"), 16000)
    with pytest.raises(AudioError, match="too short"):
        to_mono_16k(np.zeros(100, "float32"), 16000)
    with pytest.raises(AudioError, match="NaN"):
        to_mono_16k(np.full(16000, np.nan, "float32"), 16000)
