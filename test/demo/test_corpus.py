"""Demo corpus: Kaldi data dirs, labels, disjoint sentences, accent voices, resume, CLI."""
import json
import os

import pytest
import soundfile as sf

from geolid_demo.make_corpus import main
from geolid_demo.corpus import SMALL_LANGUAGES, SMALL_SIZES, VOICE_PLANS, make_demo_corpus
from geolid.utils.fileio import read_kaldi_lines, read_kaldi_map

FILES = ("wav.scp", "utt2lang", "lang2utt", "category2utt", "utt2voice", "text", "utt2spk")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = make_demo_corpus(out, languages=SMALL_LANGUAGES, progress=False, **SMALL_SIZES)
    return out, summary


def test_summary_counts_and_speed(corpus):
    out, summary = corpus
    n = len(SMALL_LANGUAGES)
    accent_langs = [l for l in SMALL_LANGUAGES if VOICE_PLANS[l].accent_voices]
    sizes = SMALL_SIZES
    assert summary["num_utts"] == {"train": sizes["n_train_per_lang"] * n, "dev": sizes["n_dev_per_lang"] * n,
                                   "test": sizes["n_test_per_lang"] * n,
                                   "test_accent": sizes["n_test_per_lang"] * len(accent_langs)}
    assert summary["synthesized"] == sum(summary["num_utts"].values())
    assert summary["skipped"] == 0
    assert summary["seconds_per_clip"] < 0.2  # measured ~6 ms; generous for slow CI
    settings = json.loads((out / "demo_corpus.json").read_text())
    assert settings["languages"] == list(SMALL_LANGUAGES)


def test_data_dirs_valid_sorted_and_labelled(corpus):
    out, _ = corpus
    for split in ("train", "dev", "test", "test_accent"):
        d = out / "data" / split
        for name in FILES:
            keys = [k for _, k, _ in read_kaldi_lines(d / name)]
            assert keys == sorted(keys), f"{split}/{name} not sorted"
        utt2lang = read_kaldi_map(d / "utt2lang")
        wav_scp = read_kaldi_map(d / "wav.scp")
        assert set(wav_scp) == set(utt2lang) == set(read_kaldi_map(d / "utt2voice"))
        for utt, lang in utt2lang.items():
            assert utt.startswith(lang + "_")
        lang2utt = {k: v.split() for k, v in read_kaldi_map(d / "lang2utt").items()}
        assert read_kaldi_map(d / "category2utt") == read_kaldi_map(d / "lang2utt")
        assert sorted(u for us in lang2utt.values() for u in us) == sorted(utt2lang)
        for lang, utts in lang2utt.items():
            assert all(utt2lang[u] == lang for u in utts)
        for utt, path in wav_scp.items():
            assert os.path.isabs(path)
            audio, sr = sf.read(path)
            assert sr == 16000 and audio.ndim == 1
            assert 1.0 < len(audio) / sr < 8.0, utt
            assert abs(audio).max() > 0.05, utt


def test_sentences_disjoint_across_splits(corpus):
    out, _ = corpus
    seen = {}
    for split in ("train", "dev", "test", "test_accent"):
        for utt, text in read_kaldi_map(out / "data" / split / "text").items():
            lang = utt.split("_")[0]
            assert (lang, text) not in seen, f"{utt} repeats {seen.get((lang, text))}"
            seen[(lang, text)] = utt


def _base_voices(data_dir):
    out = {}
    for utt, rest in read_kaldi_map(data_dir / "utt2voice").items():
        voice, rate, pitch, spread = rest.split()
        assert 130 <= int(rate) <= 200 and 30 <= int(pitch) <= 70 and 0 <= int(spread) <= 100
        out.setdefault(utt.split("_")[0], set()).add(voice.split("+")[0])
    return out


def test_accent_set_uses_other_voices_than_train(corpus):
    out, _ = corpus
    train = _base_voices(out / "data" / "train")
    test = _base_voices(out / "data" / "test")
    accent = _base_voices(out / "data" / "test_accent")
    assert set(accent) == {"eng", "spa", "por"}  # cmn and swa have no espeak-ng variant
    for lang, voices in accent.items():
        assert train[lang] == test[lang] == {VOICE_PLANS[lang].train_voice}
        assert voices and not voices & train[lang]
        assert voices <= set(VOICE_PLANS[lang].accent_voices)
    assert accent["eng"] == {"en-us", "en-gb-scotland"}


def test_resume_skips_existing_and_redoes_missing(tmp_path):
    kwargs = dict(languages=["eng", "por"], n_train_per_lang=2, n_dev_per_lang=1,
                  n_test_per_lang=1, progress=False)
    first = make_demo_corpus(tmp_path, **kwargs)
    wavs = sorted((tmp_path / "wav").rglob("*.wav"))
    assert len(wavs) == first["synthesized"] == 2 * 4 + 2
    texts = {p: p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()}
    mtimes = {p: p.stat().st_mtime_ns for p in wavs}
    wavs[0].unlink()
    second = make_demo_corpus(tmp_path, **kwargs)
    assert second["synthesized"] == 1 and second["skipped"] == len(wavs) - 1
    for p in wavs[1:]:
        assert p.stat().st_mtime_ns == mtimes[p]
    assert wavs[0].exists()
    assert {p: p.read_bytes() for p in texts} == texts  # metadata rewritten identically
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob(".*.wav"))


def test_unknown_language(tmp_path):
    with pytest.raises(ValueError, match=r"no language\(s\) xyz; choose from: eng,"):
        make_demo_corpus(tmp_path, languages=["eng", "xyz"], progress=False)


def test_cli_small(tmp_path, capsys):
    assert main([str(tmp_path), "--small", "--quiet", "--languages", "cmn,swa",
                 "--n-train", "2", "--n-test", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    # --small's dev size stays, the two given sizes override it
    assert result["num_utts"] == {"train": 4, "dev": 2 * SMALL_SIZES["n_dev_per_lang"], "test": 2}
    assert read_kaldi_map(tmp_path / "data" / "train" / "utt2lang") == {
        "cmn_train_0000": "cmn", "cmn_train_0001": "cmn",
        "swa_train_0000": "swa", "swa_train_0001": "swa"}


def test_cli_bad_language(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), "--languages", "eng,klingon", "--quiet"])
    assert e.value.code == 2
    assert "klingon" in capsys.readouterr().err


def test_two_runs_synthesise_identical_audio(tmp_path):
    """espeak-ng seeds its noise from the clock; two runs a few seconds apart (fresh
    processes) must still write the same samples, or two demo runs train different models."""
    import subprocess
    import sys
    import time

    hashes = []
    for run in ("a", "b"):
        out = tmp_path / run
        subprocess.run([sys.executable, "-m", "geolid_demo.make_corpus", str(out), "--languages", "eng,swa",
                        "--n-train", "3", "--n-dev", "0", "--n-test", "0", "--quiet"],
                       check=True, capture_output=True)
        hashes.append({p.name: p.read_bytes() for p in sorted((out / "wav").rglob("*.wav"))})
        time.sleep(1.1)   # the clock's seed moves on each second
    assert len(hashes[0]) == 6 and hashes[0] == hashes[1]
