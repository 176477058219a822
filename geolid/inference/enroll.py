"""Enrol languages (or dialects of known ones) from a few labelled clips, no training.

The classifier is a cosine classifier with K sub-centres a language (weight
``(K * n_lang, D)``, row ``lang * K + k``): a language's score is the scaled cosine
between the utterance embedding and the closest of its sub-centres. A language the
model never saw is added by appending K rows built from its clips' normalised
embeddings (``method``):

* ``"mean"`` (default): the normalised mean embedding ("imprinted weights"),
  repeated K times;
* ``"kmeans"``: k-means of the clip embeddings into K clusters, the normalised
  cluster means are the sub-centres (fewer clips than K: each clip is a centre,
  repeated to fill K rows). More recall for the new language, but its centres
  reach further into the known languages (more of their clips taken);
* ``"offset"``: the mean centre plus a per-language logit offset of the scoring
  head (:mod:`geolid.inference.enrolment_method`): with ``reference`` clips of known
  languages, the offset is capped where the new class would start taking them, which
  protects the known languages at a cost in recall.

docs/enroll.md compares them against the number of clips (``bench/enroll_curve.py``).

Enrolling a code the model already has cannot add rows (K is fixed per language
in the checkpoint format), so its clips' centres become *extra centres* of the
model's scoring head (:class:`geolid.lid.scoring_head.ScoringHead`; stored in
``enrolled.json`` beside ``config.yaml``, :mod:`geolid.model.head_state`): a
language's score is the max over its K trained sub-centres *and* its extra centres.
A folder without that file is an ordinary checkpoint, so the published format loads
unchanged, and ESPnet's own inference (which ignores the table) still works on the
new classes. Enrolment works on the torch model; an ONNX export is made afterwards
(``geolid export``), and carries the enrolled centres in its graph.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

METHODS = ("kmeans", "mean", "offset")
# measured in docs/enroll.md (6 pairs of unseen languages, 12 clips): "mean" reaches the
# most on the new languages (59.5%) at -2.5 points on the known ones; "offset" with known-
# language reference clips keeps the known ones within 1 point (-0.8) for 44.1%.
DEFAULT_METHOD = "mean"


class EnrollError(ValueError):
    """Bad enrolment input (unknown code, empty language, model that cannot be changed)."""


# ---------------------------------------------------------------- language codes
def check_code(code: str) -> str:
    """Return ``code`` if it is an ISO 639-3 code, else raise with suggestions.

    Accepted: codes URIEL/lang2vec knows and any valid ISO 639-3 code (a language
    URIEL does not locate is enrolled without a location). Two-letter codes are
    refused with their three-letter form, as everywhere in geolid.
    """
    from geolid.languages import is_iso3, language_name, suggest_codes, uriel_languages

    if code in uriel_languages() or (is_iso3(code) and language_name(code)):
        return code
    hint = []
    try:
        import langcodes

        lang = langcodes.Language.get(code)
        if lang.is_valid():
            hint.append(lang.to_alpha3())
    except Exception:  # not a tag at all; difflib below still helps
        pass
    hint += [c for c in suggest_codes(code) if c not in hint]
    raise EnrollError(f"'{code}' is not an ISO 639-3 language code"
                      + (f"; did you mean {', '.join(repr(h) for h in hint[:5])}?" if hint else "")
                      + " Name each language folder / key by its ISO 639-3 code (e.g. 'deu', 'amh').")


def uriel_location(code: str) -> Optional[Tuple[float, float]]:
    """(lat, lon) of ``code`` from its URIEL geo vector, None if URIEL has none."""
    from geolid.geo.location import language_coordinates

    try:
        lat, lon = language_coordinates(code)
    except KeyError:
        return None
    return round(float(lat), 4), round(float(lon), 4)


# ------------------------------------------------------------------- centres
def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def centres_from_embeddings(embeddings: np.ndarray, k: int, method: str = DEFAULT_METHOD,
                            seed: int = 0) -> np.ndarray:
    """``k`` unit-norm centres (k, D) from clip embeddings (N, D)."""
    if method not in METHODS:
        raise EnrollError(f"unknown enrolment method '{method}'; choose from {METHODS}")
    emb = _unit(np.atleast_2d(embeddings))
    if len(emb) == 0:
        raise EnrollError("no clips to enrol")
    if method == "mean":
        centres = _unit(emb.mean(0))[None, :]
    elif len(emb) <= k:
        centres = emb
    else:
        from sklearn.cluster import KMeans

        # Euclidean k-means on unit vectors, cluster means renormalised: the usual
        # approximation of spherical k-means (sklearn has no cosine k-means).
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(emb)
        centres = _unit(km.cluster_centers_)
    reps = -(-k // len(centres))
    return np.tile(centres, (reps, 1))[:k].astype(np.float32)


# ---------------------------------------------------------- scoring embeddings
def embedding_logits(lid, embeddings: np.ndarray, calibrated: bool = True) -> np.ndarray:
    """(N, C) logits of language embeddings (N, D), e.g. from :meth:`GeoLID.embed`, through
    the model's scoring head: what ``predict`` computes for one-window inputs, without
    another forward pass (torch models)."""
    import torch

    model = _torch_model(lid)
    with torch.no_grad():
        emb = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32,
                              device=model.loss.weight.device)
        return model.class_logits(emb, calibrated=calibrated).float().cpu().numpy()


def _torch_model(lid):
    model = lid.model
    if model is None:
        raise EnrollError(f"{lid.folder.exp} is an ONNX export: enrol into the model it was exported "
                          "from, then export that again (the export carries the enrolled centres)")
    if any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules()):
        raise EnrollError("enrol into the float model, not an int8-quantised one")
    return model


# ------------------------------------------------------------------ enrolling
def collect_clips(folder) -> Dict[str, List[str]]:
    """``{code: [clip paths]}`` from FOLDER/<iso3>/<clips> (codes checked, sorted)."""
    from geolid.audio import audio_extensions

    folder = Path(folder)
    if not folder.is_dir():
        raise EnrollError(f"{folder}: not a folder (expected one subfolder per ISO 639-3 code)")
    exts = audio_extensions()
    clips: Dict[str, List[str]] = {}
    errors = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            check_code(sub.name)
        except EnrollError as e:
            errors.append(f"{sub}: {e}")
            continue
        found = sorted(str(f) for f in sub.rglob("*") if f.is_file() and f.suffix.lower() in exts)
        if not found:
            errors.append(f"{sub}: no audio files ({', '.join(exts[:6])}, ...)")
        clips[sub.name] = found
    if errors:
        raise EnrollError("\n".join(errors))
    if not clips:
        raise EnrollError(f"{folder}: no language subfolders (expected e.g. {folder}/deu/clip1.wav)")
    return clips


def enroll(lid, clips: Mapping[str, Sequence], method: str = DEFAULT_METHOD,
           sample_rate: Optional[int] = None, options=None,
           reference: Optional[Mapping[str, Sequence]] = None) -> Dict[str, Dict]:
    """Add languages to a loaded :class:`~geolid.inference.api.GeoLID` in place.

    ``clips``: ``{iso3: [path | waveform | (waveform, sr), ...]}``. New codes are
    appended to the class order with K sub-centres each; known codes get extra
    centres (dialect adaptation). ``reference``: ``{iso3 of a known language: clips}``,
    for ``method="offset"``. Returns a summary per code.
    """
    import torch

    from geolid.model.head_state import EnrolledLanguage, history_entry
    from geolid.model.loading import head_state_of, install_head_state

    if method not in METHODS:
        raise EnrollError(f"unknown enrolment method '{method}'; choose from {METHODS}")
    model = _torch_model(lid)
    loss, k = model.loss, model.head.sub_centres
    for code, items in clips.items():
        check_code(code)
        if not items:
            raise EnrollError(f"language '{code}' has no clips")
    languages = list(lid.languages)
    summary: Dict[str, Dict] = {}
    new_rows, extra, new_emb = [], {}, []
    centre_method = "mean" if method == "offset" else method   # offsets: mean centres + an offset
    for code, items in clips.items():
        emb = np.atleast_2d(lid.embed(list(items), sample_rate=sample_rate, options=options))
        if code in languages:
            n_extra = 1 if centre_method == "mean" else min(k, len(emb))
            extra[code] = centres_from_embeddings(emb, n_extra, centre_method)
            summary[code] = {"new": False, "clips": len(emb), "centres": len(extra[code])}
        else:
            new_rows.append(centres_from_embeddings(emb, k, centre_method))
            new_emb.append(emb)
            summary[code] = {"new": True, "clips": len(emb), "centres": k}
    state = head_state_of(model, lid.folder.head)
    new_codes = [c for c, s in summary.items() if s["new"]]
    if method == "offset" and new_codes:
        new_rows, offsets = _offset_rows(lid, model, new_emb, reference, sample_rate, options,
                                         state.offsets)
        state = replace(state, offsets=offsets.astype(np.float32))
        for code, off in zip(new_codes, offsets[-len(new_codes):]):
            summary[code]["offset"] = round(float(off), 4)
    if new_codes:
        with torch.no_grad():
            w = loss.weight
            # keep the trained rows' norm so the weight looks like the rest (the
            # cosine classifier ignores it, but other tools may not)
            norm = w.norm(dim=1).mean()
            rows = torch.as_tensor(np.concatenate(new_rows), dtype=w.dtype, device=w.device) * norm
            loss.weight = torch.nn.Parameter(torch.cat([w, rows]), requires_grad=w.requires_grad)
        loss.out_features = loss.weight.shape[0] // k
        languages += new_codes
        if state.offsets is not None and len(state.offsets) < len(languages):
            state = replace(state, offsets=np.concatenate([state.offsets, np.zeros(len(new_codes), np.float32)]))
    if extra:
        classes = list(state.extra_classes)
        rows = list(state.extra_centres) if len(state.extra_classes) else []
        for code, centres in extra.items():
            classes += [languages.index(code)] * len(centres)
            rows += list(centres)
        state = replace(state, extra_classes=np.asarray(classes, dtype=np.int64),
                        extra_centres=np.asarray(rows, dtype=np.float32))
    enrolled = dict(state.enrolled)
    for code, s in summary.items():
        loc = uriel_location(code)
        prev = enrolled.get(code)
        enrolled[code] = EnrolledLanguage(new=prev.new if prev else s["new"],
                                          clips=(prev.clips if prev else 0) + s["clips"],
                                          method=method, location=loc)
        if loc is None:
            logger.warning("'%s' has no URIEL location: the location prior leaves it as it is, and "
                           "training with lang2vec targets would need preprocessor_conf."
                           "lang2vec_aliases", code)
        s["location"] = loc
    state = replace(state, enrolled=enrolled,
                    history=state.history + (history_entry(lid.folder.source, method, list(summary)),))
    install_head_state(model, state, str(lid.folder.exp))
    lid.scorer.languages[:] = languages
    lid.folder = lid.folder.with_languages(languages).with_head(state)
    return summary


def _offset_rows(lid, model, new_emb, reference, sample_rate, options, offsets):
    """``method="offset"``: the new languages' rows (K each) and the offsets of all classes,
    from their clips' embeddings and optional reference clips of known languages."""
    from geolid.inference.enrolment_method import enrol

    known_emb = known_labels = None
    if reference:
        index = {c: i for i, c in enumerate(lid.languages)}
        unknown = sorted(set(reference) - set(index))
        if unknown:
            raise EnrollError(f"reference clips must be of the model's languages; {unknown} are not")
        emb, labels = [], []
        for code, items in reference.items():
            e = lid.embed(list(items), sample_rate=sample_rate, options=options)
            emb.append(np.atleast_2d(e))
            labels += [index[code]] * len(np.atleast_2d(e))
        known_emb, known_labels = np.concatenate(emb), np.asarray(labels)
    weight = model.loss.weight.detach().float().cpu().numpy()
    result = enrol(new_emb, weight, model.head.sub_centres, model.head.scale, known_embeddings=known_emb,
                   known_labels=known_labels, offsets=offsets)
    k = model.head.sub_centres
    return [result.rows[j * k:(j + 1) * k] for j in range(len(new_emb))], result.offsets


# ---------------------------------------------------------------------- saving
def save(lid, out_dir, overwrite: bool = False) -> Path:
    """Write ``lid`` (with its enrolments) as a model folder in the published layout:
    ``<exp>/config.yaml``, ``<exp>/valid.accuracy.best.pth``, the head's side files
    (``enrolled.json``, ``calibration.json``), the class-order ``lang2utt`` and a local
    pretrained-encoder folder where the config names one. Returns the folder."""
    import torch

    from geolid.model.folder import WEIGHTS_FILE, published_layout_paths, write_folder, write_model_layout

    model = _torch_model(lid)
    folder = lid.folder
    exp_rel, l2u_rel = published_layout_paths(folder)

    def weights(exp: Path) -> None:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, exp / WEIGHTS_FILE)

    def fill(tmp: Path) -> None:
        write_model_layout(tmp, folder, folder.config, folder.head, folder.languages, exp_rel,
                           l2u_rel, weights)

    return write_folder(out_dir, fill, overwrite=overwrite, sources=[folder.exp])
