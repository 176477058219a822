"""``geolid export``: a geolid model as one ONNX graph, optionally int8.

The graph is the whole scoring path of :meth:`model.score` (geolid.lid.espnet_model):
waveform normalisation, wav2vec2 with the geo-conditioning hooks, the weighted
layer sum, ECAPA-TDNN, pooling, projector, the scoring head (sub-centre cosines,
enrolled extra centres and offsets, the calibration temperature: constants of the
graph) and the geo head. Inputs ``speech`` (B, T) float32 zero-padded to the
longest and ``lengths`` (B,) int64; outputs ``scores`` (B, n_lang), ``embedding``
(B, D) and, for geo models, ``lang2vec`` (B, geo_dim). Batch and time are dynamic.

The export folder is a model folder (:mod:`geolid.model.folder`): ``model.onnx``,
``geolid_onnx.json``, the source's ``config.yaml``, its class order as ``lang2utt``
and the head's side files (which describe what the graph holds, and make the
export's identity). ``--out`` must be a new or empty folder (``--overwrite`` to
replace an export), never the source model's.

It is written by ``torch.onnx.export(dynamo=True)`` (``torch.export``
tracing; the legacy TorchScript exporter is deprecated), at opset 20 so that
GELU is one node. Before tracing, :func:`prepare_for_export` swaps in two
equivalent computations that run faster in ONNX Runtime (bench/onnx_speed.py):

* attention in transformers' "eager" form. Its "sdpa" form, which torch runs
  faster, becomes a mask-building ``Where`` and a NaN-guarding ``IsNaN``/``Where``
  per layer in ONNX; eager adds one float mask, built once.
* the conv feature encoder as channel-last MatMuls
  (:mod:`geolid.export.feature_encoder`): no transposes around its LayerNorms,
  and MatMuls that int8 quantisation can take.

Int8 is ONNX Runtime's dynamic quantisation (int8 weights, per-utterance uint8
activations) of the MatMuls that hold almost all the compute:

* ``quantize="int8"``: the wav2vec2 transformer layers and the feature
  encoder's layers 2-7 (the fastest);
* ``quantize="int8-transformer"``: the transformer layers only, a little slower
  and a little closer to float (docs/export.md has both, measured).

The waveform layer (kernel 10 on raw samples, little compute), the positional
convolution, the shared CondProj Gemm (on which ``quantize_dynamic`` fails) and
the small heads stay float, so the scores keep their scale.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import List, Optional

import torch
import yaml

from geolid.export import FORMAT_VERSION
from geolid.export.feature_encoder import SCOPE as FEATURE_SCOPE
from geolid.export.feature_encoder import ChannelLastFeatureEncoder
from geolid.model.errors import ModelError
from geolid.model.folder import MANIFEST_FILE, ONNX_FILE

logger = logging.getLogger(__name__)

OPSET = 20  # the first with a GELU operator
TWO_GB = 2 * 1024 ** 3
ENCODER_LAYERS_SCOPE = "upstream.upstream.model.encoder.layers."  # wav2vec2 transformer layers
# feature-encoder layers after the first (which sees the raw waveform)
FEATURE_LAYERS_SCOPE = re.compile(re.escape(FEATURE_SCOPE) + r"\.([1-9]\d*):")
QUANTIZE_CHOICES = ("int8", "int8-transformer")


class ExportError(ModelError):
    """The model cannot be exported as asked; the message says why."""


class ScoringGraph(torch.nn.Module):
    """``model.score`` as a module with tensor outputs (what ONNX export traces)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.has_geo = hasattr(model.loss, "predict_lang2vec")  # the no-geo baseline has none

    def output_names(self) -> List[str]:
        return ["scores", "embedding"] + (["lang2vec"] if self.has_geo else [])

    def forward(self, speech: torch.Tensor, lengths: torch.Tensor):
        out = self.model.score(speech, lengths)
        return tuple(out[name] for name in self.output_names())


def export_model(model_name_or_path: str, out_dir, quantize: Optional[str] = None,
                 opset: int = OPSET, overwrite: bool = False) -> Path:
    """Export a model (anything ``GeoLID.from_pretrained`` accepts) to ``out_dir``."""
    from geolid.model.folder import ModelFolder, check_output_folder, write_folder
    from geolid.model.loading import load_torch_model

    if quantize not in (None, "none") + QUANTIZE_CHOICES:
        raise ExportError(f"quantize must be one of {QUANTIZE_CHOICES} or None, got '{quantize}'")
    quantize = None if quantize == "none" else quantize
    folder = ModelFolder.open(str(model_name_or_path))
    if folder.is_export:
        raise ExportError(f"{model_name_or_path} is already an ONNX export; export the source "
                          "model again (with --quantize int8 for int8)")
    check_output_folder(out_dir, [folder.exp], overwrite)   # before minutes of tracing
    model = load_torch_model(folder)
    graph = ScoringGraph(prepare_for_export(model)).eval()

    def fill(work: Path) -> None:
        fp32 = work / ONNX_FILE
        trace_onnx(graph, fp32, opset, _param_bytes(model) > TWO_GB)
        if quantize:
            int8 = work / "int8" / ONNX_FILE
            int8.parent.mkdir()
            quantize_encoder_matmuls(fp32, int8, feature_encoder=quantize == "int8")
            for p in work.glob(ONNX_FILE + "*"):
                p.unlink()
            for p in int8.parent.iterdir():
                p.rename(work / p.name)
            int8.parent.rmdir()
        _write_side_files(work, folder, graph, quantize, opset)

    return write_folder(out_dir, fill, overwrite=overwrite, sources=[folder.exp])


def prepare_for_export(model: torch.nn.Module) -> torch.nn.Module:
    """Swap in the ONNX-friendly equivalents (module docstring) in place; returns ``model``.

    Only for a model built to be exported: it changes how torch runs it too
    (eager attention is slower in torch).
    """
    from transformers import Wav2Vec2Model

    encoders = [m for m in model.modules() if isinstance(m, Wav2Vec2Model)]
    if not encoders:
        raise ExportError("the model holds no transformers Wav2Vec2Model to export")
    for encoder in encoders:
        if hasattr(encoder, "set_attn_implementation"):
            encoder.set_attn_implementation("eager")
        else:  # transformers before the setter
            encoder.config._attn_implementation = "eager"
        if not isinstance(encoder.feature_extractor, ChannelLastFeatureEncoder):
            encoder.feature_extractor = ChannelLastFeatureEncoder(encoder.feature_extractor)
    return model


def trace_onnx(graph: ScoringGraph, path: Path, opset: int = OPSET, external_data: bool = False) -> None:
    """``torch.onnx.export`` with dynamic batch and time axes."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    time = torch.export.Dim("time", min=800, max=16000 * 3600)
    speech = torch.randn(2, 24000)
    lengths = torch.tensor([24000, 17000])
    with torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(
            graph, (speech, lengths), dynamo=True, opset_version=opset,
            input_names=["speech", "lengths"], output_names=graph.output_names(),
            dynamic_shapes={"speech": {0: batch, 1: time}, "lengths": {0: batch}},
            report=False, verbose=False)
    program.save(str(path), external_data=external_data)


def quantize_encoder_matmuls(src: Path, dst: Path, feature_encoder: bool = True) -> List[str]:
    """Dynamic int8 of the encoder's MatMuls (module docstring); the quantised node names.

    ``feature_encoder=False`` leaves the conv feature encoder in float.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    model = onnx.load(str(src), load_external_data=False)
    weights = {init.name for init in model.graph.initializer}
    nodes = [n.name for n in model.graph.node
             if n.op_type == "MatMul" and len(n.input) == 2 and n.input[1] in weights
             and _quantised_scope(_scope(n), feature_encoder)]
    if not nodes:
        raise ExportError(f"{src}: found no wav2vec2 encoder-layer MatMul to quantise")
    external = src.with_name(src.name + ".data").exists()
    quantize_dynamic(str(src), str(dst), op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes,
                     weight_type=QuantType.QInt8, per_channel=False,
                     use_external_data_format=external)
    return nodes


def _quantised_scope(scope: str, feature_encoder: bool) -> bool:
    if ENCODER_LAYERS_SCOPE in scope:
        return True
    return feature_encoder and FEATURE_LAYERS_SCOPE.search(scope) is not None


def _scope(node) -> str:
    """The module path the dynamo exporter records on each node."""
    for prop in node.metadata_props:
        if prop.key in ("namespace", "pkg.torch.onnx.name_scopes"):
            return prop.value
    return ""


def _param_bytes(model: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def _write_side_files(folder_out: Path, folder, graph: ScoringGraph,
                      quantize: Optional[str], opset: int) -> None:
    """config.yaml, lang2utt, the head's side files and the manifest of an export."""
    from geolid.model.head_state import write_head_state

    (folder_out / "lang2utt").write_text("".join(f"{c}\n" for c in folder.languages), encoding="utf-8")
    config = dict(folder.config, lang2utt="lang2utt", lang_num=len(folder.languages))
    with (folder_out / "config.yaml").open("w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    write_head_state(folder_out, folder.head, folder.languages)
    manifest = {
        "format": "geolid-onnx", "version": FORMAT_VERSION, "onnx": ONNX_FILE,
        "source": folder.source, "quantize": quantize, "opset": opset,
        "inputs": {"speech": "float32 (batch, time) 16 kHz, zero-padded to the longest",
                   "lengths": "int64 (batch,) valid samples"},
        "outputs": graph.output_names(), "num_languages": len(folder.languages),
        "geo_type": folder.geo_type if graph.has_geo else None,
        "temperature": folder.head.temperature, "head": folder.head.fingerprint(),
        "scale": folder.head_scale,
        "torch": torch.__version__,
    }
    with (folder_out / MANIFEST_FILE).open("w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
