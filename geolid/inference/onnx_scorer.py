"""An exported folder run with ONNX Runtime on CPU: the :class:`~geolid.inference.scorer.Scorer`
protocol over an ``InferenceSession``.

The graph (written by :mod:`geolid.export.onnx`) is the whole of ``model.score``,
scoring head included, so its ``scores`` already carry the model's temperature,
extra centres and offsets: the same logits as :class:`TorchScorer` (to 1e-3 in
fp32, tested). Only the session is here; the pipeline above it is shared.

``spin=False`` (the default) lets ONNX Runtime's worker threads sleep when idle
instead of spinning. On small or shared machines spinning threads take the cores
from the next run (and from torch's own threads, which the pipeline runs between
utterances for audio and speech detection): bench/gemm_ceiling.py measured int8
GEMMs 1.8x faster with it off on a 2-core VM.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence


from geolid.inference.scorer import BatchOutput, as_batch
from geolid.model.errors import ModelError


class OnnxScorer:
    device = "cpu"
    dtype = "float32"
    on_gpu = False

    def __init__(self, onnx_path, languages: Sequence[str], manifest: dict,
                 threads: Optional[int] = None, spin: bool = False):
        self.path = Path(onnx_path)
        self.languages = list(languages)
        self.manifest = dict(manifest)
        self.geo_type = manifest.get("geo_type")
        check_external_data(self.path)
        self.session = _session(self.path, threads, spin)
        self.output_names = [o.name for o in self.session.get_outputs()]
        n_out = self.session.get_outputs()[0].shape[-1]
        if isinstance(n_out, int) and n_out != len(self.languages):
            raise ModelError(f"{self.path} scores {n_out} languages but its class order lists "
                             f"{len(self.languages)}; export the model again")

    @property
    def quantize(self) -> Optional[str]:
        return self.manifest.get("quantize")

    def classify_batch(self, wavs, wav_lens=None) -> BatchOutput:
        speech, lengths = as_batch(wavs, wav_lens, "cpu")
        # the graph takes the padded width as the longest input's length
        speech = speech[:, : int(lengths.max())].contiguous()
        outs = dict(zip(self.output_names, self.session.run(
            None, {"speech": speech.numpy(), "lengths": lengths.numpy()})))
        return BatchOutput.from_arrays(outs["scores"], outs["embedding"], outs.get("lang2vec"),
                                       self.languages)

    def __repr__(self) -> str:
        return f"OnnxScorer({str(self.path)!r}, quantize={self.quantize})"


def _session(path: Path, threads: Optional[int], spin: bool):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError(f"{path}: running an ONNX export needs onnxruntime (pip install "
                         "'geolid-espnet[export]')") from None
    from geolid.utils.threads import CoreShare, apply_to_onnxruntime

    options = ort.SessionOptions()
    share = CoreShare.active()
    if threads:
        options.intra_op_num_threads = int(threads)
    elif share is not None:   # sized by the run's share of the cores (its pool is fixed at creation)
        apply_to_onnxruntime(options, share)
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own Fail / InvalidProtobuf / ... types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise ModelError(f"{path}: not a loadable ONNX graph ({first}); export the model again "
                         "(`geolid export MODEL --out DIR`)", str(e)) from None


def check_external_data(path: Path) -> None:
    """Refuse an export whose weights file lies outside its folder (``../..``, absolute)."""
    try:
        import onnx
        from onnx.external_data_helper import uses_external_data
    except ImportError:
        return  # onnxruntime alone: it resolves relative to the model's folder itself
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ModelError(f"{path}: not an ONNX graph ({type(e).__name__}); export the model again") from None
    folder = path.parent.resolve()
    for init in model.graph.initializer:
        if not uses_external_data(init):
            continue
        location = next((e.value for e in init.external_data if e.key == "location"), "")
        target = (path.parent / location).resolve()
        if Path(location).is_absolute() or folder not in target.parents:
            raise ModelError(f"{path}: tensor '{init.name}' keeps its data outside the export folder "
                             f"({location}); an export must hold its own files: export it again")
