"""Stage 2 (speed perturbation): ids, metadata, encoding, and the audio after formatting."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from geolid.bin import data_prep as cli
from geolid.data.datadir import DataDirError, validate_data_dir
from geolid.data.format import format_data_dir
from geolid.data.speed_perturb import encode_speed, parse_speed, speed_perturb_data_dir

FS = 16000


def write_dir(path, files):
    path.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (path / name).write_text("".join(f"{line}\n" for line in lines))
    return path


@pytest.fixture
def src(tmp_path):
    t = np.arange(int(0.5 * FS)) / FS
    sf.write(tmp_path / "a.wav", (0.5 * np.sin(2 * np.pi * 400 * t)).astype("float32"), FS)
    sf.write(tmp_path / "b.wav", np.zeros(7919, "float32") + 0.1, FS)  # a prime length
    return write_dir(tmp_path / "src", {
        "wav.scp": [f"eng_a {tmp_path / 'a.wav'}", f"fra_b cat {tmp_path / 'b.wav'} |"],
        "utt2lang": ["eng_a eng", "fra_b fra"],
        "lang2utt": ["eng eng_a", "fra fra_b"],
        "category2utt": ["eng eng_a", "fra fra_b"],
        "utt2dataset": ["eng_a vl", "fra_b fl"],
        "dataset2utt": ["fl fra_b", "vl eng_a"],
        "utt2spk": ["eng_a s1", "fra_b s2"],
        "text": ["eng_a hello", "fra_b bonjour"],
    })


def test_encoding_round_trip():
    assert encode_speed("/x.wav", 0.9) == "speed:0.9:/x.wav"
    assert encode_speed("/x.wav", 1.0) == "/x.wav"
    assert parse_speed("speed:0.9:sox a.wav -t wav - |") == ("sox a.wav -t wav - |", 0.9)
    assert parse_speed("speed:2.0:speed:0.5:/x.wav") == ("/x.wav", 1.0)
    assert parse_speed("/x.wav") == ("/x.wav", 1.0)
    with pytest.raises(ValueError, match="bad speed prefix"):
        parse_speed("speed:-1:/x.wav")


def test_ids_and_metadata(src, tmp_path):
    dst = speed_perturb_data_dir(src, tmp_path / "sp")
    validate_data_dir(dst)
    utts = ["eng_a", "eng_a_sp0.9", "eng_a_sp1.1", "fra_b", "fra_b_sp0.9", "fra_b_sp1.1"]
    assert (dst / "utt2lang").read_text().split()[0::2] == utts
    assert (dst / "lang2utt").read_text() == (
        "eng eng_a eng_a_sp0.9 eng_a_sp1.1\nfra fra_b fra_b_sp0.9 fra_b_sp1.1\n")
    assert (dst / "category2utt").read_text() == (dst / "lang2utt").read_text()
    assert (dst / "dataset2utt").read_text() == (
        "fl fra_b fra_b_sp0.9 fra_b_sp1.1\nvl eng_a eng_a_sp0.9 eng_a_sp1.1\n")
    scp = dict(line.split(" ", 1) for line in (dst / "wav.scp").read_text().splitlines())
    assert scp["eng_a_sp0.9"] == f"speed:0.9:{tmp_path / 'a.wav'}"
    assert scp["fra_b_sp1.1"] == f"speed:1.1:cat {tmp_path / 'b.wav'} |"
    assert scp["eng_a"] == str(tmp_path / "a.wav")
    assert "eng_a_sp1.1 s1_sp1.1" in (dst / "utt2spk").read_text()
    assert (dst / "spk2utt").read_text().splitlines()[0] == "s1 eng_a"
    assert "fra_b_sp0.9 bonjour" in (dst / "text").read_text()


def test_formatted_lengths_scale_and_pitch_changes(src, tmp_path):
    dst = format_data_dir(speed_perturb_data_dir(src, tmp_path / "sp"), tmp_path / "dump",
                          progress=False)
    n = {k: int(v) for k, v in (l.split() for l in (dst / "utt2num_samples").read_text().splitlines())}
    for utt, base in [("eng_a", 8000), ("fra_b", 7919)]:
        assert n[utt] == base
        for f in (0.9, 1.1):
            assert abs(n[f"{utt}_sp{f}"] - base / f) <= 1, (utt, f)
    # 400 Hz played 1.1 times as fast is 440 Hz
    for utt, freq in [("eng_a", 400), ("eng_a_sp0.9", 360), ("eng_a_sp1.1", 440)]:
        x, sr = sf.read(dst / "data" / f"{utt}.wav")
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        assert sr == FS
        assert abs(np.argmax(spectrum) * FS / len(x) - freq) < 3, utt


def test_segments_are_scaled_and_resolved(tmp_path):
    t = np.arange(3 * 8000) / 8000
    sf.write(tmp_path / "r.wav", (0.1 * t).astype("float32"), 8000, subtype="FLOAT")  # ramp
    src = write_dir(tmp_path / "src", {
        "wav.scp": [f"rec {tmp_path / 'r.wav'}"],
        "segments": ["eng_s rec 1.00 2.00"],
        "utt2lang": ["eng_s eng"], "lang2utt": ["eng eng_s"]})
    sp = speed_perturb_data_dir(src, tmp_path / "sp", factors=[0.9, 1.1])
    assert (sp / "segments").read_text() == (
        "eng_s_sp0.9 rec_sp0.9 1.111 2.222\neng_s_sp1.1 rec_sp1.1 0.909 1.818\n")
    dst = format_data_dir(sp, tmp_path / "dump", progress=False)
    for f in (0.9, 1.1):
        x, _ = sf.read(dst / "data" / f"eng_s_sp{f}.wav", dtype="float32")
        assert abs(len(x) - FS / f) <= 16  # 1 ms rounding of the segment times
        k = np.arange(200, len(x) - 200)
        # the perturbed clip still starts at the original 1.0 s and runs f times as fast
        np.testing.assert_allclose(x[k], 0.1 * (1.0 + k * f / FS), atol=3e-4)


def test_errors_and_cli(src, tmp_path, capsys):
    with pytest.raises(DataDirError, match="out of range"):
        speed_perturb_data_dir(src, tmp_path / "sp", factors=[0.0])
    with pytest.raises(DataDirError, match="is the input"):
        speed_perturb_data_dir(src, src)
    assert cli.main(["speed-perturb", str(src), str(tmp_path / "sp"), "--factors", "1.0", "1.2"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "sp")
    assert (tmp_path / "sp" / "utt2lang").read_text().split()[0::2] == [
        "eng_a", "eng_a_sp1.2", "fra_b", "fra_b_sp1.2"]
    assert cli.main(["speed-perturb", str(tmp_path / "missing"), str(tmp_path / "o")]) == 1
    assert "no such data directory" in capsys.readouterr().err

