"""ONNX export of a tiny random geo model: same scores as torch, dynamic axes, CLI.

One export per session (tracing takes a while); int8 is made from that export.
"""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from geolid.export import MANIFEST_FILE, ONNX_FILE  # noqa: E402

LANGS = ["eng", "fra", "deu", "cmn"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from geolid.demo.tiny import make_experiment

    root = tmp_path_factory.mktemp("src")
    make_experiment(root / "exp" / "lid", LANGS, seed=1)
    return root


@pytest.fixture(scope="module")
def exported(source, tmp_path_factory):
    from geolid.cli.main import main

    out = tmp_path_factory.mktemp("onnx") / "tiny_onnx"
    assert main(["export", str(source), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def torch_model(source):
    from geolid.inference.api import GeoLID

    return GeoLID.from_pretrained(str(source), device="cpu").model


def batch(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    speech = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        speech[i, :n] = 0.1 * torch.randn(n, generator=g)
    return speech, torch.tensor(lengths)


def test_folder_layout(exported):
    names = {p.name for p in exported.iterdir()}
    assert {ONNX_FILE, "config.yaml", "lang2utt", MANIFEST_FILE} <= names
    assert not any(n.startswith(".export-") for n in names)
    manifest = json.loads((exported / MANIFEST_FILE).read_text())
    assert manifest["outputs"] == ["scores", "embedding", "lang2vec"]
    assert manifest["quantize"] is None and manifest["num_languages"] == 4
    assert [line.split()[0] for line in (exported / "lang2utt").read_text().splitlines()] == LANGS


@pytest.mark.parametrize("lengths", [[16000], [30000, 12000, 7000], [8000, 8000, 24000]])
def test_onnx_matches_torch_for_any_batch_and_length(exported, torch_model, lengths):
    from geolid.export.runtime import OnnxScorer
    scorer = OnnxScorer(exported / ONNX_FILE)
    speech, lens = batch(lengths, seed=len(lengths))
    with torch.inference_mode():
        want = torch_model.score(speech, lens)
    got = scorer.score(speech, lens)
    for key in ("scores", "embedding", "lang2vec"):
        assert got[key].shape == want[key].shape
        assert (got[key] - want[key]).abs().max().item() <= 1e-3, key
    assert torch.equal(got["pred_lids"], want["pred_lids"])


def test_geolid_api_runs_the_export_on_cpu(exported, source):
    from geolid.export.runtime import OnnxScorer
    from geolid.inference.api import GeoLID

    onnx_lid = GeoLID.from_pretrained(str(exported))
    assert isinstance(onnx_lid.model, OnnxScorer) and onnx_lid.languages == LANGS
    torch_lid = GeoLID.from_pretrained(str(source), device="cpu")
    wave = batch([40000], seed=7)[0][0].numpy()
    a, b = onnx_lid.predict(wave, sample_rate=16000), torch_lid.predict(wave, sample_rate=16000)
    assert a.language == b.language
    assert abs(a.probability - b.probability) <= 1e-3
    np.testing.assert_allclose(a.geo_vector, b.geo_vector, atol=1e-3)
    with pytest.raises(ValueError, match="CPU only"):
        GeoLID.from_pretrained(str(exported), device="cuda")
    with pytest.raises(ValueError, match="float32 export"):
        GeoLID.from_pretrained(str(exported), quantize="int8")


def test_cli_predicts_with_the_export(exported, source, tmp_path):
    import soundfile as sf

    from geolid.inference.api import GeoLID

    wav = tmp_path / "clip.wav"
    sf.write(str(wav), batch([32000], seed=3)[0][0].numpy(), 16000)
    proc = subprocess.run([sys.executable, "-m", "geolid.cli.main", "predict", "--model", str(exported),
                           str(wav), "--format", "jsonl", "-q", "--no-location"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    want = GeoLID.from_pretrained(str(source), device="cpu").predict(str(wav), locate=False)
    assert record["language"] == want.language
    assert abs(record["probability"] - want.probability) <= 1e-3


@pytest.mark.parametrize("feature_encoder,expected", [
    (True, 4 * 6 + 6),  # q, k, v, out, two feed-forward per layer (4 layers); conv layers 2-7
    (False, 4 * 6),     # int8-transformer: the transformer layers only
])
def test_int8_quantises_only_the_encoder(exported, torch_model, tmp_path, feature_encoder, expected):
    import onnx

    from geolid.export.onnx import quantize_encoder_matmuls
    from geolid.export.runtime import OnnxScorer
    int8 = tmp_path / "int8"
    int8.mkdir()
    for name in ("config.yaml", "lang2utt", MANIFEST_FILE):
        shutil.copy(exported / name, int8 / name)
    nodes = quantize_encoder_matmuls(exported / ONNX_FILE, int8 / ONNX_FILE,
                                     feature_encoder=feature_encoder)
    assert len(nodes) == expected
    graph = onnx.load(str(int8 / ONNX_FILE)).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("MatMulInteger") == expected and "MatMul" in ops  # heads stay float
    # the waveform layer (channel_last_layers.0) is never quantised
    first = [n for n in graph.node if "channel_last_layers.0:" in _scope(n) and "MatMul" in n.op_type]
    assert [n.op_type for n in first] == ["MatMul"]
    condproj = [i for i in graph.initializer if "lang2vec_conditioning_projs" in i.name]
    assert condproj and all(i.data_type == onnx.TensorProto.FLOAT for i in condproj)
    speech, lens = batch([24000, 16000], seed=5)
    with torch.inference_mode():
        want = torch_model.score(speech, lens)
    got = OnnxScorer(int8 / ONNX_FILE).score(speech, lens)
    cos = torch.nn.functional.cosine_similarity(got["embedding"], want["embedding"])
    assert cos.min().item() > 0.99


def _scope(node):
    from geolid.export.onnx import _scope as scope

    return scope(node)


def test_int8_transformer_export_loads_as_int8(source, tmp_path):
    from geolid.cli.main import main
    from geolid.inference.api import GeoLID

    out = tmp_path / "int8_transformer"
    assert main(["export", str(source), "--out", str(out), "--quantize", "int8-transformer"]) == 0
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["quantize"] == "int8-transformer" and manifest["opset"] == 20
    lid = GeoLID.from_pretrained(str(out), quantize="int8")  # asking for int8 accepts either scope
    assert lid.model.manifest["quantize"] == "int8-transformer"
    scores = lid.model.score(*batch([16000, 9000], seed=3))["scores"]
    assert scores.shape == (2, len(LANGS)) and torch.isfinite(scores).all()


def test_onnx_threads_do_not_spin_unless_asked(exported):
    from geolid.export.runtime import OnnxScorer

    def spinning(scorer) -> bool:  # ONNX Runtime spins unless the entry says "0"
        options = scorer.session.get_session_options()
        try:
            return options.get_session_config_entry("session.intra_op.allow_spinning") != "0"
        except RuntimeError:  # no entry: ONNX Runtime's default
            return True

    assert not spinning(OnnxScorer(exported / ONNX_FILE, threads=1))
    assert spinning(OnnxScorer(exported / ONNX_FILE, threads=1, spin=True))
