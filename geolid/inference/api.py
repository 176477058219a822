"""``GeoLID``: language ID, top-k scores and a predicted location for your own audio.

    >>> from geolid import GeoLID
    >>> lid = GeoLID.from_pretrained("espnet/geolid_combined_shared_trainable")
    >>> p = lid.predict("clip.flac", top_k=5)
    >>> p.language, p.probability, p.location
    >>> lid.embed("clip.flac").shape        # (192,)
    >>> out = lid.classify_batch(wavs, wav_lens)   # padded 16 kHz batch, one forward pass
    >>> out.languages, out.probabilities, out.geo_vectors

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

from geolid.audio import TARGET_SR, AudioError, AudioInfo, audio_info, read_span, to_mono_16k
from geolid.inference.batching import DEFAULT_BATCH_SECONDS, collate, plan_for_device
from geolid.inference.hub import DEFAULT_MODEL, ModelFiles, locate_model
from geolid.inference import model_errors
from geolid.inference.inputs import as_inputs
from geolid.inference.model_errors import ModelError, check_config_keys, check_finite_weights
from geolid.inference.numerics import checked_auto_dtype, finite, nonfinite_error
from geolid.inference.short_inputs import MIN_DURATION, short_input_error
from geolid.inference.results import UNKNOWN, LanguageScore, Location, Prediction, Segment, language_name
from geolid.inference.vad import ZXX, track_array, track_file
from geolid.inference.windowing import Window, aggregate, windows_for, windows_for_array

logger = logging.getLogger(__name__)

DTYPES = ("auto", "float32", "bfloat16", "float16")
CHUNK_SOURCES = 64  # sources prepared, batched and finished together
# Windows per batch on CPU. Outputs do not depend on the batch (docs/batching.md),
# so this is about speed only: at base size and above a batch-1 loop measured
# faster on 2 cores (README: batches of 8 at 0.85x), while tiny models gain from
# batching (bench/batch_size.py: demo model 6.5x at 8). Large models are the real use.
CPU_BATCH_SIZE = 1


@dataclass
class BatchOutput:
    """What :meth:`GeoLID.classify_batch` returns: one row per input, on the host.

    ``scores``: (B, n_lang) logits (scaled cosines, no margin, raised by enrolled
    extra centres and divided by the calibration temperature); ``probabilities``:
    their softmax; ``embeddings``: (B, D) language embeddings (not normalised);
    ``geo_vectors``: (B, geo_dim) predicted lang2vec vectors (None for models
    without geo head); ``languages``: top-1 ISO 639-3 codes; ``indices``: (B,)
    their class indices (the lang2utt line numbers).
    """

    scores: np.ndarray
    probabilities: np.ndarray
    embeddings: np.ndarray
    geo_vectors: Optional[np.ndarray]
    languages: List[str]
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.languages)

    def window(self, row: int) -> "WindowOutput":
        geo = self.geo_vectors[row] if self.geo_vectors is not None else None
        return WindowOutput(self.probabilities[row], self.embeddings[row], geo)


@dataclass
class WindowOutput:
    """One window's outputs: language probabilities, embedding, geo vector (or None)."""

    probabilities: np.ndarray
    embedding: np.ndarray
    geo_vector: Optional[np.ndarray]


@dataclass
class _InputSource:
    key: str
    path: Optional[str] = None
    info: Optional[AudioInfo] = None
    wave: Optional[object] = None             # 16 kHz 1-D tensor for in-memory inputs
    windows: List[Window] = field(default_factory=list)
    speech: Optional[object] = None           # vad: SpeechTrack (None: detector off)
    outputs: Dict[int, WindowOutput] = field(default_factory=dict)  # window index -> outputs
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
    # vad: "silero", "energy" or "none" (docs/vad.md); default $GEOLID_SPEECH_DETECTOR or silero
    speech_detector: str = field(default_factory=lambda: os.environ.get("GEOLID_SPEECH_DETECTOR", "silero"))
    # None: CPU_BATCH_SIZE on CPU; on GPU as many windows as fit in batch_seconds of
    # padded audio. Outputs do not depend on it (docs/batching.md).
    batch_size: Optional[int] = None
    batch_seconds: float = DEFAULT_BATCH_SECONDS  # padded audio per batch
    min_duration: float = MIN_DURATION  # seconds; shorter inputs get an error, not a guess


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
        # --- enroll / calibration hook (geolid.inference.enroll, .calibration) ---
        from geolid.inference.calibration import load_calibration
        from geolid.inference.enroll import load_extra_centres

        self.extra_centres = load_extra_centres(files, self.languages)  # centres added to known languages
        self.calibration = load_calibration(files)                      # temperature (1 if none)
        # --- end hook ---

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, name_or_path: str = DEFAULT_MODEL, device: Optional[str] = None,
                        dtype: str = "auto", quantize: Optional[str] = None,
                        revision: Optional[str] = None, cache_dir: Optional[str] = None) -> "GeoLID":
        """Load a model by Hugging Face repo id, published-layout folder, experiment
        folder or ``.pth`` file.

        ``device``: "cpu", "cuda", "cuda:1", ... (default: cuda if available).
        ``dtype``: "auto" (fp32 on CPU; bf16 autocast on a bf16 GPU once a probe
        agrees with fp32, else fp32; see :mod:`geolid.inference.numerics`), "float32",
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

        # --- safety: one-line model errors, config keys, finite weights (model_errors.py)
        check_config_keys(conf, files.config)
        with model_errors.loading(files.model):
            model, _ = build_model_from_args(argparse.Namespace(**conf), files.model, "cpu")
        check_finite_weights(model, files.model)
        # --- end safety
        n_out = model.loss.weight.shape[0] // int(getattr(model.loss, "K", 1))
        if n_out != len(files.languages):
            raise ModelError(f"{files.model} scores {n_out} languages but {files.lang2utt} lists "
                             f"{len(files.languages)}")
        model.eval()
        if quantize == "int8":
            from geolid.inference.quantize import quantize_int8

            quantize_int8(model)
        loss_conf = conf.get("loss_conf") or {}
        geo_type = loss_conf.get("lang2vec_type", "geo") if hasattr(model.loss, "predict_lang2vec") else None
        lid = cls(model.to(device), files, device=device, dtype=dtype, geo_type=geo_type)
        if dtype == "auto":  # safety: reduced precision only once checked (numerics.py)
            lid.dtype = checked_auto_dtype(lid.model, lid.device, lid.dtype)
        return lid

    # --------------------------------------------------------------- public API
    def predict(self, x, sample_rate: Optional[int] = None, top_k: int = 5,
                reject_below: Optional[float] = None, segments: bool = False, locate: bool = True,
                options: Optional[InferenceOptions] = None, progress: bool = False,
                near=None) -> Union[Prediction, List[Prediction]]:
        """Top-k languages, geo vector and location for one input or a list.

        ``x``: a path, a waveform (numpy / torch, 1-D or 2-D) with ``sample_rate``,
        a ``(waveform, sample_rate)`` tuple, or a list of these. One input: a
        :class:`Prediction` (a bad input raises :class:`AudioError`); a list: a
        list in the same order, where bad inputs have ``error`` set.
        ``reject_below``: label ``unknown`` when the top (calibrated) probability is below it.
        ``near``: ``(lat, lon[, radius_km])``, ``"LAT,LON[,RADIUS_KM]"`` or a
        :class:`~geolid.inference.prior.Near`: reweight by a location prior
        (docs/enroll.md); each record's ``prior`` says whether the top answer changed.
        """
        inputs, single = as_inputs(x, sample_rate)  # safety: a list of floats is one waveform
        out = list(self.predict_iter(self._keyed(inputs), sample_rate, top_k, reject_below,
                                     segments, locate, options, progress, near=near))
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
        inputs, single = as_inputs(x, sample_rate)  # safety: a list of floats is one waveform
        rows = []
        for chunk in _chunks(self._keyed(inputs), CHUNK_SOURCES):
            for src in self._run(chunk, sample_rate, options or InferenceOptions()):
                if src.error:
                    raise AudioError(src.key, src.error)
                rows.append(aggregate(self._stack(src, "embedding"), src.windows).astype(np.float32))
        return rows[0] if single else np.stack(rows)

    def predict_iter(self, keyed_inputs: Iterable[Tuple[str, object]],
                     sample_rate: Optional[int] = None, top_k: int = 5,
                     reject_below: Optional[float] = None, segments: bool = False,
                     locate: bool = True, options: Optional[InferenceOptions] = None,
                     progress: Union[bool, object] = False, near=None) -> Iterator[Prediction]:
        """Like :meth:`predict` over ``(key, input)`` pairs, yielding each
        :class:`Prediction` as soon as its chunk of inputs is done (for resumable
        writers). ``progress``: True for a tqdm bar, or a tqdm to update."""
        if reject_below is not None and not 0.0 <= reject_below <= 1.0:
            raise ValueError(f"reject_below must be a probability in [0, 1], got {reject_below}")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        options = options or InferenceOptions()
        prior = self.location_prior(near) if near is not None else None  # geolid.inference.prior
        bar = _progress_bar(progress)
        try:
            for chunk in _chunks(keyed_inputs, CHUNK_SOURCES):
                sources = self._run(chunk, sample_rate, options)
                yield from self._finish(sources, top_k, reject_below, segments, locate, prior)
                if bar is not None:
                    bar.update(len(sources))
        finally:
            if bar is not None and progress is True:
                bar.close()

    def classify_batch(self, wavs, wav_lens=None) -> BatchOutput:
        """Score a batch of 16 kHz mono waveforms in one forward pass (like
        SpeechBrain's ``classify_batch``); no windowing, no file reading.

        ``wavs``: (B, T) tensor/array (right-padded) or a list of 1-D waveforms.
        ``wav_lens``: (B,) lengths: integers are samples; floats are relative
        lengths in (0, 1] as in SpeechBrain; None: every row is full length (or
        each list item's own length). Each row's output does not depend on the
        others in the batch (docs/batching.md).
        """
        import torch

        speech, lengths = _as_batch(wavs, wav_lens, self.device)
        with torch.inference_mode(), self._autocast():
            out = self.model.score(speech, lengths)
            from geolid.inference.enroll import class_logits  # extra centres + temperature

            logits = class_logits(self, out["scores"], out["embedding"])
        probs = torch.softmax(logits, dim=-1)
        geo = out.get("lang2vec")
        parts = [logits, probs, out["embedding"].float()]
        parts += [geo.float()] if geo is not None else []
        host = torch.cat(parts, dim=1).cpu().numpy()  # one device->host copy per batch
        n_lang, n_emb = probs.shape[1], out["embedding"].shape[1]
        indices = host[:, n_lang:2 * n_lang].argmax(axis=1)
        return BatchOutput(scores=host[:, :n_lang], probabilities=host[:, n_lang:2 * n_lang],
                           embeddings=host[:, 2 * n_lang:2 * n_lang + n_emb],
                           geo_vectors=host[:, 2 * n_lang + n_emb:] if geo is not None else None,
                           languages=[self.languages[i] for i in indices], indices=indices)

    # --- vad hook: language timeline (geolid/inference/timeline.py, docs/timeline.md)
    def timeline(self, x, sample_rate: Optional[int] = None, key: Optional[str] = None,
                 options=None):
        """Language timeline of one path or waveform: a
        :class:`~geolid.inference.timeline.Timeline` whose ``segments`` hold
        ``start, end, language, name, probability`` (``options``: ``TimelineOptions``)."""
        from geolid.inference.timeline import timeline_of

        return timeline_of(self, x, sample_rate, key, options)
    # --- end vad hook

    def language_names(self) -> List[str]:
        return [language_name(c) for c in self.languages]

    # --- enroll / location-prior hook (geolid.inference.enroll, .prior) ---
    def enroll(self, clips, method: str = "mean", sample_rate: Optional[int] = None,
               options: Optional[InferenceOptions] = None) -> Dict[str, Dict]:
        """Add languages from labelled clips, ``{iso3: [clips...]}``, in place (no
        training); a known code gets extra centres. See :mod:`geolid.inference.enroll`."""
        from geolid.inference.enroll import enroll

        return enroll(self, clips, method=method, sample_rate=sample_rate, options=options)

    def save(self, out_dir, overwrite: bool = False):
        """Write this model (with its enrolments) as a model folder for ``from_pretrained``."""
        from geolid.inference.enroll import save

        return save(self, out_dir, overwrite=overwrite)

    def location_prior(self, near, strength: Optional[float] = None):
        """A :class:`~geolid.inference.prior.LocationPrior` over this model's languages."""
        from geolid.inference.enroll import enrolled_locations
        from geolid.inference.prior import LocationPrior

        return LocationPrior.for_languages(near, self.languages, enrolled_locations(self.files), strength)
    # --- end hook ---

    # ------------------------------------------------------------------ running
    def _keyed(self, inputs: Sequence) -> List[Tuple[str, object]]:
        return [(_default_key(x, i), x) for i, x in enumerate(inputs)]

    def _prepare(self, key: str, x, sample_rate: Optional[int], options: InferenceOptions) -> _InputSource:
        import torch

        if isinstance(x, (str, os.PathLike)):
            info = audio_info(x)
            # --- vad hook: one speech pass; --vad cuts at its pauses
            speech = track_file(info, options.speech_detector) if options.speech_detector != "none" else None
            pauses = speech.pause_midpoints() if speech is not None and options.vad else None
            return _InputSource(key, str(x), info=info, speech=speech,
                           windows=windows_for(info, options.window, options.overlap, options.vad, pauses))
        sr = sample_rate
        if isinstance(x, tuple) and len(x) == 2:
            x, sr = x
        if not isinstance(x, (np.ndarray, torch.Tensor)):
            raise AudioError(key, f"unsupported input type {type(x).__name__}: give a path, a "
                                  "numpy/torch waveform with its sample rate, or a list of these")
        wave = to_mono_16k(x, sr, key)
        # --- vad hook
        speech = track_array(wave, options.speech_detector) if options.speech_detector != "none" else None
        pauses = speech.pause_midpoints() if speech is not None and options.vad else None
        return _InputSource(key, wave=wave, speech=speech,
                       windows=windows_for_array(wave, options.window, options.overlap, options.vad, pauses))

    def _run(self, chunk: Sequence[Tuple[str, object]], sample_rate: Optional[int],
             options: InferenceOptions) -> List[_InputSource]:
        """Prepare the chunk's sources and fill their per-window outputs."""
        sources: List[_InputSource] = []
        for key, x in chunk:
            try:
                src = self._prepare(key, x, sample_rate, options)
                src.error = short_input_error(src.n_samples, options.min_duration)  # safety
                sources.append(src)
            except AudioError as e:
                sources.append(_InputSource(key, str(x) if isinstance(x, (str, os.PathLike)) else None,
                                       error=e.reason))
        items = [(si, wi) for si, s in enumerate(sources) if not s.error
                 for wi in range(len(s.windows))]
        lengths = [sources[si].windows[wi].length for si, wi in items]
        cpu_size = None if self._on_gpu() else CPU_BATCH_SIZE
        for batch in plan_for_device(lengths, self._on_gpu(), options.batch_size or cpu_size,
                                     options.batch_seconds, TARGET_SR):  # GPU: by seconds
            self._run_batch([items[i] for i in batch], sources)
        return sources

    def _on_gpu(self) -> bool:
        import torch

        return torch.device(self.device).type == "cuda"

    def _run_batch(self, batch: Sequence[Tuple[int, int]], sources: List[_InputSource]) -> None:
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
        out = self.classify_batch([w for _, w in kept_ok])
        for row, ((si, wi), _) in enumerate(kept_ok):
            if not (finite(out.scores[row]) and finite(out.embeddings[row])
                    and (out.geo_vectors is None or finite(out.geo_vectors[row]))):
                sources[si].error = nonfinite_error(self.dtype)  # NaN/inf never becomes a label
                continue
            sources[si].outputs[wi] = out.window(row)

    def _autocast(self):
        import torch

        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, self.dtype))

    @staticmethod
    def _stack(src: _InputSource, field_name: str) -> np.ndarray:
        """One :class:`WindowOutput` field of every window of ``src``, stacked."""
        return np.stack([getattr(src.outputs[i], field_name) for i in range(len(src.windows))])

    # --------------------------------------------------------------- finishing
    def _finish(self, sources: List[_InputSource], top_k: int, reject_below: Optional[float],
                segments: bool, locate: bool, prior=None) -> List[Prediction]:
        preds: List[Prediction] = []
        for src in sources:
            if src.error:
                preds.append(Prediction.failure(src.key, src.error, src.path))
                continue
            probs = self._stack(src, "probabilities")
            file_probs = aggregate(probs, src.windows)
            note = None
            if prior is not None:  # location prior (geolid.inference.prior)
                probs, file_probs, note = prior.apply(probs, file_probs,
                                                      lambda p, w=src.windows: aggregate(p, w))
            geo = (aggregate(self._stack(src, "geo_vector"), src.windows).astype(np.float32)
                   if src.outputs[0].geo_vector is not None else None)
            preds.append(self._prediction(src, file_probs, probs, geo, top_k, reject_below, segments))
            preds[-1].prior = note
        if locate and self.geo_type == "geo":
            self._locate([p for p in preds if p.geo_vector is not None])
        return preds

    def _prediction(self, src: _InputSource, file_probs: np.ndarray, window_probs: np.ndarray,
                    geo: Optional[np.ndarray], top_k: int, reject_below: Optional[float],
                    segments: bool) -> Prediction:
        order = np.argsort(-file_probs)[:top_k]
        top = [LanguageScore(self.languages[i], language_name(self.languages[i]),
                             round(float(file_probs[i]), 6)) for i in order]
        best = top[0]
        rejected = reject_below is not None and best.probability < reject_below
        lang = UNKNOWN if rejected else best.code
        if src.speech is not None and src.speech.no_speech():  # vad hook: zxx
            lang = ZXX
        segs = None
        if segments:
            segs = []
            for w, p in zip(src.windows, window_probs):
                j = int(np.argmax(p))
                code = UNKNOWN if reject_below is not None and p[j] < reject_below else self.languages[j]
                if src.speech is not None and src.speech.no_speech_in(w.start, w.end):  # vad hook
                    code = ZXX
                segs.append(Segment(round(w.start_s, 3), round(w.end_s, 3), code,
                                    language_name(code), round(float(p[j]), 6)))
        return Prediction(key=src.key, path=src.path, language=lang, name=language_name(lang),
                          probability=best.probability, rejected=rejected, top_k=top,
                          duration=round(src.n_samples / TARGET_SR, 3),
                          num_windows=len(src.windows), segments=segs, geo_vector=geo,
                          speech_fraction=None if src.speech is None else round(src.speech.fraction(), 4))

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
    if device.type == "cuda":  # never float16: it overflows to NaN (numerics.py)
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "float32"


def _as_batch(wavs, wav_lens, device):
    """(B, T) float32 speech and (B,) long sample lengths on ``device``."""
    import torch

    if isinstance(wavs, (list, tuple)):
        if wav_lens is not None:
            raise ValueError("classify_batch: give wav_lens only with a padded (B, T) batch")
        return collate([torch.as_tensor(np.asarray(w) if not isinstance(w, torch.Tensor) else w,
                                        dtype=torch.float32) for w in wavs], device)
    speech = torch.as_tensor(wavs, dtype=torch.float32).to(device)
    if speech.dim() != 2:
        raise ValueError(f"classify_batch: wavs must be (batch, samples), got shape {tuple(speech.shape)}")
    if wav_lens is None:
        lengths = torch.full((speech.size(0),), speech.size(1), dtype=torch.long)
    else:
        lengths = torch.as_tensor(wav_lens)
        if lengths.is_floating_point():  # SpeechBrain's relative lengths
            if lengths.min() <= 0 or lengths.max() > 1:
                raise ValueError("classify_batch: float wav_lens are relative lengths in (0, 1]")
            lengths = torch.round(lengths * speech.size(1)).long()
        if lengths.shape != (speech.size(0),) or lengths.min() < 1 or lengths.max() > speech.size(1):
            raise ValueError(f"classify_batch: wav_lens must be {speech.size(0)} lengths in "
                             f"1..{speech.size(1)} samples, got {lengths.tolist()}")
    return speech, lengths.long().to(device)


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
