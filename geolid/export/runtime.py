"""Running an exported folder with ONNX Runtime on CPU, behind the torch model's API.

:class:`OnnxScorer` has the ``score(speech, lengths) -> dict`` of the torch
model (``scores``, ``embedding``, ``pred_lids`` and, for geo models,
``lang2vec``), so :class:`geolid.inference.api.GeoLID` runs either unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from geolid.export import MANIFEST_FILE


class OnnxScorer:
    """An ONNX Runtime session with the torch model's ``score`` contract.

    ``spin=False`` (the default) lets ONNX Runtime's worker threads sleep when
    idle instead of spinning. On small or shared machines spinning threads
    take the cores from the next run (and from torch's own threads, which the
    pipeline runs between utterances for audio and VAD): bench/gemm_ceiling.py
    measured int8 GEMMs 1.8x faster with it off on a 2-core VM.
    """

    def __init__(self, onnx_path, threads: Optional[int] = None, spin: bool = False):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(onnx_path)
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]
        manifest = self.path.parent / MANIFEST_FILE
        self.manifest = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}

    def score(self, speech, lengths) -> Dict[str, "object"]:
        import torch

        lengths = torch.as_tensor(lengths).to(torch.int64).cpu()
        # the graph takes the padded width as the longest input's length
        speech = torch.as_tensor(speech)[:, : int(lengths.max())].float().cpu().contiguous()
        outs = self.session.run(None, {"speech": speech.numpy(), "lengths": lengths.numpy()})
        result = {name: torch.from_numpy(np.asarray(o)) for name, o in zip(self.output_names, outs)}
        result["pred_lids"] = result["scores"].argmax(dim=-1)
        return result

    # what GeoLID calls on a torch model
    def eval(self) -> "OnnxScorer":
        return self

    def to(self, device) -> "OnnxScorer":
        if str(device) != "cpu":
            raise ValueError(f"{self.path}: an ONNX export runs on CPU only (asked for {device}); "
                             "use the source model for GPUs")
        return self

    def __repr__(self) -> str:
        return f"OnnxScorer({str(self.path)!r}, quantize={self.manifest.get('quantize')})"


def load_onnx(cls, files, device: Optional[str], dtype: str, quantize: Optional[str],
              threads: Optional[int] = None):
    """``cls`` (GeoLID) around an exported folder found by ``locate_model``."""
    if device not in (None, "cpu"):
        raise ValueError(f"{files.model}: an ONNX export runs on CPU only (asked for {device}); "
                         "use the source model for GPUs")
    if dtype not in ("auto", "float32"):
        raise ValueError(f"{files.model}: an ONNX export runs in float32 (asked for {dtype})")
    scorer = OnnxScorer(files.model, threads)
    exported_as = scorer.manifest.get("quantize") or ""
    if quantize not in (None, "none") and not exported_as.startswith(quantize):  # int8-* is int8
        raise ValueError(f"{files.model} is a {scorer.manifest.get('quantize') or 'float32'} export; "
                         f"for {quantize}, export with `geolid export --quantize {quantize}`")
    n_out = scorer.session.get_outputs()[0].shape[-1]
    if isinstance(n_out, int) and n_out != len(files.languages):
        raise ValueError(f"{files.model} scores {n_out} languages but {files.lang2utt} lists "
                         f"{len(files.languages)}")
    geo_type = scorer.manifest.get("geo_type")
    return cls(scorer, files, device="cpu", dtype="float32", geo_type=geo_type)
