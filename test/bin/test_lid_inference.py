"""Recipe stage 6 (geolid.bin.lid_inference) and ``geolid predict`` share one scoring
path: same predictions, same accuracy through the same scorer; outputs, resume."""
import json
import re

import numpy as np
import pytest
import soundfile as sf

from geolid.bin import lid_inference
from geolid.cli.main import main as cli_main
from geolid.demo.tiny import make_experiment
from geolid.bin import score_lids as score_cli
from geolid.utils.fileio import read_kaldi_map

LANGS = ["eng", "fra", "deu", "cmn", "hin"]


@pytest.fixture(scope="module", params=[True, False], ids=["geo", "baseline"])
def recipe(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    make_experiment(root / "exp" / "lid_tiny", LANGS, geo=request.param)
    data = root / "dump" / "raw" / "test"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    scp, utt2lang = [], []
    for i in range(12):
        utt = f"{LANGS[i % 5]}_{i:02d}"
        seconds = rng.uniform(0.5, 4.0)
        wav = (rng.standard_normal(int(seconds * 16000)) * rng.uniform(0.05, 0.5)).astype("float32")
        sf.write(str(data / f"{utt}.wav"), wav, 16000, subtype="PCM_16")
        scp.append(f"{utt} {data / f'{utt}.wav'}\n")
        utt2lang.append(f"{utt} {LANGS[i % 5]}\n")
    (data / "wav.scp").write_text("".join(scp))
    (data / "utt2lang").write_text("".join(utt2lang))
    return root


def stage6(root, out, *extra):
    return lid_inference.main([
        "--output_dir", str(out), "--ngpu", "0", "--num_workers", "0",
        "--data_path_and_name_and_type", "dump/raw/test/wav.scp,speech,sound",
        "--data_path_and_name_and_type", "dump/raw/test/utt2lang,lid_labels,text",
        "--lid_train_config", "exp/lid_tiny/config.yaml",
        "--lid_model_file", "exp/lid_tiny/valid.accuracy.best.pth",
        "--fix_duration", "false", "--use_tensorboard", "false", "--use_matplotlib", "false",
        *extra])


def test_recipe_and_predict_give_the_same_accuracy(recipe, monkeypatch, capsys):
    monkeypatch.chdir(recipe)
    assert stage6(recipe, "inf", "--valid_batch_size", "4", "--extract_embd", "true",
                  "--save_embd_per_utt", "true", "--save_embd_avg_lang", "true") == 0
    lids = read_kaldi_map(recipe / "inf/test_lids")
    ref = read_kaldi_map(recipe / "dump/raw/test/utt2lang")
    assert sorted(lids) == sorted(ref)
    topk = read_kaldi_map(recipe / "inf/test_lids_topk")
    for utt, line in topk.items():
        pairs = [x.split(":") for x in line.split()]
        assert len(pairs) == 5 and pairs[0][0] == lids[utt]
        probs = [float(p) for _, p in pairs]
        assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0, abs=1e-5)
    embds = np.load(recipe / "inf/test_utt_embds.npz")
    assert sorted(embds.files) == sorted(ref)
    np.testing.assert_allclose(np.linalg.norm(embds[sorted(ref)[0]]), 1.0, rtol=1e-5)
    assert set(np.load(recipe / "inf/test_lang_to_avg_embd.npz").files) == set(LANGS)

    assert score_cli.main(["--ref", "dump/raw/test/utt2lang", "--hyp", "inf/test_lids",
                           "--out", "score"]) == 0
    recipe_acc = json.loads((recipe / "score/score.json").read_text())["accuracy"]
    capsys.readouterr()

    rc = cli_main(["predict", "--scp", "dump/raw/test/wav.scp", "--model", "exp/lid_tiny",
                   "--utt2lang", "dump/raw/test/utt2lang", "--out", "pred.jsonl", "-q",
                   "--no-location", "--min-duration", "0", "--speech-detector", "none"])
    # the recipe scores every clip as published: no minimum duration, no speech detector
    err = capsys.readouterr().err
    assert rc == 0, err
    predicted = {r["key"]: r["language"] for r in map(json.loads, open("pred.jsonl"))}
    assert predicted == lids
    cli_acc = float(re.search(r"top-1 accuracy ([\d.]+)%", err).group(1))
    assert cli_acc == pytest.approx(100 * recipe_acc, abs=0.05)


def test_batch_size_does_not_change_the_outputs_and_reruns_resume(recipe, monkeypatch):
    monkeypatch.chdir(recipe)
    assert stage6(recipe, "b1", "--valid_batch_size", "1") == 0
    assert stage6(recipe, "b8", "--valid_batch_size", "8") == 0
    assert read_kaldi_map(recipe / "b1/test_lids") == read_kaldi_map(recipe / "b8/test_lids")
    for (u1, l1), (u8, l8) in zip(sorted(read_kaldi_map(recipe / "b1/test_lids_topk").items()),
                                  sorted(read_kaldi_map(recipe / "b8/test_lids_topk").items())):
        p1 = [float(x.split(":")[1]) for x in l1.split()]
        p8 = [float(x.split(":")[1]) for x in l8.split()]
        assert u1 == u8 and np.allclose(p1, p8, atol=1e-4)
    # A rerun finds every utterance done and reads no audio.
    import geolid.audio as audio

    def no_reading(path):
        raise AssertionError(f"{path} read again")

    monkeypatch.setattr(audio, "load_audio", no_reading)
    (recipe / "b8/test_lids").unlink()
    assert stage6(recipe, "b8", "--valid_batch_size", "8") == 0
    assert read_kaldi_map(recipe / "b8/test_lids") == read_kaldi_map(recipe / "b1/test_lids")


def test_bad_wav_scp_entry_is_named(recipe, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(recipe)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "wav.scp").write_text("u1 sox x.wav -t wav - |\n")
    rc = lid_inference.main(["--output_dir", str(tmp_path / "o"),
                             "--data_path_and_name_and_type", f"{bad}/wav.scp,speech,sound",
                             "--lid_train_config", "exp/lid_tiny/config.yaml",
                             "--lid_model_file", "exp/lid_tiny/valid.accuracy.best.pth"])
    assert rc == 2 and "u1" in capsys.readouterr().err


def test_progress_of_another_model_or_a_broken_line_is_not_reused(tmp_path):
    model_a, model_b = tmp_path / "a.pth", tmp_path / "b.pth"
    model_a.write_bytes(b"a")
    model_b.write_bytes(b"bb")
    path = tmp_path / ".set_progress.jsonl"
    progress = lid_inference.Progress(path, str(model_a))
    progress.add({"utt": "u1", "lang": "eng", "topk": [["eng", 1.0]]})
    progress.add({"utt": "u2", "lang": "fra", "topk": [["fra", 1.0]]})
    progress.flush()
    with path.open("a") as f:
        f.write('{"utt": "u3", "la')  # interrupted mid-line
    assert set(lid_inference.Progress(path, str(model_a)).done) == {"u1", "u2"}
    assert path.read_text().endswith("}\n")
    assert lid_inference.Progress(path, str(model_b)).done == {}
