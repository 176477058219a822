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
  reach further into the known languages (more of their clips taken).

docs/enroll.md compares them against the number of clips (``bench/enroll_curve.py``).

Enrolling a code the model already has cannot add rows (K is fixed per language
in the checkpoint format), so its clips' centres go into an *extra-centres table*
(``enrolled.json`` beside ``config.yaml``): at scoring time a language's score is
the max over its K trained sub-centres *and* its extra centres. A folder without
that file is an ordinary checkpoint, so the published format loads unchanged, and
ESPnet's own inference (which ignores the table) still works on the new classes.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)

ENROLLED_FILE = "enrolled.json"
METHODS = ("kmeans", "mean")
DEFAULT_METHOD = "mean"   # measured in docs/enroll.md: keeps the known languages intact
ENROLLED_EXP = "exp/lid_enrolled"   # experiment path used when the source has no usable one


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


# ---------------------------------------------------------- the extra-centres table
@dataclass
class ExtraCentres:
    """Centres added to already-known languages: class index (M,) and unit rows (M, D)."""

    classes: np.ndarray
    centres: np.ndarray
    _torch: Dict[str, tuple] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.classes)

    def apply(self, scores, embedding, scale: float):
        """Scores (B, C) with each class's score raised to its best extra centre's
        scaled cosine: the same max-over-sub-centres rule the classifier uses."""
        import torch

        key = str(embedding.device)
        if key not in self._torch:
            self._torch[key] = (torch.as_tensor(self.classes, dtype=torch.long, device=embedding.device),
                                torch.as_tensor(self.centres, dtype=torch.float32, device=embedding.device))
        classes, centres = self._torch[key]
        cos = torch.nn.functional.normalize(embedding.float(), dim=-1) @ centres.T
        idx = classes.unsqueeze(0).expand(scores.shape[0], -1)
        return scores.float().scatter_reduce(1, idx, cos * scale, reduce="amax", include_self=True)


def class_logits(lid, scores, embedding, calibrated: bool = True):
    """The logits GeoLID turns into probabilities: the model's scaled cosines,
    raised by any extra centres, divided by the calibration temperature."""
    scores = scores.float()
    if getattr(lid, "extra_centres", None) is not None:
        scores = lid.extra_centres.apply(scores, embedding, _scale(lid.model.loss))
    calibration = getattr(lid, "calibration", None)
    return calibration.apply(scores) if calibrated and calibration is not None else scores


def logits_from_embeddings(lid, embeddings: np.ndarray, calibrated: bool = True) -> np.ndarray:
    """(N, C) logits from language embeddings (N, D), e.g. from :meth:`GeoLID.embed`:
    what ``predict`` computes for single-window inputs, without another forward pass."""
    import torch

    loss = lid.model.loss
    k = int(getattr(loss, "K", 1))
    with torch.no_grad():
        emb = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
        w = loss.weight.detach().float().cpu()
        cos = torch.nn.functional.normalize(emb, dim=-1) @ torch.nn.functional.normalize(w, dim=-1).T
        scores = cos.view(len(emb), -1, k).amax(dim=2) * _scale(loss)
        return class_logits(lid, scores, emb, calibrated).numpy()


def _scale(loss) -> float:
    return float(getattr(loss, "scale", getattr(loss, "s", 1.0)))


def read_enrolled(exp_dir: Path) -> Dict:
    """The ``enrolled.json`` beside config.yaml ({} when the model has none)."""
    path = Path(exp_dir) / ENROLLED_FILE
    if not path.is_file():
        return {}
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except ValueError as e:
        raise EnrollError(f"{path}: not valid JSON ({e}); re-run `geolid enroll`") from None


def load_extra_centres(files, languages: Sequence[str]) -> Optional[ExtraCentres]:
    """The model folder's extra-centres table as class indices, or None."""
    meta = read_enrolled(Path(files.config).parent)
    table = meta.get("extra_centres") or {}
    classes, rows = [], []
    for code, centres in table.items():
        if code not in languages:
            raise EnrollError(f"{Path(files.config).parent / ENROLLED_FILE}: extra centres for "
                              f"'{code}', which is not in the model's class list")
        for c in centres:
            classes.append(languages.index(code))
            rows.append(c)
    if not rows:
        return None
    return ExtraCentres(np.asarray(classes, dtype=np.int64), _unit(np.asarray(rows)).astype(np.float32))


def enrolled_locations(files) -> Dict[str, Optional[Tuple[float, float]]]:
    """Locations recorded for enrolled languages ({code: (lat, lon) or None})."""
    meta = read_enrolled(Path(files.config).parent)
    out = {}
    for code, info in (meta.get("languages") or {}).items():
        loc = info.get("location")
        out[code] = tuple(loc) if loc else None
    return out


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


def _loss(lid):
    loss = getattr(lid.model, "loss", None)
    if loss is None or not hasattr(loss, "weight") or loss.weight.dim() != 2:
        raise EnrollError("this model has no cosine classifier weight to enrol into")
    return loss


def enroll(lid, clips: Mapping[str, Sequence], method: str = DEFAULT_METHOD,
           sample_rate: Optional[int] = None, options=None) -> Dict[str, Dict]:
    """Add languages to a loaded :class:`~geolid.inference.api.GeoLID` in place.

    ``clips``: ``{iso3: [path | waveform | (waveform, sr), ...]}``. New codes are
    appended to the class order with K sub-centres each; known codes get extra
    centres (dialect adaptation). Returns a summary per code.
    """
    import torch

    if method not in METHODS:
        raise EnrollError(f"unknown enrolment method '{method}'; choose from {METHODS}")
    if any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in lid.model.modules()):
        raise EnrollError("enrol into the float model, not an int8-quantised one")
    loss = _loss(lid)
    k = int(getattr(loss, "K", 1))
    for code, items in clips.items():
        check_code(code)
        if not items:
            raise EnrollError(f"language '{code}' has no clips")
    summary: Dict[str, Dict] = {}
    new_rows, extra = [], {}
    for code, items in clips.items():
        emb = lid.embed(list(items), sample_rate=sample_rate, options=options)
        if code in lid.languages:
            n_extra = 1 if method == "mean" else min(k, len(emb))
            extra[code] = centres_from_embeddings(emb, n_extra, method)
            summary[code] = {"new": False, "clips": len(emb), "centres": len(extra[code])}
        else:
            new_rows.append(centres_from_embeddings(emb, k, method))
            summary[code] = {"new": True, "clips": len(emb), "centres": k}
    new_codes = [c for c, s in summary.items() if s["new"]]
    if new_codes:
        with torch.no_grad():
            w = loss.weight
            # keep the trained rows' norm so the weight looks like the rest (the
            # cosine classifier ignores it, but other tools may not)
            norm = w.norm(dim=1).mean()
            rows = torch.as_tensor(np.concatenate(new_rows), dtype=w.dtype, device=w.device) * norm
            loss.weight = torch.nn.Parameter(torch.cat([w, rows]), requires_grad=w.requires_grad)
        loss.out_features = loss.weight.shape[0] // k
        lid.languages.extend(new_codes)
    if extra:
        table = lid.extra_centres
        classes = [] if table is None else list(table.classes)
        rows = [] if table is None else list(table.centres)
        for code, centres in extra.items():
            classes += [lid.languages.index(code)] * len(centres)
            rows += list(centres)
        lid.extra_centres = ExtraCentres(np.asarray(classes, dtype=np.int64),
                                         np.asarray(rows, dtype=np.float32))
    log = lid.__dict__.setdefault("_enrolled", {"method": method, "languages": {}})
    for code, s in summary.items():
        loc = uriel_location(code)
        prev = log["languages"].get(code, {})
        log["languages"][code] = {
            "new": prev.get("new", s["new"]), "clips": prev.get("clips", 0) + s["clips"],
            "method": method, "location": list(loc) if loc else None, "uriel_geo": loc is not None}
        if loc is None:
            logger.warning("'%s' has no URIEL location: the location prior leaves it as it is, and "
                           "training with lang2vec targets would need preprocessor_conf."
                           "lang2vec_aliases", code)
        s["location"] = loc
    return summary


# ---------------------------------------------------------------------- saving
def save(lid, out_dir, overwrite: bool = False) -> Path:
    """Write ``lid`` (with its enrolments) as a model folder in the published layout:
    ``<exp>/config.yaml``, ``<exp>/valid.accuracy.best.pth``, ``<exp>/enrolled.json``,
    ``<exp>/calibration.json`` (if any), the class-order ``lang2utt`` and a local
    pretrained-encoder folder where the config names one. Returns the folder.
    """
    import torch
    import yaml

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise EnrollError(f"{out_dir} exists and is not empty; choose a new --out folder")
    files = lid.files
    src_exp = Path(files.config).parent
    with open(files.config, encoding="utf-8") as f:
        conf = yaml.safe_load(f) or {}
    exp_rel = _relative_to(src_exp, files.root) or Path(ENROLLED_EXP)
    if len(exp_rel.parts) != 2:          # the published layout: <root>/<exp*>/<model>/
        exp_rel = Path(ENROLLED_EXP)
    l2u_rel = Path(conf.get("lang2utt") or "data/lang2utt")
    if l2u_rel.is_absolute() or ".." in l2u_rel.parts:
        l2u_rel = Path("data/lang2utt")
    conf["lang2utt"] = l2u_rel.as_posix()
    if conf.get("lang_num"):
        conf["lang_num"] = len(lid.languages)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        enc_rel = _copy_encoder(files, conf, tmp)
        if enc_rel is not None:
            conf["frontend_conf"]["frontend_conf"]["path_or_url"] = enc_rel
        (tmp / exp_rel).mkdir(parents=True)
        (tmp / l2u_rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / l2u_rel).write_text("".join(f"{c}\n" for c in lid.languages), encoding="utf-8")
        with open(tmp / exp_rel / "config.yaml", "w", encoding="utf-8") as f:
            yaml.safe_dump(conf, f, sort_keys=False, allow_unicode=True)
        state = {k: v.detach().cpu() for k, v in lid.model.state_dict().items()}
        torch.save(state, tmp / exp_rel / "valid.accuracy.best.pth")
        meta = _enrolled_meta(lid)
        if meta:
            with open(tmp / exp_rel / ENROLLED_FILE, "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=1)
        from geolid.inference.calibration import CALIBRATION_FILE

        if (src_exp / CALIBRATION_FILE).is_file():
            shutil.copy2(src_exp / CALIBRATION_FILE, tmp / exp_rel / CALIBRATION_FILE)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _relative_to(path: Path, root: Path) -> Optional[Path]:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return None


def _copy_encoder(files, conf: Dict, dest: Path) -> Optional[str]:
    """Copy a local pretrained-encoder folder into ``dest``; its new relative path."""
    fc = (conf.get("frontend_conf") or {}).get("frontend_conf") or {}
    if not fc.get("path_or_url"):
        return None
    resolved = (files.resolved_config().get("frontend_conf") or {}).get("frontend_conf", {}).get("path_or_url")
    if not resolved or not Path(resolved).is_dir():
        return None            # a hub id: the new folder refers to it the same way
    rel = Path(fc["path_or_url"])
    if rel.is_absolute() or ".." in rel.parts:
        rel = Path("encoder") / Path(resolved).name
    shutil.copytree(resolved, dest / rel)
    return rel.as_posix()


def _enrolled_meta(lid) -> Dict:
    """enrolled.json: what was enrolled (merged with the source model's record)."""
    old = read_enrolled(Path(lid.files.config).parent)
    new = lid.__dict__.get("_enrolled")
    if not old and not new and lid.extra_centres is None:
        return {}
    langs = dict(old.get("languages") or {})
    langs.update((new or {}).get("languages") or {})
    table: Dict[str, List[List[float]]] = {}
    if lid.extra_centres is not None:
        for cls, row in zip(lid.extra_centres.classes, lid.extra_centres.centres):
            table.setdefault(lid.languages[int(cls)], []).append([round(float(v), 6) for v in row])
    history = list(old.get("history") or [])
    if new:
        history.append({"source": str(lid.files.source), "method": new["method"],
                        "languages": sorted(new["languages"]),
                        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    return {"format": 1, "languages": langs, "extra_centres": table, "history": history}
