"""``GeoLID``: language ID, top-k scores and a predicted location for your own audio.

    >>> from geolid import GeoLID
    >>> lid = GeoLID.from_pretrained("espnet/geolid_combined_shared_trainable")
    >>> p = lid.predict("clip.flac", top_k=5)
    >>> p.language, p.probability, p.location
    >>> lid.embed("clip.flac").shape        # (192,)

How inputs flow: each input becomes a *source* (a file read by span, or an
in-memory 16 kHz waveform) with its windows (one unless it is longer than the
window); windows of many sources are batched by length, run under
``torch.inference_mode`` (and bf16/fp16 autocast on GPU), and the outputs are
aggregated per source. A bad input becomes a failed :class:`Prediction` and the
others go on.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from geolid.inference.audio import TARGET_SR, AudioError, AudioInfo, audio_info, read_span, to_mono_16k
from geolid.inference.batching import DEFAULT_BATCH_SECONDS, collate, plan_for_device
from geolid.inference.hub import DEFAULT_MODEL, ModelFiles, locate_model
from geolid.inference.results import UNKNOWN, LanguageScore, Location, Prediction, Segment, language_name
from geolid.inference.windowing import Window, aggregate, windows_for, windows_for_array

logger = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "bfloat16", "float16")
CHUNK_SOURCES = 64  # sources prepared, batched and finished together


@dataclass
class _Source:
    key: str
    path: Optional[str] = None
    info: Optional[AudioInfo] = None
    wave: Optional[object] = None             # 16 kHz 1-D tensor for in-memory inputs
    windows: List[Window] = field(default_factory=list)
    outputs: Dict[int, Tuple[np.ndarray, ...]] = field(default_factory=dict)
    error: Optional[str] = None

    @property
    def n_samples(self) -> int:
        return self.info.frames_16k if self.info is not None else int(self.wave.shape[-1])

    def read(self, w: Window):
        if self.wave is not None:
            return self.wave[w.start:w.end]
        return read_span(self.info, w.start, w.end)


@dataclass
class InferenceOptions:
    """How inputs are cut and batched (the CLI's flags of the same names)."""

    window: float = 30.0            # seconds; longer inputs are split
    overlap: float = 5.0            # seconds between fixed windows
    vad: bool = False               # cut windows at pauses instead
    # None: 1 on CPU (batching does not pay there, and the published models'
    # padded-batch outputs differ slightly from single runs); on GPU, as many
    # windows as fit in batch_seconds of padded audio.
    batch_size: Optional[int] = None
    batch_seconds: float = DEFAULT_BATCH_SECONDS  # padded audio per batch


class GeoLID:
    """A loaded geolid (or plain ESPnet LID) model, ready for inference."""

    def __init__(self, model, files: ModelFiles, device: str = "cpu", dtype: str = "auto",
                 geo_type: Optional[str] = "geo"):
        import torch

        self.model = model.eval()
        self.files = files
        self.languages: List[str] = list(files.languages)
        self.device = torch.device(device)
        self.dtype = _resolve_dtype(dtype, self.device)
        self.geo_type = geo_type
        self._decoder = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, name_or_path: str = DEFAULT_MODEL, device: Optional[str] = None,
                        dtype: str = "auto", quantize: Optional[str] = None,
                        revision: Optional[str] = None, cache_dir: Optional[str] = None) -> "GeoLID":
        """Load a model by Hugging Face repo id, published-layout folder, experiment
        folder or ``.pth`` file.

        ``device``: "cpu", "cuda", "cuda:1", ... (default: cuda if available).
        ``dtype``: "auto" (bf16 autocast on GPU, fp32 on CPU), "float32",
        "bfloat16" or "float16". ``quantize="int8"``: dynamic int8 encoder (CPU).
        Offline and not cached, raises :class:`~geolid.inference.hub.ModelNotFoundError`
        naming the command that fetches the model.
        """
        import torch

        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got '{dtype}'")
        if quantize not in (None, "none", "int8"):
            raise ValueError(f"quantize must be 'int8' or None, got '{quantize}'")
        files = locate_model(name_or_path, revision=revision, cache_dir=cache_dir)
        # --- ONNX export (geolid.export): run it with ONNX Runtime on CPU ---
        if files.model.suffix == ".onnx":
            from geolid.export.runtime import load_onnx

            return load_onnx(cls, files, device, dtype, quantize)
        # --- end ONNX export ---
        if device is None:
            device = "cuda" if torch.cuda.is_available() and quantize != "int8" else "cpu"
        if quantize == "int8" and torch.device(device).type != "cpu":
            raise ValueError("int8 dynamic quantisation runs on CPU only; use --device cpu "
                             "or --dtype bfloat16 on GPU")
        conf = files.resolved_config()
        from geolid.tasks.build import build_model_from_args  # torch/ESPnet layers: seconds, only here

        model, _ = build_model_from_args(argparse.Namespace(**conf), files.model, "cpu")
        n_out = model.loss.weight.shape[0] // int(getattr(model.loss, "K", 1))
        if n_out != len(files.languages):
            raise ValueError(f"{files.model} scores {n_out} languages but {files.lang2utt} lists "
                             f"{len(files.languages)}")
        model.eval()
        if quantize == "int8":
            from geolid.inference.quantize import quantize_int8

            quantize_int8(model)
        loss_conf = conf.get("loss_conf") or {}
        geo_type = loss_conf.get("lang2vec_type", "geo") if hasattr(model, "score") else None
        return cls(model.to(device), files, device=device, dtype=dtype, geo_type=geo_type)

    # --------------------------------------------------------------- public API
    def predict(self, x, sample_rate: Optional[int] = None, top_k: int = 5,
                reject_below: Optional[float] = None, segments: bool = False, locate: bool = True,
                options: Optional[InferenceOptions] = None, progress: bool = False
                ) -> Union[Prediction, List[Prediction]]:
        """Top-k languages, geo vector and location for one input or a list.

        ``x``: a path, a waveform (numpy / torch, 1-D or 2-D) with ``sample_rate``,
        a ``(waveform, sample_rate)`` tuple, or a list of these. One input: a
        :class:`Prediction` (a bad input raises :class:`AudioError`); a list: a
        list in the same order, where bad inputs have ``error`` set.
        ``reject_below``: label ``unknown`` when the top probability is below it.
        """
        single = not isinstance(x, list)
        inputs = [x] if single else x
        out = list(self.predict_iter(self._keyed(inputs), sample_rate, top_k, reject_below,
                                     segments, locate, options, progress))
        if single:
            if out[0].error:
                raise AudioError(out[0].key, out[0].error)
            return out[0]
        failed = [p for p in out if p.error]
        if failed:
            logger.warning("%d of %d inputs failed:\n  %s", len(failed), len(out),
                           "\n  ".join(f"{p.key}: {p.error}" for p in failed))
        return out

    def embed(self, x, sample_rate: Optional[int] = None,
              options: Optional[InferenceOptions] = None) -> np.ndarray:
        """Language embedding(s): (D,) for one input, (N, D) for a list (D = 192
        for the published models). Long inputs: duration-weighted mean over windows."""
        single = not isinstance(x, list)
        inputs = [x] if single else x
        rows = []
        for chunk in _chunks(self._keyed(inputs), CHUNK_SOURCES):
            for src in self._run(chunk, sample_rate, options or InferenceOptions()):
                if src.error:
                    raise AudioError(src.key, src.error)
                rows.append(aggregate(self._stack(src, 2), src.windows).astype(np.float32))
        return rows[0] if single else np.stack(rows)

    def predict_iter(self, keyed_inputs: Iterable[Tuple[str, object]],
                     sample_rate: Optional[int] = None, top_k: int = 5,
                     reject_below: Optional[float] = None, segments: bool = False,
                     locate: bool = True, options: Optional[InferenceOptions] = None,
                     progress: Union[bool, object] = False) -> Iterator[Prediction]:
        """Like :meth:`predict` over ``(key, input)`` pairs, yielding each
        :class:`Prediction` as soon as its chunk of inputs is done (for resumable
        writers). ``progress``: True for a tqdm bar, or a tqdm to update."""
        if reject_below is not None and not 0.0 <= reject_below <= 1.0:
            raise ValueError(f"reject_below must be a probability in [0, 1], got {reject_below}")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        options = options or InferenceOptions()
        bar = _progress_bar(progress)
        try:
            for chunk in _chunks(keyed_inputs, CHUNK_SOURCES):
                sources = self._run(chunk, sample_rate, options)
                yield from self._finish(sources, top_k, reject_below, segments, locate)
                if bar is not None:
                    bar.update(len(sources))
        finally:
            if bar is not None and progress is True:
                bar.close()

    def language_names(self) -> List[str]:
        return [language_name(c) for c in self.languages]

    # ------------------------------------------------------------------ running
    def _keyed(self, inputs: Sequence) -> List[Tuple[str, object]]:
        return [(_default_key(x, i), x) for i, x in enumerate(inputs)]

    def _prepare(self, key: str, x, sample_rate: Optional[int], options: InferenceOptions) -> _Source:
        import torch

        if isinstance(x, (str, os.PathLike)):
            info = audio_info(x)
            return _Source(key, str(x), info=info,
                           windows=windows_for(info, options.window, options.overlap, options.vad))
        sr = sample_rate
        if isinstance(x, tuple) and len(x) == 2:
            x, sr = x
        if not isinstance(x, (np.ndarray, torch.Tensor)):
            raise AudioError(key, f"unsupported input type {type(x).__name__}: give a path, a "
                                  "numpy/torch waveform with its sample rate, or a list of these")
        wave = to_mono_16k(x, sr, key)
        return _Source(key, wave=wave,
                       windows=windows_for_array(wave, options.window, options.overlap, options.vad))

    def _run(self, chunk: Sequence[Tuple[str, object]], sample_rate: Optional[int],
             options: InferenceOptions) -> List[_Source]:
        """Prepare the chunk's sources and fill their per-window outputs."""
        sources: List[_Source] = []
        for key, x in chunk:
            try:
                sources.append(self._prepare(key, x, sample_rate, options))
            except AudioError as e:
                sources.append(_Source(key, str(x) if isinstance(x, (str, os.PathLike)) else None,
                                       error=e.reason))
        items = [(si, wi) for si, s in enumerate(sources) if not s.error
                 for wi in range(len(s.windows))]
        lengths = [sources[si].windows[wi].length for si, wi in items]
        for batch in plan_for_device(lengths, self._on_gpu(), options.batch_size,  # GPU: by seconds
                                     options.batch_seconds, TARGET_SR):
            self._run_batch([items[i] for i in batch], sources)
        return sources

    def _on_gpu(self) -> bool:
        import torch

        return torch.device(self.device).type == "cuda"

    def _run_batch(self, batch: Sequence[Tuple[int, int]], sources: List[_Source]) -> None:
        import torch

        from geolid.lid.scoring import score_batch

        kept, waves = [], []
        for si, wi in batch:
            src = sources[si]
            if src.error:  # an earlier window of this file was bad
                continue
            try:
                waves.append(src.read(src.windows[wi]))
                kept.append((si, wi))
            except AudioError as e:
                src.error = e.reason
        kept_ok = [(k, w) for k, w in zip(kept, waves) if not sources[k[0]].error]
        if not kept_ok:
            return
        speech, lengths = collate([w for _, w in kept_ok], self.device)
        with torch.inference_mode(), self._autocast():
            out = score_batch(self.model, speech, lengths)
        probs = torch.softmax(out["scores"].float(), dim=-1)
        geo = out.get("lang2vec")
        parts = [probs, out["embedding"].float()] + ([geo.float()] if geo is not None else [])
        host = torch.cat(parts, dim=1).cpu().numpy()  # one device->host copy per batch
        n_lang, n_emb = probs.shape[1], out["embedding"].shape[1]
        for row, ((si, wi), _) in enumerate(kept_ok):
            h = host[row]
            sources[si].outputs[wi] = (h[:n_lang], h[n_lang + n_emb:] if geo is not None else None,
                                       h[n_lang:n_lang + n_emb])

    def _autocast(self):
        import torch

        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, self.dtype))

    @staticmethod
    def _stack(src: _Source, part: int) -> np.ndarray:
        return np.stack([src.outputs[i][part] for i in range(len(src.windows))])

    # --------------------------------------------------------------- finishing
    def _finish(self, sources: List[_Source], top_k: int, reject_below: Optional[float],
                segments: bool, locate: bool) -> List[Prediction]:
        preds: List[Prediction] = []
        for src in sources:
            if src.error:
                preds.append(Prediction.failure(src.key, src.error, src.path))
                continue
            probs = self._stack(src, 0)
            file_probs = aggregate(probs, src.windows)
            geo = (aggregate(self._stack(src, 1), src.windows).astype(np.float32)
                   if src.outputs[0][1] is not None else None)
            preds.append(self._prediction(src, file_probs, probs, geo, top_k, reject_below, segments))
        if locate and self.geo_type == "geo":
            self._locate([p for p in preds if p.geo_vector is not None])
        return preds

    def _prediction(self, src: _Source, file_probs: np.ndarray, window_probs: np.ndarray,
                    geo: Optional[np.ndarray], top_k: int, reject_below: Optional[float],
                    segments: bool) -> Prediction:
        order = np.argsort(-file_probs)[:top_k]
        top = [LanguageScore(self.languages[i], language_name(self.languages[i]),
                             round(float(file_probs[i]), 6)) for i in order]
        best = top[0]
        rejected = reject_below is not None and best.probability < reject_below
        lang = UNKNOWN if rejected else best.code
        segs = None
        if segments:
            segs = []
            for w, p in zip(src.windows, window_probs):
                j = int(np.argmax(p))
                code = UNKNOWN if reject_below is not None and p[j] < reject_below else self.languages[j]
                segs.append(Segment(round(w.start_s, 3), round(w.end_s, 3), code,
                                    language_name(code), round(float(p[j]), 6)))
        return Prediction(key=src.key, path=src.path, language=lang, name=language_name(lang),
                          probability=best.probability, rejected=rejected, top_k=top,
                          duration=round(src.n_samples / TARGET_SR, 3),
                          num_windows=len(src.windows), segments=segs, geo_vector=geo)

    def _locate(self, preds: List[Prediction]) -> None:
        if not preds:
            return
        if self._decoder is None:
            from geolid.geo.location import default_decoder

            self._decoder = default_decoder()
        lat, lon = self._decoder.decode(np.stack([p.geo_vector for p in preds]))
        for p, a, o in zip(preds, np.atleast_1d(lat), np.atleast_1d(lon)):
            p.location = Location(round(float(a), 4), round(float(o), 4))

    def __repr__(self) -> str:
        return (f"GeoLID({self.files.source!r}, {len(self.languages)} languages, "
                f"device={self.device}, dtype={self.dtype})")


def _resolve_dtype(dtype: str, device) -> str:
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got '{dtype}'")
    if dtype != "auto":
        return dtype
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def _default_key(x, i: int) -> str:
    if isinstance(x, (str, os.PathLike)):
        return str(x)
    return f"input_{i}"


def _chunks(pairs: Iterable, n: int) -> Iterator[List]:
    chunk: List = []
    for p in pairs:
        chunk.append(p)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _progress_bar(progress):
    if progress is True:
        from tqdm import tqdm

        return tqdm(unit="file", desc="geolid predict")
    return progress or None
