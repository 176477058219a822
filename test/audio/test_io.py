"""Reading audio: formats, resampling, downmixing, spans, and clear errors."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from geolid.audio import AudioError, audio_info, load_audio, read_span, to_mono_16k

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
    np.testing.assert_allclose(to_mono_16k(torch.from_numpy(x).bfloat16(), 16000), ref, atol=4e-3)


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


# --------------------------------------------------------------------------- issue 7 item 11
# Each message says what is wrong with the file; before, a FIFO was an "empty file", a
# link loop or a broken link "not found", and no permission "unreadable audio ... ffmpeg".


def test_fifo_is_named_as_a_pipe(tmp_path):
    fifo = tmp_path / "stream.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioError) as e:
        audio_info(fifo)
    assert "named pipe (FIFO)" in e.value.reason and "empty" not in e.value.reason


def test_symlink_loop_and_broken_link_are_named(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(AudioError, match="symbolic link loop"):
        audio_info(a)
    gone = tmp_path / "gone.wav"
    gone.symlink_to(tmp_path / "deleted.wav")
    with pytest.raises(AudioError, match=r"broken symbolic link .*deleted\.wav"):
        audio_info(gone)


_READ_AS_OTHER_USER = """
import os, sys
import soundfile
from geolid.audio import AudioError, audio_info
if os.geteuid() == 0:  # root reads any file: check as an unprivileged user
    os.setgid(65534)
    os.setuid(65534)
try:
    audio_info(sys.argv[1])
except AudioError as e:
    print(e.reason)
"""


def test_permission_error_is_not_blamed_on_the_format():
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o755)
        p = write(folder / "secret.wav", noise(0.5))
        p.chmod(0)
        res = subprocess.run([sys.executable, "-c", _READ_AS_OTHER_USER, str(p)],
                             capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        assert res.returncode == 0, res.stderr
        assert "permission denied" in res.stdout and "ffmpeg" not in res.stdout
    finally:
        shutil.rmtree(folder)


def test_training_and_inference_read_the_same_samples(tmp_path):
    """The format stage's 16-bit output equals what inference reads from the source."""
    from geolid.data.format import format_data_dir

    src = tmp_path / "src"
    src.mkdir()
    rows = []
    for i, sr in enumerate((44100, 44099, 22050, 8000)):
        stereo = np.stack([noise(1.3, sr, seed=i), tone(1.3, 440, sr)], axis=1)
        p = write(tmp_path / "audio" / f"r{i}.flac", stereo, sr, subtype="PCM_24")
        rows.append((f"eng_r{i}", str(p)))
    (src / "wav.scp").write_text("".join(f"{k} {v}\n" for k, v in rows))
    (src / "utt2lang").write_text("".join(f"{k} eng\n" for k, _ in rows))
    dst = format_data_dir(src, tmp_path / "dst", progress=False)
    for key, path in rows:
        trained, sr = sf.read(str(dst / "data" / f"{key}.wav"), dtype="float64")
        used = load_audio(path).numpy()
        assert sr == 16000 and len(trained) == len(used)
        assert np.max(np.abs(trained - used)) <= 0.5 / 32768 + 1e-7  # 16-bit rounding only


# --------------------------------------------------------------------------- absurd rates
def _wav_claiming(path, rate: int, n_samples: int = 100_000):
    """A 16-bit mono WAV (200 KB of noise) whose header states ``rate`` Hz."""
    import struct

    data = (np.random.default_rng(0).standard_normal(n_samples) * 3000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
                     + b"fmt " + struct.pack("<I", len(fmt)) + fmt
                     + b"data" + struct.pack("<I", len(data)) + data)
    return path


@pytest.mark.parametrize("rate", [1, 999, 768_001, 4_000_000])
def test_absurd_header_sample_rates_are_refused(tmp_path, rate):
    """A 200 KB file claiming 1 Hz would be 27.8 h of audio; no real recording has such rates."""
    from geolid.audio import decode, probe

    p = _wav_claiming(tmp_path / "claims.wav", rate)
    assert sf.info(str(p)).samplerate == rate          # libsndfile believes the header
    for read in (probe, audio_info, load_audio):
        with pytest.raises(AudioError) as e:
            read(p)
        assert str(p) in str(e.value) and f"{rate} Hz" in str(e.value)
        assert "1000-768000 Hz" in str(e.value)
    with pytest.raises(AudioError, match=f"upload.wav: header sample rate {rate} Hz"):
        decode(p.read_bytes(), "upload.wav")
    with pytest.raises(AudioError, match=f"<array>: sample rate {rate} Hz"):
        to_mono_16k(noise(1.0), rate)


def test_sample_rates_at_the_limits_are_read(tmp_path):
    from geolid.audio import probe

    for rate in (1000, 768_000):
        assert probe(_wav_claiming(tmp_path / f"r{rate}.wav", rate)).sample_rate == rate
    assert to_mono_16k(np.zeros(1000, "float32") + 0.1, 1000).numel() == 16000
    assert to_mono_16k(np.zeros(768_000, "float32") + 0.1, 768_000).numel() == 16000
    for bad in (0, -16000, float("nan"), "16k"):
        with pytest.raises(AudioError, match="sample rate"):
            to_mono_16k(noise(1.0), bad)
