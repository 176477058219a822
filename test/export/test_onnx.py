"""ONNX export: the same scores as torch (scoring head included: calibration and enrolled
languages), dynamic axes, int8 scopes, the published layout, and the folder rules.

One export of a calibrated, enrolled tiny model per session (tracing takes a while);
int8 is made from that export.
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

from geolid.model.errors import ModelError  # noqa: E402
from geolid.model.folder import MANIFEST_FILE, ONNX_FILE  # noqa: E402

LANGS = ["eng", "fra", "deu", "cmn"]
TEMPERATURE = 2.5


def _clips(n, base, seed=0):
    t = np.arange(16000) / 16000
    rng = np.random.default_rng(seed)
    return [((0.3 * np.sin(2 * np.pi * (base + 15 * i) * t) + 0.01 * rng.standard_normal(16000))
             .astype("float32"), 16000) for i in range(n)]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A tiny model with a calibration, one enrolled language and extra centres for another."""
    from geolid_demo.tiny import make_experiment
    from geolid.inference.api import GeoLID
    from geolid.model.head_state import HeadState, write_head_state

    root = tmp_path_factory.mktemp("src")
    exp = make_experiment(root / "exp" / "lid", LANGS, seed=1)
    write_head_state(exp, HeadState().with_temperature(TEMPERATURE), LANGS)
    lid = GeoLID.from_pretrained(str(root), device="cpu")
    lid.enroll({"amh": _clips(4, 300), "fra": _clips(3, 900, seed=5)})
    return lid.save(tmp_path_factory.mktemp("enrolled") / "model")


@pytest.fixture(scope="module")
def exported(source, tmp_path_factory):
    from geolid.cli.main import main

    out = tmp_path_factory.mktemp("onnx") / "tiny_onnx"
    assert main(["export", str(source), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def torch_lid(source):
    from geolid.inference.api import GeoLID

    return GeoLID.from_pretrained(str(source), device="cpu")


@pytest.fixture(scope="module")
def onnx_lid(exported):
    from geolid.inference.api import GeoLID

    return GeoLID.from_pretrained(str(exported))


def batch(lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    speech = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        speech[i, :n] = 0.1 * torch.randn(n, generator=g)
    return speech, torch.tensor(lengths)


def test_folder_layout(exported, torch_lid):
    names = {p.name for p in exported.iterdir()}
    assert {ONNX_FILE, "config.yaml", "lang2utt", MANIFEST_FILE, "calibration.json", "enrolled.json"} <= names
    assert not any(n.startswith(".") for n in names)
    manifest = json.loads((exported / MANIFEST_FILE).read_text())
    assert manifest["outputs"] == ["scores", "embedding", "lang2vec"]
    assert manifest["quantize"] is None and manifest["num_languages"] == 5
    assert manifest["temperature"] == TEMPERATURE and manifest["head"] == torch_lid.identity().head
    assert [line.split()[0] for line in (exported / "lang2utt").read_text().splitlines()] == LANGS + ["amh"]


@pytest.mark.parametrize("lengths", [[16000], [30000, 12000, 7000], [8000, 8000, 24000]])
def test_onnx_matches_torch_for_any_batch_and_length(onnx_lid, torch_lid, lengths):
    speech, lens = batch(lengths, seed=len(lengths))
    want = torch_lid.classify_batch(speech, lens)
    got = onnx_lid.classify_batch(speech, lens)
    for key in ("scores", "probabilities", "embeddings", "geo_vectors"):
        assert getattr(got, key).shape == getattr(want, key).shape
        assert np.abs(getattr(got, key) - getattr(want, key)).max() <= 1e-3, key
    assert got.languages == want.languages


def test_the_export_keeps_calibration_and_enrolment(onnx_lid, torch_lid):
    """The probabilities of a calibrated, enrolled model survive the export (the head
    is in the graph): the same as torch, and not those of the head-less model."""
    clips = _clips(3, 300, seed=50) + _clips(2, 900, seed=60) + [(batch([40000], seed=7)[0][0].numpy(), 16000)]
    a, b = (m.predict(clips, speech_detector="none") for m in (onnx_lid, torch_lid))  # tones: no speech
    for x, y in zip(a, b):
        assert x.language == y.language
        px, py = ({s.code: s.probability for s in p.top_k} for p in (x, y))
        assert px.keys() == py.keys() and max(abs(px[c] - py[c]) for c in px) <= 1e-3
    assert [p.language for p in a[:3]].count("amh") >= 2   # the enrolled language, in the graph
    logits = torch_lid.classify_batch([clips[-1][0]]).scores[0]
    from geolid.inference.enroll import embedding_logits

    raw = embedding_logits(torch_lid, torch_lid.embed(clips[-1])[None], calibrated=False)
    np.testing.assert_allclose(logits, raw[0] / TEMPERATURE, rtol=1e-4, atol=1e-5)   # T in the scores


def test_geolid_api_runs_the_export_on_cpu(exported, onnx_lid):
    from geolid.inference.onnx_scorer import OnnxScorer

    assert isinstance(onnx_lid.scorer, OnnxScorer) and onnx_lid.languages == LANGS + ["amh"]
    assert onnx_lid.model is None
    with pytest.raises(ValueError, match="CPU only"):
        type(onnx_lid).from_pretrained(str(exported), device="cuda")
    with pytest.raises(ValueError, match="float32 export"):
        type(onnx_lid).from_pretrained(str(exported), quantize="int8")


def test_enrol_and_save_refuse_an_export_with_one_line(onnx_lid, tmp_path):
    from geolid.inference.enroll import EnrollError

    for call in (lambda: onnx_lid.enroll({"amh": _clips(2, 300)}), lambda: onnx_lid.save(tmp_path / "x")):
        with pytest.raises(EnrollError, match="ONNX export: enrol into the model it was exported from"):
            call()


def test_cli_predicts_with_the_export(exported, torch_lid, tmp_path):
    import soundfile as sf

    wav = tmp_path / "clip.wav"
    sf.write(str(wav), batch([32000], seed=3)[0][0].numpy(), 16000)
    proc = subprocess.run([sys.executable, "-m", "geolid.cli.main", "predict", "--model", str(exported),
                           str(wav), "--format", "jsonl", "-q", "--no-location", "--speech-detector", "none"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    want = torch_lid.predict(str(wav), locate=False, speech_detector="none")
    assert record["language"] == want.language
    assert abs(record["probability"] - want.probability) <= 1e-3
    assert record["model"]["head"] == torch_lid.identity().head


def test_out_folder_rules(source, exported, tmp_path, capsys):
    from geolid.cli.main import main

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.yaml").write_text("my own file")
    exp = next(source.glob("*/*/config.yaml")).parent
    for out in (tmp_path / "mine", exp, exp / "onnx", source):
        assert main(["export", str(source), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("not empty" in err or "source model" in err), err
    assert (tmp_path / "mine" / "config.yaml").read_text() == "my own file"
    assert not (exp / MANIFEST_FILE).exists() and not (exp / ONNX_FILE).exists()
    assert main(["export", str(exported), "--out", str(tmp_path / "again")]) == 2
    assert "already an ONNX export" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["empty", "garbage", "missing", "manifest", "external"])
def test_broken_export_folders_are_one_line_errors(exported, tmp_path, damage, capsys):
    import onnx

    from geolid.cli.main import main
    from geolid.inference.api import GeoLID

    broken = tmp_path / "broken"
    shutil.copytree(exported, broken)
    onnx_path = broken / ONNX_FILE
    if damage == "empty":
        onnx_path.write_bytes(b"")
    elif damage == "garbage":
        onnx_path.write_bytes(b"\x00garbage" * 100)
    elif damage == "missing":
        onnx_path.unlink()
    elif damage == "manifest":
        (broken / MANIFEST_FILE).write_text("[1, 2, 3]")
    else:  # weights kept outside the folder (a crafted file: onnx itself refuses to write one)
        model = onnx.load(str(onnx_path))
        onnx.save_model(model, str(onnx_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="w.data", size_threshold=0)
        (broken / "w.data").rename(tmp_path / "outside.data")
        model = onnx.load(str(onnx_path), load_external_data=False)
        for init in model.graph.initializer:
            for entry in init.external_data:
                if entry.key == "location":
                    entry.value = "../outside.data"
        onnx_path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError) as e:
        GeoLID.from_pretrained(str(broken))
    assert "\n" not in str(e.value) and str(broken) in str(e.value)
    wav = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(str(wav), np.zeros(16000, "float32"), 16000)
    assert main(["predict", "--model", str(broken), str(wav), "-q"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("feature_encoder,expected", [
    (True, 4 * 6 + 6),  # q, k, v, out, two feed-forward per layer (4 layers); conv layers 2-7
    (False, 4 * 6),     # int8-transformer: the transformer layers only
])
def test_int8_quantises_only_the_encoder(exported, torch_lid, tmp_path, feature_encoder, expected):
    import onnx

    from geolid.export.onnx import quantize_encoder_matmuls
    from geolid.inference.api import GeoLID

    int8 = tmp_path / "int8"
    int8.mkdir()
    for name in ("config.yaml", "lang2utt", MANIFEST_FILE, "calibration.json", "enrolled.json"):
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
    want = torch_lid.classify_batch(speech, lens)
    got = GeoLID.from_pretrained(str(int8)).classify_batch(speech, lens)
    cos = torch.nn.functional.cosine_similarity(torch.from_numpy(got.embeddings), torch.from_numpy(want.embeddings))
    assert cos.min().item() > 0.99


def _scope(node):
    from geolid.export.onnx import _scope as scope

    return scope(node)


def test_published_layout_exports(tmp_path):
    """A published VoxLingua107-only repo ships no lang2utt: the export writes the shipped order."""
    from geolid_demo.tiny import make_experiment
    from geolid.export.onnx import export_model
    from geolid.inference.api import GeoLID
    from geolid.published import PUBLISHED_MODELS, VL107_CLASS_ORDER

    vl107 = PUBLISHED_MODELS["espnet/geolid_vl107only_shared_trainable"]
    root = tmp_path / "dl"
    make_experiment(root / vl107.exp_dir, list(VL107_CLASS_ORDER), lang2utt_relpath=vl107.lang2utt,
                    geo=False)
    (root / vl107.lang2utt).unlink()
    out = export_model(str(root), tmp_path / "onnx", quantize="int8-transformer")
    lid = GeoLID.from_pretrained(str(out))
    assert lid.languages == list(VL107_CLASS_ORDER)
    assert lid.classify_batch(*batch([16000], seed=2)).probabilities.shape == (1, 107)


def test_onnx_threads_do_not_spin_unless_asked(exported):
    from geolid.inference.onnx_scorer import OnnxScorer

    manifest = json.loads((exported / MANIFEST_FILE).read_text())
    languages = (exported / "lang2utt").read_text().split()

    def spinning(scorer) -> bool:  # ONNX Runtime spins unless the entry says "0"
        options = scorer.session.get_session_options()
        try:
            return options.get_session_config_entry("session.intra_op.allow_spinning") != "0"
        except RuntimeError:  # no entry: ONNX Runtime's default
            return True

    assert not spinning(OnnxScorer(exported / ONNX_FILE, languages, manifest, threads=1))
    assert spinning(OnnxScorer(exported / ONNX_FILE, languages, manifest, threads=1, spin=True))
