"""GeoLID on a tiny random model: loading, every input type, outputs, options."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from geolid.audio import AudioError
from geolid.inference.api import GeoLID
from geolid.inference.options import PredictOptions
from geolid.model.errors import ModelError, ModelNotFoundError
from geolid.model.folder import ModelFolder

from .conftest import EXP_REL, LANGS, noise, write


def test_from_pretrained_published_layout(lid, model_root):
    assert lid.languages == LANGS
    assert lid.folder.config_path == model_root / EXP_REL / "config.yaml"
    assert lid.folder.weights.name == "valid.accuracy.best.pth"
    conf = lid.folder.resolved_config()
    assert Path(conf["lang2utt"]).is_absolute()
    assert Path(conf["frontend_conf"]["frontend_conf"]["path_or_url"]).is_dir()


def test_from_pretrained_experiment_folder_and_pth(model_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative config paths must not depend on the cwd
    a = GeoLID.from_pretrained(str(model_root / EXP_REL), device="cpu")
    b = GeoLID.from_pretrained(str(model_root / EXP_REL / "valid.accuracy.best.pth"), device="cpu")
    assert a.languages == b.languages == LANGS
    x = noise(1.0)
    np.testing.assert_allclose(a.embed((x, 16000)), b.embed((x, 16000)), atol=1e-6)


def test_prediction_contents(lid, tmp_path):
    p = lid.predict(str(write(tmp_path / "a.wav", noise(2.0))), top_k=4)
    assert p.ok and p.key.endswith("a.wav") and p.num_windows == 1 and p.duration == 2.0
    probs = [s.probability for s in p.top_k]
    assert [s.code for s in p.top_k] and sorted(probs, reverse=True) == probs
    assert sum(probs) == pytest.approx(1.0, abs=1e-4)
    assert {s.code for s in p.top_k} == set(LANGS)
    assert p.language == p.top_k[0].code and p.name == p.top_k[0].name
    assert dict(eng="English", fra="French", deu="German", cmn="Mandarin Chinese")[p.language] == p.name
    assert p.geo_vector.shape == (299,)
    assert -90 <= p.location.lat <= 90 and -180 <= p.location.lon <= 180
    assert lid.predict(str(tmp_path / "a.wav"), top_k=2).top_k[0].code == p.language


def test_every_input_type_gives_the_same_answer(lid, tmp_path):
    x = noise(1.5, seed=3)
    path = write(tmp_path / "x.wav", x, subtype="FLOAT")
    ref = lid.predict(str(path)).top_k
    for inp, kw in [(Path(path), {}), (x, {"sample_rate": 16000}), (torch.from_numpy(x), {"sample_rate": 16000}),
                    ((x, 16000), {}), (np.stack([x, x], 1), {"sample_rate": 16000})]:
        got = lid.predict(inp, **kw).top_k
        assert [s.code for s in got] == [s.code for s in ref]
        np.testing.assert_allclose([s.probability for s in got], [s.probability for s in ref], atol=1e-5)


def test_list_input_keeps_order_and_records_errors(lid, tmp_path):
    good = str(write(tmp_path / "g.flac", noise(1.0)))
    out = lid.predict([good, (noise(3.0, 8000), 8000), str(tmp_path / "nope.wav"), noise(0.01)],
                      sample_rate=16000)
    assert [p.ok for p in out] == [True, True, False, False]
    assert out[1].duration == 3.0 and out[1].key == "input_1"
    assert "not found" in out[2].error and "too short" in out[3].error
    with pytest.raises(AudioError, match="not found"):
        lid.predict(str(tmp_path / "nope.wav"))
    with pytest.raises(AudioError, match="unsupported input type"):
        lid.predict(12345)


def test_embed_shapes(lid):
    x = noise(1.0)
    e = lid.embed((x, 16000))
    assert e.shape == (8,) and np.isfinite(e).all()  # tiny model: 8-d embedding
    both = lid.embed([(x, 16000), (noise(2.0, seed=1), 16000)])
    assert both.shape == (2, 8)
    # batch-invariant: the same alone and in a list (docs/batching.md)
    np.testing.assert_allclose(both[0], e, atol=1e-5)


def test_long_input_windows_and_segments(lid):
    p = lid.predict((noise(9.0), 16000), segments=True, options=PredictOptions(window=4, overlap=1))
    assert p.num_windows == 3 and len(p.segments) == 3
    assert [(s.start, s.end) for s in p.segments] == [(0, 4), (3, 7), (5, 9)]
    assert all(s.language in LANGS for s in p.segments)


def test_rejection(lid):
    x = (noise(1.0), 16000)
    p = lid.predict(x, reject_below=1.0, segments=True)
    assert p.rejected and p.language == "unknown" and p.top_k[0].code in LANGS
    assert p.segments[0].language == "unknown"
    assert not lid.predict(x, reject_below=0.0).rejected
    with pytest.raises(ValueError, match="reject_below"):
        lid.predict(x, reject_below=1.5)


def test_int8_quantisation(model_root):
    from geolid.inference.quantize import count_quantized

    q = GeoLID.from_pretrained(str(model_root), device="cpu", quantize="int8")
    assert count_quantized(q.model) == 4 * 6  # 4 layers x (q, k, v, out, ff1, ff2)
    p = q.predict((noise(1.0), 16000))
    assert p.ok and p.language in LANGS
    with pytest.raises(ValueError, match="CPU only"):
        GeoLID.from_pretrained(str(model_root), device="cuda", quantize="int8")


def test_bf16_autocast_runs(model_root):
    m = GeoLID.from_pretrained(str(model_root), device="cpu", dtype="bfloat16")
    assert m.dtype == "bfloat16" and m.predict((noise(1.0), 16000)).ok


def test_baseline_model_has_no_location(tmp_path):
    from geolid_demo.tiny import make_experiment

    make_experiment(tmp_path / "exp" / "lid_base", ["eng", "fra", "deu"], geo=False)
    m = GeoLID.from_pretrained(str(tmp_path / "exp" / "lid_base"), device="cpu")
    p = m.predict((noise(1.0), 16000))
    assert p.ok and p.location is None and p.geo_vector is None


def test_missing_model_offline_names_the_download_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFoundError) as e:
        GeoLID.from_pretrained("espnet/geolid_not_here")
    assert "hf download espnet/geolid_not_here" in str(e.value)
    with pytest.raises(ModelNotFoundError, match="neither an existing folder"):
        ModelFolder.open(str(tmp_path / "no" / "such" / "dir"))


def test_model_folder_problems(model_root, tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(model_root, copy)
    shutil.copytree(copy / EXP_REL, copy / "exp_combined" / "lid_other_raw")
    with pytest.raises(ModelNotFoundError, match="several models"):
        ModelFolder.open(str(copy))
    (copy / "data" / "lang2utt").write_text("eng a\nfra b\n")
    with pytest.raises(ModelError, match="lang_num=4"):
        ModelFolder.open(str(copy / EXP_REL))
    (copy / "data" / "lang2utt").unlink()
    with pytest.raises(ModelNotFoundError, match="lang2utt"):
        ModelFolder.open(str(copy / EXP_REL))
    (copy / EXP_REL / "valid.accuracy.best.pth").unlink()
    with pytest.raises(ModelNotFoundError, match="no .pth"):
        ModelFolder.open(str(copy / EXP_REL))


def test_classify_batch_named_outputs_and_length_forms(lid):
    """SpeechBrain-style batch call: padded batch with sample or relative lengths, or
    a list; named host arrays; each row as if alone."""
    from geolid.inference.scorer import BatchOutput

    waves = [noise(1.5, seed=1), noise(0.7, seed=2), noise(2.4, seed=3)]
    padded = np.zeros((3, 38400), "float32")
    for i, w in enumerate(waves):
        padded[i, :len(w)] = w
    lens = np.array([len(w) for w in waves])
    out = lid.classify_batch(padded, lens)
    assert isinstance(out, BatchOutput) and len(out) == 3
    assert out.probabilities.shape == out.scores.shape == (3, len(lid.languages))
    assert out.embeddings.shape == (3, 8) and out.geo_vectors.shape == (3, 299)
    np.testing.assert_allclose(out.probabilities.sum(1), 1.0, rtol=1e-5)
    assert out.languages == [lid.languages[i] for i in out.probabilities.argmax(1)]
    relative = lid.classify_batch(padded, lens / 38400.0)
    as_list = lid.classify_batch(waves)
    for i, w in enumerate(waves):
        alone = lid.classify_batch(w[None, :])
        for other in (out, relative, as_list):
            np.testing.assert_allclose(other.scores[i], alone.scores[0], atol=1e-4, rtol=1e-4)
            np.testing.assert_allclose(other.geo_vectors[i], alone.geo_vectors[0], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="relative lengths"):
        lid.classify_batch(padded, np.array([0.5, 1.5, 1.0]))
    with pytest.raises(ValueError, match=r"\(batch, samples\)"):
        lid.classify_batch(padded[0])


def test_predictions_do_not_depend_on_batch_size(lid, tmp_path):
    # lengths within 10% of each other, so predict's planner batches them together
    paths = [str(write(tmp_path / f"{i}.wav", noise(1.0 + 0.011 * i, seed=i))) for i in range(10)]
    one = lid.predict(paths, locate=False, batch_size=1)
    eight = lid.predict(paths, locate=False, batch_size=8)
    for a, b in zip(one, eight):
        assert a.language == b.language
        assert [s.code for s in a.top_k] == [s.code for s in b.top_k]
        np.testing.assert_allclose([s.probability for s in a.top_k], [s.probability for s in b.top_k],
                                   atol=1e-4)
