"""Recipe stage 6 (geolid.bin.lid_inference) and stage 7 (geolid.bin.calibrate) against
``geolid predict``: one scoring rule, one answer; order-independent reruns; resume;
and the published batching, bit for bit against the upstream parity fixture."""
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from geolid.bin import calibrate, lid_inference
from geolid.cli.main import main as cli_main
from geolid_demo.tiny import make_experiment
from geolid.utils.fileio import read_kaldi_map

LANGS = ["eng", "fra", "deu", "cmn", "hin"]
VOICES = {"eng": "en-gb", "fra": "fr-fr", "deu": "de", "cmn": "cmn", "hin": "hi"}
SENTENCE = {"eng": "The farmer carried water up the hill.", "fra": "Le fermier porte de l'eau sur la colline.",
            "deu": "Der Bauer trug Wasser auf den Berg.", "cmn": "农夫把水提到山上。",
            "hin": "किसान पानी लेकर पहाड़ी पर चढ़ा।"}


@pytest.fixture(scope="module", params=[True, False], ids=["geo", "baseline"])
def recipe(request, tmp_path_factory):
    """A recipe folder: a tiny model and a test set of espeak-ng speech, one utterance of
    it longer than a window (so the utterance rule's windows and speech weights count)."""
    from geolid_demo.espeak import synthesize

    root = tmp_path_factory.mktemp("recipe")
    make_experiment(root / "exp" / "lid_tiny", LANGS, geo=request.param)
    data = root / "dump" / "raw" / "test"
    data.mkdir(parents=True)
    scp, utt2lang = [], []
    for i in range(10):
        lang = LANGS[i % 5]
        wav = synthesize(SENTENCE[lang], VOICES[lang], rate=140 + 12 * i, pitch=30 + 5 * i)
        if i == 7:   # 40 s: talk, 12 s of silence, talk ...
            wav = np.concatenate([wav, np.zeros(12 * 16000, "float32")] + [wav] * 30)[: 40 * 16000]
        utt = f"{lang}_{i:02d}"
        sf.write(str(data / f"{utt}.wav"), wav, 16000, subtype="PCM_16")
        scp.append(f"{utt} {data / f'{utt}.wav'}\n")
        utt2lang.append(f"{utt} {lang}\n")
    (data / "wav.scp").write_text("".join(scp))
    (data / "utt2lang").write_text("".join(utt2lang))
    return root


def stage6(out, *extra, data="dump/raw/test", exp="exp/lid_tiny", model="valid.accuracy.best.pth"):
    return lid_inference.main([
        "--output_dir", str(out), "--ngpu", "0",
        "--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
        "--data_path_and_name_and_type", f"{data}/utt2lang,lid_labels,text",
        "--lid_train_config", f"{exp}/config.yaml", "--lid_model_file", f"{exp}/{model}",
        "--fix_duration", "false", *extra])


def topk(path):
    return {u: {x.split(":")[0]: float(x.split(":")[1]) for x in line.split()}
            for u, line in read_kaldi_map(path).items()}


def predict(capsys, out):
    capsys.readouterr()
    rc = cli_main(["predict", "--scp", "dump/raw/test/wav.scp", "--model", "exp/lid_tiny",
                   "--out", str(out), "--overwrite", "-q"])
    assert rc == 0, capsys.readouterr().err
    return {r["key"]: r for r in map(json.loads, open(out))}


def test_stage6_and_7_equal_predict_under_default_options(recipe, monkeypatch, capsys):
    monkeypatch.chdir(recipe)
    assert stage6("inf", "--valid_batch_size", "4", "--extract_embd", "true",
                  "--save_embd_per_utt", "true", "--save_embd_avg_lang", "true") == 0
    lids = read_kaldi_map(recipe / "inf/test_lids")
    ref = read_kaldi_map(recipe / "dump/raw/test/utt2lang")
    assert sorted(lids) == sorted(ref)
    raw = topk(recipe / "inf/test_lids_topk")
    post = np.load(recipe / "inf/test_posteriors.npz")
    assert list(post["utts"]) == sorted(ref) and list(post["languages"]) == LANGS
    np.testing.assert_allclose(np.exp(post["log_posteriors"]).sum(1), 1.0, rtol=1e-5)
    embds = np.load(recipe / "inf/test_utt_embds.npz")
    np.testing.assert_allclose(np.linalg.norm(embds[sorted(ref)[0]]), 1.0, rtol=1e-5)
    assert set(np.load(recipe / "inf/test_lang_to_avg_embd.npz").files) == set(LANGS)

    # before calibration: predict (default options) = stage 6's raw posteriors
    before = predict(capsys, recipe / "pred.jsonl")
    assert before["eng_05"]["num_windows"] == 1 and before["deu_07"]["num_windows"] == 2
    for utt, rec in before.items():
        assert rec["language"] == lids[utt]          # speech everywhere: no zxx, no unknown
        for s in rec["top_k"]:
            assert s["probability"] == pytest.approx(raw[utt][s["code"]], abs=1e-5)

    # stage 7 calibrates from the posteriors (no inference): T into the model folder
    assert calibrate.main(["--model", "exp/lid_tiny", "--valid", "inf/test_posteriors.npz",
                           "--valid_ref", "dump/raw/test/utt2lang"]) == 0
    t = json.loads((recipe / "exp/lid_tiny/calibration.json").read_text())["temperature"]
    assert t != pytest.approx(1.0, abs=1e-3)
    calibrated = topk(recipe / "inf/test_lids_topk_calibrated")
    after = predict(capsys, recipe / "pred_cal.jsonl")
    for utt, rec in after.items():
        assert rec["language"] == lids[utt]           # temperature scaling changes no argmax
        for s in rec["top_k"]:
            assert s["probability"] == pytest.approx(calibrated[utt][s["code"]], abs=1e-5)
        assert rec["model"]["head"]                   # the calibration is part of its identity

    # stage 6 rerun after stage 7: the same files as before (the model as trained)
    assert stage6("inf_again", "--valid_batch_size", "4") == 0
    for name in ("test_lids", "test_lids_topk"):
        assert (recipe / "inf_again" / name).read_text() == (recipe / "inf" / name).read_text()
    np.testing.assert_array_equal(np.load(recipe / "inf_again/test_posteriors.npz")["log_posteriors"],
                                  post["log_posteriors"])
    (recipe / "exp/lid_tiny/calibration.json").unlink()


def test_batch_size_does_not_change_the_outputs_and_reruns_resume(recipe, monkeypatch):
    monkeypatch.chdir(recipe)
    assert stage6("b1", "--valid_batch_size", "1") == 0
    assert stage6("b8", "--valid_batch_size", "8") == 0
    assert read_kaldi_map(recipe / "b1/test_lids") == read_kaldi_map(recipe / "b8/test_lids")
    a, b = topk(recipe / "b1/test_lids_topk"), topk(recipe / "b8/test_lids_topk")
    for u in a:
        assert a[u].keys() == b[u].keys() and all(abs(a[u][c] - b[u][c]) < 1e-4 for c in a[u])
    # A rerun finds every utterance done and reads no audio.
    import geolid.inference.segmenter as segmenter

    def no_reading(*args, **kwargs):
        raise AssertionError("audio read again")

    monkeypatch.setattr(segmenter.AudioSource, "of", no_reading)
    (recipe / "b8/test_lids").unlink()
    assert stage6("b8", "--valid_batch_size", "8") == 0
    assert read_kaldi_map(recipe / "b8/test_lids") == read_kaldi_map(recipe / "b1/test_lids")


def test_progress_of_another_model_is_not_reused(recipe, monkeypatch, tmp_path):
    monkeypatch.chdir(recipe)
    assert stage6("p", "--valid_batch_size", "8") == 0
    progress = recipe / "p/.test_progress.jsonl"
    model = json.loads(progress.read_text().splitlines()[0])["model"]
    shutil.copy(recipe / "exp/lid_tiny/valid.accuracy.best.pth", recipe / "exp/lid_tiny/other.pth")
    with torch.no_grad():
        state = torch.load(recipe / "exp/lid_tiny/other.pth")
        state["loss.weight"] += 0.5
        torch.save(state, recipe / "exp/lid_tiny/other.pth")
    assert stage6("p", "--valid_batch_size", "8", model="other.pth") == 0
    records = [json.loads(x) for x in progress.read_text().splitlines()]
    assert len(records) == 10 and all(r["model"]["sha256"] != model["sha256"] for r in records)
    made_by = json.loads((recipe / "p/test_model.json").read_text())["model"]
    assert made_by["name"].endswith("other.pth")
    (recipe / "exp/lid_tiny/other.pth").unlink()


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


def test_calibration_refuses_posteriors_of_another_model(recipe, monkeypatch, capsys):
    monkeypatch.chdir(recipe)
    assert stage6("c", "--valid_batch_size", "8") == 0
    record = recipe / "c/test_model.json"
    doc = json.loads(record.read_text())
    doc["model"]["sha256"] = "0" * 64
    record.write_text(json.dumps(doc))
    assert calibrate.main(["--model", "exp/lid_tiny", "--valid", "c/test_posteriors.npz",
                           "--valid_ref", "dump/raw/test/utt2lang"]) == 2
    assert "another model" in capsys.readouterr().err
    assert not (recipe / "exp/lid_tiny/calibration.json").exists()


# ------------------------------------------------------------ published batching
@pytest.fixture
def parity_set(parity_dir, tmp_path):
    """The parity fixture's three inputs as a data dir (float WAV: bit-exact samples)."""
    inputs = torch.load(parity_dir / "inputs.pt")
    data = tmp_path / "dump" / "raw" / "parity"
    data.mkdir(parents=True)
    langs = (parity_dir / "lang_list.txt").read_text().split()
    utts = []
    for i, (x, n, label) in enumerate(zip(inputs["speech"], inputs["speech_lengths"], inputs["lid_labels"])):
        utt = f"utt{i}"
        sf.write(str(data / f"{utt}.wav"), x[:n].numpy(), 16000, subtype="FLOAT")
        utts.append((utt, str(data / f"{utt}.wav"), langs[int(label)]))
    (data / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p, _ in utts))
    (data / "utt2lang").write_text("".join(f"{u} {lang}\n" for u, _, lang in utts))
    return data


def _parity_run(parity_dir, data, out, *extra):
    return lid_inference.main([
        "--output_dir", str(out), "--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
        "--data_path_and_name_and_type", f"{data}/utt2lang,lid_labels,text",
        "--lid_train_config", str(parity_dir / "config.yaml"),
        "--lid_model_file", str(parity_dir / "model.pth"), "--extract_embd", "true",
        "--save_embd_per_utt", "true", "--top_k", "5", *extra])


def test_published_batching_reproduces_the_upstream_batch(parity_dir, parity_set, tmp_path, monkeypatch):
    """``--published_batching true``: the three inputs in one zero-padded batch through the
    unmasked model give the published code's batched outputs; the default does not (it is
    batch-invariant: each utterance as if alone)."""
    monkeypatch.chdir(parity_dir)      # the fixture's config paths are relative to it
    expected = np.load(parity_dir / "expected.npz")
    want_embd = expected["eval.lang_embd"]
    want_embd = want_embd / np.linalg.norm(want_embd, axis=1, keepdims=True)
    want_probs = torch.softmax(torch.from_numpy(expected["eval.cosine"]) * 30, dim=1).numpy()
    labels = (parity_dir / "lang_list.txt").read_text().split()

    assert _parity_run(parity_dir, parity_set, tmp_path / "pub", "--published_batching", "true",
                       "--valid_batch_size", "4") == 0
    embd = np.load(tmp_path / "pub/parity_utt_embds.npz")
    got = np.stack([embd[f"utt{i}"] for i in range(3)])
    np.testing.assert_allclose(got, want_embd, atol=2e-5)
    lids = read_kaldi_map(tmp_path / "pub/parity_lids")
    assert [lids[f"utt{i}"] for i in range(3)] == [labels[i] for i in expected["eval.pred_lids"]]
    probs = topk(tmp_path / "pub/parity_lids_topk")
    for i in range(3):
        for code, p in probs[f"utt{i}"].items():
            assert p == pytest.approx(want_probs[i, labels.index(code)], abs=2e-5)

    assert _parity_run(parity_dir, parity_set, tmp_path / "default") == 0
    default = np.load(tmp_path / "default/parity_utt_embds.npz")
    assert np.abs(default["utt2"] - got[2]).max() > 1e-3     # the padded one differs from the batch
    np.testing.assert_allclose(default["utt0"], got[0], atol=2e-5)   # the longest one was not padded
