"""``GeoLID``: language ID, top-k scores and a predicted location for your own audio.

    >>> from geolid import GeoLID
    >>> lid = GeoLID.from_pretrained("espnet/geolid_combined_shared_trainable")
    >>> p = lid.predict("clip.flac", top_k=5)
    >>> p.language, p.probability, p.location
    >>> lid.embed("clip.flac").shape        # (192,)
    >>> out = lid.classify_batch(wavs, wav_lens)   # padded 16 kHz batch, one forward pass
    >>> out.languages, out.probabilities, out.geo_vectors

``GeoLID`` is a thin composition, as SpeechBrain's ``EncoderClassifier`` over
``Pretrained``:

* a :class:`~geolid.model.folder.ModelFolder` (the model on disk: config, weights,
  class order, scoring-head state);
* a *scorer* (:mod:`geolid.inference.scorer`): the torch model, or an ONNX Runtime
  session for an exported folder, both behind ``classify_batch``;
* the pipeline (:mod:`geolid.inference.pipeline`): segmenter, batches, the one
  utterance rule, the timeline;
* post-processing steps (:mod:`geolid.inference.postprocess`): location prior,
  rejection, ``zxx``, location decoding.

Options (:class:`~geolid.inference.options.PredictOptions`) are one object, or
keyword overrides of it (``predict(x, top_k=3, window=20)``).
"""
from __future__ import annotations

import logging
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from geolid.audio import AudioError
from geolid.inference.inputs import as_inputs
from geolid.inference.options import PredictOptions
from geolid.inference.pipeline import Pipeline, Utterance, chunks
from geolid.inference.postprocess import decide, steps_for, to_prediction
from geolid.inference.results import Prediction
from geolid.inference.scorer import DTYPES, BatchOutput, TorchScorer, check_device, resolve_dtype
from geolid.model.folder import ModelFolder
from geolid.published import DEFAULT_MODEL

logger = logging.getLogger(__name__)

CHUNK_SOURCES = 64  # inputs prepared, batched and finished together
QUANTIZE = (None, "none", "int8", "int8-transformer")


class GeoLID:
    """A loaded model, ready for inference (see the module docstring)."""

    def __init__(self, scorer, folder: ModelFolder):
        self.scorer = scorer
        self.folder = folder
        self._decoder = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, name_or_path: str = DEFAULT_MODEL, *, device: Optional[str] = None,
                        dtype: str = "auto", quantize: Optional[str] = None,
                        revision: Optional[str] = None, cache_dir: Optional[str] = None,
                        allow_outside: bool = False) -> "GeoLID":
        """Load a model by Hugging Face repo id, published-layout folder, experiment
        folder, ``.pth`` file or ONNX export folder.

        ``device``: "cpu", "cuda", "cuda:1", ... (default: cuda if available; an export
        runs on the CPU). ``dtype``: "auto" (fp32 on CPU; bf16 autocast on a bf16 GPU once
        a probe agrees with fp32), "float32", "bfloat16" or "float16". ``quantize="int8"``:
        int8 encoder on the CPU (an export made with ``--quantize int8`` runs as is).
        ``allow_outside``: let the config name files outside the model folder.
        """
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got '{dtype}'")
        if quantize not in QUANTIZE:
            raise ValueError(f"quantize must be 'int8' or None, got '{quantize}'")
        quantize = None if quantize == "none" else quantize
        folder = ModelFolder.open(name_or_path, revision=revision, cache_dir=cache_dir,
                                  allow_outside=allow_outside)
        if folder.is_export:
            return cls(_onnx_scorer(folder, device, dtype, quantize), folder)
        return cls(_torch_scorer(folder, device, dtype, quantize), folder)

    # --------------------------------------------------------------- properties
    @property
    def languages(self) -> List[str]:
        return self.scorer.languages

    @property
    def device(self) -> str:
        return self.scorer.device

    @property
    def dtype(self) -> str:
        return self.scorer.dtype

    @property
    def geo_type(self) -> Optional[str]:
        return self.scorer.geo_type

    @property
    def model(self):
        """The torch module (None for an ONNX export)."""
        return getattr(self.scorer, "model", None)

    def identity(self, name: Optional[str] = None):
        """Name, weights sha256 and head fingerprint (what results files record)."""
        return self.folder.identity(name)

    # --------------------------------------------------------------- prediction
    def predict(self, x, sample_rate: Optional[int] = None, *, options: Optional[PredictOptions] = None,
                progress: bool = False, **overrides) -> Union[Prediction, List[Prediction]]:
        """Top-k languages, geo vector and location for one input or a list.

        ``x``: a path, a waveform (numpy / torch, 1-D or 2-D) with ``sample_rate``, a
        ``(waveform, sample_rate)`` tuple, or a list of these. One input: a
        :class:`Prediction` (a bad input raises :class:`AudioError`); a list: a list in
        the same order, where bad inputs have ``error`` set. ``overrides``: any
        :class:`PredictOptions` field (``top_k``, ``reject_below``, ``near``, ``window``, ...).
        """
        inputs, single = as_inputs(x, sample_rate)
        keyed = [(_default_key(item, i), item) for i, item in enumerate(inputs)]
        out = list(self.predict_iter(keyed, sample_rate, options=options, progress=progress, **overrides))
        if single:
            if out[0].error:
                raise AudioError(out[0].key, out[0].error)
            return out[0]
        failed = [p for p in out if p.error]
        if failed:
            logger.warning("%d of %d inputs failed:\n  %s", len(failed), len(out),
                           "\n  ".join(f"{p.key}: {p.error}" for p in failed))
        return out

    def predict_iter(self, keyed_inputs: Iterable[Tuple[str, object]], sample_rate: Optional[int] = None,
                     *, options: Optional[PredictOptions] = None, progress=False,
                     **overrides) -> Iterator[Prediction]:
        """Like :meth:`predict` over ``(key, input)`` pairs, yielding each :class:`Prediction`
        as soon as its chunk of inputs is done (for resumable writers). ``progress``: True
        for a tqdm bar, or a tqdm to update."""
        for prediction, _ in self.predict_scored(keyed_inputs, sample_rate, options=options,
                                                 progress=progress, **overrides):
            yield prediction

    def predict_scored(self, keyed_inputs: Iterable[Tuple[str, object]], sample_rate: Optional[int] = None,
                       *, options: Optional[PredictOptions] = None, progress=False,
                       **overrides) -> Iterator[Tuple[Prediction, Utterance]]:
        """:meth:`predict_iter` with each input's scored :class:`Utterance` beside its
        :class:`Prediction` (the language embedding, for writers that store it: the Ray
        stage, ``--out x.parquet --embedding``). One code path: ``predict_iter`` is this."""
        opts = PredictOptions.of(options, **overrides)
        steps = self._steps(opts)
        for chunk_utts in self.utterances(keyed_inputs, sample_rate, opts, progress):
            decisions = {d.utterance.key: d for d in decide(chunk_utts, self.languages, steps, opts.segments)}
            for u in chunk_utts:
                if u.ok:
                    yield to_prediction(decisions[u.key], opts.top_k, opts.reject_below), u
                else:
                    yield Prediction.failure(u.key, u.error, u.path), u

    def utterances(self, keyed_inputs: Iterable[Tuple[str, object]], sample_rate: Optional[int] = None,
                   options: Optional[PredictOptions] = None, progress=False,
                   pipeline: Optional[Pipeline] = None) -> Iterator[List[Utterance]]:
        """The scored inputs, chunk by chunk, before any decision (logits, embedding,
        geo vector, speech): what the recipe's stage 6 writes."""
        pipeline = pipeline or Pipeline(self.scorer, options or PredictOptions())
        bar = _progress_bar(progress)
        try:
            for chunk in chunks(keyed_inputs, CHUNK_SOURCES):
                utts = pipeline.run(chunk, sample_rate)
                if bar is not None:
                    bar.update(len(utts))
                yield utts
        finally:
            if bar is not None and progress is True:
                bar.close()

    def embed(self, x, sample_rate: Optional[int] = None, *, options: Optional[PredictOptions] = None,
              **overrides) -> np.ndarray:
        """Language embedding(s): (D,) for one input, (N, D) for a list (D = 192 for the
        published models); long inputs: the utterance rule's weighted mean over windows."""
        inputs, single = as_inputs(x, sample_rate)
        keyed = [(_default_key(item, i), item) for i, item in enumerate(inputs)]
        rows = []
        for utts in self.utterances(keyed, sample_rate, PredictOptions.of(options, **overrides)):
            for u in utts:
                if not u.ok:
                    raise AudioError(u.key, u.error)
                rows.append(u.embedding)
        return rows[0] if single else np.stack(rows)

    def classify_batch(self, wavs, wav_lens=None) -> BatchOutput:
        """Score a batch of 16 kHz mono waveforms in one forward pass (like SpeechBrain's
        ``classify_batch``); no windowing, no file reading. ``wav_lens``: integers are
        samples, floats relative lengths in (0, 1]. Rows do not depend on each other."""
        return self.scorer.classify_batch(wavs, wav_lens)

    def timeline(self, x, sample_rate: Optional[int] = None, key: Optional[str] = None, *,
                 options: Optional[PredictOptions] = None, **overrides):
        """The language timeline of one path or waveform: a :class:`Timeline` whose
        ``segments`` hold ``start, end, language, name, probability``."""
        from geolid.inference.options import TimelineOptions
        from geolid.inference.timeline import Timeline

        opts = PredictOptions.of(options, **overrides)
        if opts.timeline is None:
            opts = PredictOptions.of(opts, timeline=TimelineOptions())
        inputs, _ = as_inputs(x, sample_rate)
        (utts,) = list(self.utterances([(key or _default_key(inputs[0], 0), inputs[0])], sample_rate, opts))
        u = utts[0]
        if not u.ok:
            raise AudioError(u.key, u.error)
        return Timeline(key=u.key, duration=u.duration, segments=u.timeline, num_windows=len(u.timeline or []),
                        speech_fraction=u.speech_fraction)

    # --------------------------------------------------------------- enrolment
    def enroll(self, clips, method: Optional[str] = None, sample_rate: Optional[int] = None,
               options: Optional[PredictOptions] = None, reference=None) -> Dict[str, Dict]:
        """Add languages from labelled clips, ``{iso3: [clips...]}``, in place (no training);
        a known code gets extra centres; ``reference``: clips of known languages for
        ``method="offset"``. See :mod:`geolid.inference.enroll`."""
        from geolid.inference.enroll import DEFAULT_METHOD, enroll

        return enroll(self, clips, method=method or DEFAULT_METHOD, sample_rate=sample_rate,
                      options=options, reference=reference)

    def save(self, out_dir, overwrite: bool = False):
        """Write this model (with its enrolments) as a model folder for ``from_pretrained``."""
        from geolid.inference.enroll import save

        return save(self, out_dir, overwrite=overwrite)

    def location_prior(self, near, strength: Optional[float] = None):
        """A :class:`~geolid.inference.prior.LocationPrior` over this model's languages."""
        from geolid.inference.prior import LocationPrior

        overrides = {c: e.location for c, e in self.folder.head.enrolled.items()}
        return LocationPrior.for_languages(near, self.languages, overrides, strength)

    # ------------------------------------------------------------------ helpers
    def _steps(self, opts: PredictOptions):
        prior = self.location_prior(opts.near) if opts.near is not None else None
        return steps_for(opts, self.languages, self.geo_type, prior, self._location_decoder, self.folder)

    def _location_decoder(self):
        if self._decoder is None:
            from geolid.geo.location import default_decoder

            self._decoder = default_decoder()
        return self._decoder

    def __repr__(self) -> str:
        return (f"GeoLID({self.folder.source!r}, {len(self.languages)} languages, "
                f"device={self.device}, dtype={self.dtype})")


# ---------------------------------------------------------------- scorers
def _torch_scorer(folder: ModelFolder, device: Optional[str], dtype: str, quantize: Optional[str]):
    from geolid.inference.numerics import checked_auto_dtype
    from geolid.model.loading import load_torch_model

    if quantize is not None:
        if device not in (None, "cpu"):
            raise ValueError("int8 dynamic quantisation runs on CPU only; use --device cpu "
                             "or --dtype bfloat16 on GPU")
        if quantize != "int8":
            raise ValueError(f"quantize={quantize} is an ONNX export scope: `geolid export "
                             f"--quantize {quantize}`")
        device = "cpu"
    device = check_device(device)
    model = load_torch_model(folder)
    if quantize == "int8":
        from geolid.inference.quantize import quantize_int8

        quantize_int8(model)
    model = model.to(device)
    resolved = resolve_dtype(dtype, device)
    if dtype == "auto":  # reduced precision only once checked (numerics.py)
        resolved = checked_auto_dtype(model, device, resolved)
    return TorchScorer(model, folder.languages, device, resolved, folder.geo_type)


def _onnx_scorer(folder: ModelFolder, device: Optional[str], dtype: str, quantize: Optional[str]):
    from geolid.inference.onnx_scorer import OnnxScorer

    if device not in (None, "cpu"):
        raise ValueError(f"{folder.weights}: an ONNX export runs on CPU only (asked for {device}); "
                         "use the source model for GPUs")
    if dtype not in ("auto", "float32"):
        raise ValueError(f"{folder.weights}: an ONNX export runs in float32 (asked for {dtype})")
    exported_as = folder.manifest.get("quantize") or ""
    if quantize is not None and not exported_as.startswith(quantize):  # int8-* is int8
        raise ValueError(f"{folder.weights} is a {exported_as or 'float32'} export; for {quantize}, "
                         f"export with `geolid export --quantize {quantize}`")
    return OnnxScorer(folder.weights, folder.languages, folder.manifest)


def _default_key(x, i: int) -> str:
    import os

    if isinstance(x, (str, os.PathLike)):
        return str(x)
    return f"input_{i}"


def _progress_bar(progress):
    if progress is True:
        from tqdm import tqdm

        return tqdm(unit="file", desc="geolid predict")
    return progress or None

