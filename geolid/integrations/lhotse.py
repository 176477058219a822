"""geolid for Lhotse: annotate a ``CutSet`` lazily, and add the results to Shar shards as a new field.

    >>> from lhotse import CutSet
    >>> from geolid import GeoLID
    >>> from geolid.integrations.lhotse import annotate_cuts, write_shar_field
    >>> lid = GeoLID.from_pretrained("espnet/geolid_vl107only_shared_trainable")
    >>> cuts = annotate_cuts(CutSet.from_file("cuts.jsonl.gz"), lid)     # lazy
    >>> cuts.to_file("cuts_with_lid.jsonl.gz")                           # runs here
    >>> write_shar_field("shards/", lid)       # shards/geolid.000000.jsonl.gz, ... beside the audio
    >>> CutSet.from_shar(in_dir="shards/")     # each cut has .geolid, the record

:func:`annotate_cuts` sets, on each cut, the full record (the ``Prediction.to_dict()``
of ``geolid predict``, with ``model`` and ``options``) as the custom field ``geolid``,
and the predicted language on its supervisions. It scores with ``GeoLID.predict_iter``
(one :class:`~geolid.inference.options.PredictOptions`, chunks of inputs): a cut that is
a whole audio file is given to it by path (read by span, exactly as ``geolid predict``
reads it), any other cut (a segment of a recording, a Shar cut with its audio in a tar,
a speed-perturbed cut) as the samples ``cut.load_audio()`` returns. A cut whose audio
cannot be loaded gets a record with ``error`` set; nothing is skipped.

:func:`write_shar_field` writes, for each shard ``cuts.NNNNNN.jsonl.gz`` of a Shar
directory, ``geolid.NNNNNN.jsonl.gz`` with Lhotse's own ``SharWriter``
(``fields={"geolid": "jsonl"}, include_cuts=False``): the cuts and the audio tars are not
rewritten, and ``CutSet.from_shar`` reads the field back. Each field file is written to a
temp folder and renamed into place, so a shard's field is complete or absent; a rerun
skips shards done with the same model and options and refuses those of another.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple

from geolid.inference.results import Prediction

FIELD = "geolid"
CHUNK = 16            # cuts scored together (windows of a chunk are batched together)


def _load_model(model, name: Optional[str]):
    from geolid.inference.api import GeoLID

    if isinstance(model, GeoLID):
        return model, model.identity(name)
    lid = GeoLID.from_pretrained(str(model))
    return lid, lid.identity(name or str(model))


def annotate_cuts(cuts, model, options=None, *, field: str = FIELD, set_language: bool = True,
                  include_geo_vector: bool = False, name: Optional[str] = None, chunk: int = CHUNK,
                  **overrides):
    """A lazy ``CutSet``: each cut of ``cuts`` with its record under ``cut.custom[field]``
    and, with ``set_language``, ``language`` of each supervision set to the prediction
    (existing labels are replaced; pass ``set_language=False`` to keep them). ``model``: a
    :class:`GeoLID` or what ``GeoLID.from_pretrained`` takes; ``name``: the record's
    ``model.name`` (default: the model's source); ``overrides``: :class:`PredictOptions`
    fields (``top_k=3``)."""
    from lhotse import CutSet

    from geolid.inference.options import PredictOptions

    opts = PredictOptions.of(options, **overrides)
    lid, identity = _load_model(model, name)
    return CutSet(_AnnotatedCuts(cuts, lid, identity, opts, field, set_language, include_geo_vector,
                                 chunk))


class _AnnotatedCuts:
    """The lazy iterable behind :func:`annotate_cuts` (scored a chunk at a time, on iteration)."""

    def __init__(self, cuts, lid, identity, options, field, set_language, include_geo_vector, chunk):
        self.cuts, self.lid, self.identity, self.options = cuts, lid, identity, options
        self.field, self.set_language, self.include_geo_vector = field, set_language, include_geo_vector
        self.chunk = max(1, int(chunk))

    def __iter__(self) -> Iterator:
        buf = []
        for cut in self.cuts:
            buf.append(cut)
            if len(buf) == self.chunk:
                yield from self._annotate(buf)
                buf = []
        if buf:
            yield from self._annotate(buf)

    def __len__(self) -> int:
        return len(self.cuts)

    def _annotate(self, cuts) -> Iterator:
        inputs = [_cut_input(c) for c in cuts]
        runnable = [(c.id, x) for c, (x, err) in zip(cuts, inputs) if err is None]
        scored = iter(self.lid.predict_iter(runnable, options=self.options))
        model, key = self.identity.to_dict(), self.options.result_key()
        for cut, (x, err) in zip(cuts, inputs):
            p = next(scored) if err is None else Prediction.failure(cut.id, err)
            p.model, p.options = model, key
            yield self._with_record(cut, p)

    def _with_record(self, cut, p: Prediction):
        from lhotse import fastcopy
        from lhotse.cut.data import DataCut

        cut = cut.with_custom(self.field, p.to_dict(self.include_geo_vector))
        if self.set_language and p.ok and isinstance(cut, DataCut) and cut.supervisions:
            cut = fastcopy(cut, supervisions=[fastcopy(s, language=p.language) for s in cut.supervisions])
        return cut


def _cut_input(cut) -> Tuple[object, Optional[str]]:
    """``(input for predict_iter, None)`` or ``(None, error)``: the file's path when the
    cut is that whole file, else its loaded samples with their rate."""
    path = whole_file(cut)
    if path is not None:
        return path, None
    if not cut.has_recording:
        return None, "the cut has no recording (no audio to identify)"
    try:
        audio = cut.load_audio()
    except Exception as e:   # lhotse raises many kinds (AudioLoadingError, OSError, ...)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        return None, f"cannot load the cut's audio ({first})"
    audio = audio[0] if audio.ndim == 2 and audio.shape[0] == 1 else audio.T   # (samples[, channels])
    return (audio, int(cut.sampling_rate)), None


def whole_file(cut) -> Optional[str]:
    """The audio file a cut is exactly (all of it, untransformed), else None."""
    from lhotse.cut import MonoCut

    if not isinstance(cut, MonoCut) or not cut.has_recording:
        return None
    rec = cut.recording
    if rec.transforms or len(rec.sources) != 1 or rec.sources[0].type != "file":
        return None
    if cut.start != 0 or cut.num_samples != rec.num_samples or len(rec.channel_ids) != 1:
        return None
    return rec.sources[0].source


# --------------------------------------------------------------------- Shar
def shar_shards(in_dir) -> List[Tuple[str, Path, Optional[Path]]]:
    """``(suffix, cuts file, recording tar or None)`` of each shard of a Shar directory
    (``suffix``: ``.000000``, ..., or ``""`` for an unsharded one)."""
    in_dir = Path(in_dir)
    out = []
    for cuts in sorted(in_dir.glob("cuts*.jsonl*")):
        name = cuts.name
        suffix = name[len("cuts"):name.index(".jsonl")]
        if suffix and not suffix[1:].isdigit():
            continue
        rec = in_dir / f"recording{suffix}.tar"
        out.append((suffix, cuts, rec if rec.is_file() else None))
    return out


def write_shar_field(in_dir, model, options=None, *, out_dir=None, field: str = FIELD,
                     overwrite: bool = False, include_geo_vector: bool = False,
                     name: Optional[str] = None, chunk: int = CHUNK, **overrides) -> List[Path]:
    """Write ``<field>.NNNNNN.jsonl.gz`` beside (or, with ``out_dir``, apart from) each
    shard of the Shar directory ``in_dir``; returns the field files (done or skipped).

    Reads only each shard's cuts and its ``recording`` tar (or the audio its cuts point
    to). A shard whose field file holds records of the same model and options is skipped;
    one of another model or options raises ``ValueError`` unless ``overwrite``.
    """
    from lhotse import CutSet
    from lhotse.shar import SharWriter

    from geolid.inference.options import PredictOptions

    in_dir = Path(in_dir)
    out_dir = Path(out_dir) if out_dir is not None else in_dir
    shards = shar_shards(in_dir)
    if not shards:
        raise ValueError(f"{in_dir}: no Shar shards (cuts.NNNNNN.jsonl.gz files); write them with "
                         "CutSet.to_shar(...) or lhotse.shar.SharWriter first")
    if field in ("cuts", "recording", "features"):
        raise ValueError(f"field '{field}' is one of Lhotse's own; choose another name")
    opts = PredictOptions.of(options, **overrides)
    lid, identity = _load_model(model, name)
    key = opts.result_key()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, cuts_path, rec_path in shards:
        target = out_dir / f"{field}{suffix}.jsonl.gz"
        if target.exists() and not overwrite:
            why = _refusal(target, identity, key)
            if why is None:
                written.append(target)
                continue
            raise ValueError(f"{why}; pass overwrite=True to replace it")
        fields = {"cuts": [str(cuts_path)]}
        if rec_path is not None:
            fields["recording"] = [str(rec_path)]
        cuts = annotate_cuts(CutSet.from_shar(fields=fields), lid, opts, field=field,
                             set_language=False, include_geo_vector=include_geo_vector,
                             name=identity.name, chunk=chunk)
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.{field}-"))
        try:
            with SharWriter(tmp, fields={field: "jsonl"}, shard_size=None, shard_suffix=suffix,
                            include_cuts=False, warn_unused_fields=False) as writer:
                for cut in cuts:
                    writer.write(cut)
            done = tmp / target.name
            if not done.exists():            # a shard without cuts: an empty field file
                with gzip.open(done, "wb"):
                    pass
            os.replace(done, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        written.append(target)
    return written


def _refusal(path: Path, identity, options) -> Optional[str]:
    """Why an existing field file is not this run's (None: it is, skip the shard)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError, EOFError) as e:
        return f"{path} is unreadable ({e})"
    for obj in lines:
        record = next((v for k, v in obj.items() if k != "cut_id"), None)
        if not isinstance(record, dict) or "model" not in record:
            return f"{path} holds entries that are not geolid records"
        if not identity.same_model(record.get("model")):
            return f"{path} holds results of another model ({(record.get('model') or {}).get('name')})"
        if record.get("options") != options:
            return f"{path} holds results made with other options"
    return None


def records(cuts: Iterable, field: str = FIELD) -> List[dict]:
    """The records of annotated cuts, in order (``None`` for a cut without one)."""
    return [c.custom.get(field) if c.custom else None for c in cuts]
