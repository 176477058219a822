"""Stage 3 (format): mono 16 kHz 16-bit output, segments, pipes, errors, resume, CLI."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from geolid.bin import data_prep as cli
from geolid.data.format import FormatError, format_data_dir

FS = 16000


def sine(seconds, sr, freq=50.0, amp=1.0):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype("float32")


def ramp(seconds, sr):
    """Value identifies time: x(t) = 0.1 * t (t in seconds)."""
    return (0.1 * np.arange(int(round(seconds * sr))) / sr).astype("float32")


def write_dir(path: Path, files: dict) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (path / name).write_text("".join(f"{line}\n" for line in lines))
    return path


@pytest.fixture
def src(tmp_path):
    """8 kHz stereo wav, 44.1 kHz flac, a piped command; utt2lang & co."""
    a = tmp_path / "audio"
    a.mkdir()
    stereo = np.stack([sine(1.0, 8000, amp=0.4), sine(1.0, 8000, amp=0.2)], axis=1)
    sf.write(a / "stereo.wav", stereo, 8000, subtype="PCM_16")
    sf.write(a / "mono.flac", sine(0.37, 44100, amp=0.5), 44100, subtype="PCM_16")
    sf.write(a / "piped.wav", sine(0.25, 16000, amp=0.3), 16000, subtype="PCM_16")
    utts = ["deu_pipe", "eng_stereo", "fra_flac"]
    return write_dir(tmp_path / "src", {
        "wav.scp": [f"deu_pipe cat {a / 'piped.wav'} |", f"eng_stereo {a / 'stereo.wav'}",
                    f"fra_flac {a / 'mono.flac'}"],
        "utt2lang": [f"{u} {u[:3]}" for u in utts],
        "lang2utt": [f"{u[:3]} {u}" for u in utts],
        "category2utt": [f"{u[:3]} {u}" for u in utts],
        "utt2dataset": ["deu_pipe x", "eng_stereo y", "fra_flac y"],
        "dataset2utt": ["x deu_pipe", "y eng_stereo fra_flac"],
        "text": ["deu_pipe hallo welt", "eng_stereo hi", "fra_flac salut"],
    })


def read(path):
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (FS, 1, "PCM_16")
    return sf.read(str(path), dtype="float32")[0]


def test_format_resamples_downmixes_and_copies_metadata(src, tmp_path):
    dst = format_data_dir(src, tmp_path / "dump", progress=False)
    scp = dict(line.split(" ", 1) for line in (dst / "wav.scp").read_text().splitlines())
    assert list(scp) == ["deu_pipe", "eng_stereo", "fra_flac"]
    assert all(Path(p).is_absolute() and Path(p).parent == (dst / "data").resolve()
               for p in scp.values())
    n = {k: int(v) for k, v in (l.split() for l in (dst / "utt2num_samples").read_text().splitlines())}
    assert n == {"deu_pipe": 4000, "eng_stereo": 16000,
                 "fra_flac": round(int(0.37 * 44100) * FS / 44100)}
    for utt, path in scp.items():
        assert len(read(path)) == n[utt]
    # stereo 0.4/0.2 sine -> mono 0.3 sine at 16 kHz (away from the filter's edges)
    x = read(scp["eng_stereo"])
    np.testing.assert_allclose(x[400:-400], sine(1.0, FS, amp=0.3)[400:-400], atol=2e-3)
    np.testing.assert_allclose(read(scp["fra_flac"])[400:-400],
                               sine(0.37, FS, amp=0.5)[400:n["fra_flac"] - 400], atol=2e-3)
    np.testing.assert_allclose(read(scp["deu_pipe"]), sine(0.25, FS, amp=0.3), atol=1e-4)
    for name in ("utt2lang", "lang2utt", "category2utt", "utt2dataset", "dataset2utt", "text"):
        assert (dst / name).read_text() == (src / name).read_text(), name
    assert not (dst / "segments").exists() and not (dst / "format_errors").exists()


def test_flac_output_and_parallel_jobs(src, tmp_path):
    dst = format_data_dir(src, tmp_path / "dump", audio_format="flac", nj=2, progress=False)
    paths = [line.split(" ", 1)[1] for line in (dst / "wav.scp").read_text().splitlines()]
    assert all(p.endswith(".flac") and sf.info(p).format == "FLAC" for p in paths)
    assert (dst / "utt2num_samples").read_text().split()[1::2] == [
        "4000", "16000", str(round(int(0.37 * 44100) * FS / 44100))]


@pytest.fixture
def seg_src(tmp_path):
    """A 3 s 8 kHz ramp recording cut into segments, one via a command."""
    sf.write(tmp_path / "long.wav", ramp(3.0, 8000), 8000, subtype="FLOAT")
    utts = ["eng_s1", "eng_s2", "eng_s3"]
    return write_dir(tmp_path / "seg_src", {
        "wav.scp": [f"rec_a {tmp_path / 'long.wav'}", f"rec_b cat {tmp_path / 'long.wav'} |"],
        "segments": ["eng_s1 rec_a 0.50 1.00", "eng_s2 rec_a 2.00 2.75", "eng_s3 rec_b 1.25 3.20"],
        "utt2lang": [f"{u} eng" for u in utts],
        "lang2utt": ["eng " + " ".join(utts)],
    })


def test_segments_cut_at_the_right_times(seg_src, tmp_path):
    dst = format_data_dir(seg_src, tmp_path / "dump", progress=False)
    n = dict(l.split() for l in (dst / "utt2num_samples").read_text().splitlines())
    # eng_s3 overshoots the 3 s recording by 0.2 s (< 0.5 s): cut at the end, like Kaldi
    assert n == {"eng_s1": "8000", "eng_s2": "12000", "eng_s3": "28000"}
    for utt, start in [("eng_s1", 0.5), ("eng_s2", 2.0), ("eng_s3", 1.25)]:
        x = read(dst / "data" / f"{utt}.wav")
        k = np.arange(200, len(x) - 200)
        np.testing.assert_allclose(x[k], 0.1 * (start + k / FS), atol=2e-4, err_msg=utt)
    assert not (dst / "segments").exists()
    assert (dst / "wav.scp").read_text().split()[0::2] == ["eng_s1", "eng_s2", "eng_s3"]


def test_bad_inputs_are_collected_and_named(src, tmp_path):
    a = tmp_path / "audio"
    (a / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    sf.write(a / "empty.wav", np.zeros(0, "float32"), 16000)
    sf.write(a / "nan.wav", np.full(800, np.nan, "float32"), 16000, subtype="FLOAT")
    lines = (src / "wav.scp").read_text().splitlines()
    lines[1:1] = [f"eng_corrupt {a / 'corrupt.wav'}", f"eng_empty {a / 'empty.wav'}",
                  f"eng_missing {a / 'missing.wav'}", f"eng_nan {a / 'nan.wav'}",
                  "eng_pipefail false |"]
    (src / "wav.scp").write_text("\n".join(lines) + "\n")
    dst = tmp_path / "dump"
    with pytest.raises(FormatError) as err:
        format_data_dir(src, dst, progress=False)
    msg = str(err.value)
    scp = src / "wav.scp"
    assert "5 of 8 utterances failed" in msg
    assert f"{scp}:2: audio of 'eng_corrupt': {a / 'corrupt.wav'}: unreadable audio" in msg
    assert f"{scp}:3: 'eng_empty' has no samples ('{a / 'empty.wav'}'" in msg
    assert f"{scp}:4: audio of 'eng_missing': {a / 'missing.wav'}: file not found" in msg
    assert f"{scp}:5: 'eng_nan': all samples are NaN/inf ('{a / 'nan.wav'}'" in msg
    assert f"{scp}:6: command 'false' of 'eng_pipefail' failed (exit 1)" in msg
    assert len((dst / "format_errors").read_text().splitlines()) == 5
    # nothing is lost: the good utterances were written before the error
    assert sorted(p.name for p in (dst / "data").iterdir()) == [
        "deu_pipe.wav", "eng_stereo.wav", "fra_flac.wav"]
    assert not (dst / "wav.scp").exists()
    # --skip-bad leaves them out of the directory and its metadata
    format_data_dir(src, dst, progress=False, skip_bad=True)
    assert (dst / "wav.scp").read_text().split()[0::2] == ["deu_pipe", "eng_stereo", "fra_flac"]
    assert (dst / "utt2lang").read_text() == (src / "utt2lang").read_text()


def test_error_list_is_capped(tmp_path):
    rows = [f"eng_{i:02d} {tmp_path}/none_{i}.wav" for i in range(25)]
    src = write_dir(tmp_path / "src", {"wav.scp": rows})
    with pytest.raises(FormatError) as err:
        format_data_dir(src, tmp_path / "dump", progress=False)
    msg = str(err.value)
    assert "25 of 25 utterances failed" in msg and "... and 5 more" in msg
    assert "wav.scp:20:" in msg and "wav.scp:21:" not in msg
    assert len((tmp_path / "dump" / "format_errors").read_text().splitlines()) == 25


def test_segment_beyond_end_names_segments_line(seg_src, tmp_path):
    seg = seg_src / "segments"
    seg.write_text(seg.read_text() + "eng_s4 rec_a 3.40 4.00\neng_s5 rec_a 1.00 3.60\n")
    (seg_src / "utt2lang").write_text((seg_src / "utt2lang").read_text() + "eng_s4 eng\neng_s5 eng\n")
    with pytest.raises(FormatError) as err:
        format_data_dir(seg_src, tmp_path / "dump", progress=False)
    msg = str(err.value)
    assert f"{seg}:4: segment 'eng_s4' starts at 3.400 s, beyond the end of recording" in msg
    assert f"{seg}:5: segment 'eng_s5' ends at 3.600 s" in msg and "(3.000 s, " in msg
    assert "2 of 5 utterances failed" in msg


def test_malformed_input_fails_before_any_work(seg_src, tmp_path):
    (seg_src / "segments").write_text("eng_s1 rec_zz 0 1\n")
    with pytest.raises(FormatError, match=r"segments:1: recording 'rec_zz' of segment 'eng_s1'"):
        format_data_dir(seg_src, tmp_path / "dump", progress=False)
    (seg_src / "segments").write_text("eng_s1 rec_a 2 1\n")
    with pytest.raises(FormatError, match=r"segments:1: need 0 <= start < end"):
        format_data_dir(seg_src, tmp_path / "dump", progress=False)
    with pytest.raises(FormatError, match="is the input"):
        format_data_dir(seg_src, seg_src, progress=False)
    with pytest.raises(FormatError, match="not supported"):
        format_data_dir(seg_src, tmp_path / "d", audio_format="mp3", progress=False)


def test_resume_reuses_existing_outputs(src, tmp_path):
    dst = format_data_dir(src, tmp_path / "dump", progress=False)
    data = dst / "data"
    before = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}
    expected = (dst / "utt2num_samples").read_text()
    (data / "fra_flac.wav").unlink()                      # interrupted before this one
    (data / "deu_pipe.wav").write_bytes(b"not audio")     # damaged: redone
    (data / ".eng_x.wav.999999999.tmp").write_bytes(b"")  # temp file of a dead process
    os.utime(data / "eng_stereo.wav", ns=(1, 1))          # any rewrite would change this
    format_data_dir(src, dst, progress=False)
    assert (data / "eng_stereo.wav").stat().st_mtime_ns == 1
    assert (data / "fra_flac.wav").stat().st_mtime_ns != before["fra_flac.wav"]
    assert sorted(p.name for p in data.iterdir()) == sorted(before)
    assert (dst / "utt2num_samples").read_text() == expected
    # a different rate is not reused
    format_data_dir(src, dst, sample_rate=8000, progress=False)
    assert (dst / "utt2num_samples").read_text().split()[1::2] == [
        "2000", "8000", str(round(int(0.37 * 44100) * 8000 / 44100))]


def test_cli_format(src, tmp_path, capsys):
    out = tmp_path / "dump"
    assert cli.main(["format", str(src), str(out), "--fs", "8000", "--audio-dir",
                     str(tmp_path / "wavs"), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert sorted(p.name for p in (tmp_path / "wavs").iterdir()) == [
        "deu_pipe.wav", "eng_stereo.wav", "fra_flac.wav"]
    assert cli.main(["format", str(tmp_path / "nope"), str(out), "--no-progress"]) == 1
    assert "wav.scp not found" in capsys.readouterr().err


def test_cli_module_help_lists_new_subcommands():
    import subprocess

    res = subprocess.run([sys.executable, "-m", "geolid.bin.data_prep", "format", "--help"],
                         capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert res.returncode == 0 and "--audio-format" in res.stdout and "--nj" in res.stdout


def test_special_files_are_named_and_tab_separated_scp_is_read(src, tmp_path):
    """Issue 7 item 11: a FIFO or a link loop was "does not exist"; a tab split nothing."""
    a = tmp_path / "audio"
    os.mkfifo(a / "pipe.wav")
    (a / "loop.wav").symlink_to(a / "loop.wav")
    lines = (src / "wav.scp").read_text().splitlines()
    lines[1:1] = [f"eng_fifo\t{a / 'pipe.wav'}", f"eng_loop\t{a / 'loop.wav'}"]
    (src / "wav.scp").write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError) as err:
        format_data_dir(src, tmp_path / "dump", progress=False)
    msg, scp = str(err.value), src / "wav.scp"
    assert "2 of 5 utterances failed" in msg
    assert f"{scp}:2: audio of 'eng_fifo': {a / 'pipe.wav'}: is a named pipe (FIFO)" in msg
    assert f"{scp}:3: audio of 'eng_loop': {a / 'loop.wav'}: symbolic link loop" in msg


def test_multi_columns_input_and_output(tmp_path):
    """ESPnet's format_wav_scp --multi-columns-input/-output: columns are channel files;
    kept channels are written one file each (<utt>-CH<c>.wav) and listed as columns."""
    a = tmp_path / "audio"
    a.mkdir()
    sf.write(a / "l.wav", sine(0.5, 8000, amp=0.4), 8000, subtype="PCM_16")
    sf.write(a / "r.wav", sine(0.5, 8000, amp=0.2), 8000, subtype="PCM_16")
    sf.write(a / "m.wav", sine(0.25, 16000, amp=0.3), 16000, subtype="PCM_16")
    src = write_dir(tmp_path / "src", {
        "wav.scp": [f"eng_two {a / 'l.wav'} {a / 'r.wav'}", f"fra_one {a / 'm.wav'}"],
        "utt2lang": ["eng_two eng", "fra_one fra"], "lang2utt": ["eng eng_two", "fra fra_one"]})
    # Input columns only: channels concatenated, then downmixed to one file (0.4+0.2)/2.
    mono = format_data_dir(src, tmp_path / "mono", progress=False, multi_columns_input=True)
    scp = dict(l.split(" ", 1) for l in (mono / "wav.scp").read_text().splitlines())
    assert scp["eng_two"] == str((mono / "data" / "eng_two.wav").resolve())
    assert np.abs(read(scp["eng_two"])).max() == pytest.approx(0.3, abs=0.01)
    assert (mono / "utt2num_samples").read_text() == "eng_two 8000\nfra_one 4000\n"
    # Output columns too: one mono file per channel, as columns; a mono utterance stays one.
    multi = format_data_dir(src, tmp_path / "multi", progress=False, multi_columns_input=True,
                            multi_columns_output=True)
    scp = dict(l.split(" ", 1) for l in (multi / "wav.scp").read_text().splitlines())
    d = (multi / "data").resolve()
    assert scp == {"eng_two": f"{d / 'eng_two-CH0.wav'} {d / 'eng_two-CH1.wav'}",
                   "fra_one": str(d / "fra_one.wav")}
    ch0, ch1 = (read(p) for p in scp["eng_two"].split())
    assert np.abs(ch0).max() == pytest.approx(0.4, abs=0.01)
    assert np.abs(ch1).max() == pytest.approx(0.2, abs=0.01) and len(ch0) == len(ch1) == 8000
    # A re-run reuses the channel files.
    before = (d / "eng_two-CH1.wav").stat().st_mtime_ns
    format_data_dir(src, multi, progress=False, multi_columns_input=True, multi_columns_output=True)
    assert (d / "eng_two-CH1.wav").stat().st_mtime_ns == before
    # Without --multi-columns-input the two columns are one (missing) path: an error.
    with pytest.raises(FormatError, match=r"wav.scp:1: audio of 'eng_two'"):
        format_data_dir(src, tmp_path / "single", progress=False)


def test_multi_columns_input_errors(tmp_path):
    a = tmp_path / "audio"
    a.mkdir()
    sf.write(a / "l.wav", sine(0.5, 8000), 8000, subtype="PCM_16")
    sf.write(a / "short.wav", sine(0.25, 8000), 8000, subtype="PCM_16")
    src = write_dir(tmp_path / "src", {
        "wav.scp": [f"eng_a {a / 'l.wav'} {a / 'short.wav'}", f"eng_b cat {a / 'l.wav'} |"],
        "utt2lang": ["eng_a eng", "eng_b eng"], "lang2utt": ["eng eng_a eng_b"]})
    with pytest.raises(FormatError) as e:
        format_data_dir(src, tmp_path / "d", progress=False, multi_columns_input=True)
    assert "wav.scp:1: the columns of 'eng_a' differ" in str(e.value)
    assert "wav.scp:2: 'eng_b': a multi-column wav.scp lists audio files" in str(e.value)


def test_cli_multi_columns_flags(tmp_path):
    a = tmp_path / "audio"
    a.mkdir()
    sf.write(a / "l.wav", sine(0.5, 8000), 8000, subtype="PCM_16")
    src = write_dir(tmp_path / "src", {"wav.scp": [f"eng_a {a / 'l.wav'} {a / 'l.wav'}"],
                                        "utt2lang": ["eng_a eng"], "lang2utt": ["eng eng_a"]})
    assert cli.main(["format", str(src), str(tmp_path / "d"), "--no-progress",
                     "--multi-columns-input", "true", "--multi-columns-output", "true"]) == 0
    assert len((tmp_path / "d" / "wav.scp").read_text().split()) == 3
