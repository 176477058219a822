"""A model folder: what it holds, how it is read and validated, and how it is written.

This module is the one owner of a model on disk; ``GeoLID.from_pretrained``, the
recipe's inference and calibration, ``geolid enroll``, packing and ``geolid export``
all open and write models through it, and nothing else opens ``config.yaml``.

A model folder holds

* ``config.yaml``: the training config (ESPnet's ``lid_train`` dump, or the published file);
* the weights: a ``.pth`` state dict (``valid.accuracy.best.pth`` in the published repos),
  or ``model.onnx`` in an export;
* the class order: the training ``lang2utt`` the config names (its line order is the
  class index), or, for the four published VoxLingua107-only models, which ship none,
  the order :mod:`geolid.published` ships;
* the scoring head's side files, ``calibration.json`` and ``enrolled.json``
  (:mod:`geolid.model.head_state`);
* in an export, ``geolid_onnx.json`` (the manifest that marks it).

Three layouts are recognised:

* an *experiment folder* (``config.yaml`` next to ``*.pth``): relative config paths are
  relative to the recipe folder two levels up, as ESPnet writes them
  (``<recipe>/exp/lid_x/config.yaml`` names ``dump/raw/train/lang2utt``);
* a *published layout* root holding exactly one ``exp*/lid*/config.yaml`` (the Hugging
  Face repos, ``geolid enroll``'s output): paths are relative to that root;
* an *export folder* (``geolid_onnx.json``): everything lies flat in it.

Confinement. The folder the paths resolve against (:attr:`ModelFolder.root`) is
also a boundary: a config whose ``lang2utt`` or encoder path resolves outside it
(``/etc/passwd``, ``../../..``) is refused, because a downloaded model must not
make geolid read files it does not hold. ``allow_outside=True`` (CLI
``--allow-outside-paths``) lifts that for one's own experiments.

Import-light: no torch.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from geolid.languages import LanguageListError, read_class_order
from geolid.model.errors import ModelError, ModelNotFoundError, check_config_keys, read_config
from geolid.model.head_state import HeadState, read_head_state, write_head_state
from geolid.published import PUBLISHED_MODELS, ClassOrderUnknown, class_order, published_model

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "geolid_onnx.json"    # marks an export folder
ONNX_FILE = "model.onnx"
WEIGHTS_FILE = "valid.accuracy.best.pth"   # the name the published repos and our writers use
# preference order when an experiment folder holds several checkpoints
MODEL_FILE_PREFERENCE = (WEIGHTS_FILE, "valid.accuracy.ave.pth", "latest.pth")
_EPOCH_FILE = re.compile(r"^(\d+)epoch\.pth$")
ENROLLED_EXP = "exp/lid_enrolled"   # experiment path of a written folder whose source had none


@dataclass(frozen=True)
class ModelFolder:
    """A located, read and validated model folder (see the module docstring)."""

    source: str                  # what the user asked for (repo id, folder, file)
    exp: Path                    # the folder that holds config.yaml
    root: Path                   # relative config paths resolve here; nothing outside is read
    weights: Path                # .pth, or model.onnx of an export
    config: Dict                 # config.yaml as read (keys checked)
    languages: Tuple[str, ...]   # class order
    lang2utt: Optional[Path]     # None: the class order shipped for a published model
    head: HeadState = field(default_factory=HeadState)
    manifest: Optional[Dict] = None
    allow_outside: bool = False

    # ---------------------------------------------------------------- reading
    @classmethod
    def open(cls, name_or_path, revision: Optional[str] = None, cache_dir: Optional[str] = None,
             allow_outside: bool = False) -> "ModelFolder":
        """Locate, read and validate a model: a ``.pth`` file, an experiment, published-layout
        or export folder, or a Hugging Face repo id (the local cache first, else downloaded)."""
        from geolid.model.hub import looks_like_repo_id, snapshot

        name = str(name_or_path)
        p = Path(name).expanduser()
        if p.is_file():
            if p.suffix == ".onnx" and (p.parent / MANIFEST_FILE).is_file():
                return cls._read(p.parent, name, weights=p, root=p.parent, allow_outside=allow_outside)
            if p.suffix != ".pth":
                raise ModelNotFoundError(f"{p}: expected a model folder or a .pth weights file")
            return cls._read(p.parent, name, weights=p, allow_outside=allow_outside)
        if p.is_dir():
            return cls._from_folder(p, name, allow_outside)
        if not looks_like_repo_id(name):
            raise ModelNotFoundError(f"Model '{name}' is neither an existing folder/file nor a "
                                     f"Hugging Face repo id (owner/name). Published models: "
                                     f"{', '.join(PUBLISHED_MODELS)}")
        return cls._from_folder(snapshot(name, revision, cache_dir), name, allow_outside)

    @classmethod
    def _from_folder(cls, folder: Path, source: str, allow_outside: bool) -> "ModelFolder":
        if (folder / MANIFEST_FILE).exists():
            return cls._read(folder, source, weights=folder / ONNX_FILE, root=folder,
                             allow_outside=allow_outside)
        if (folder / CONFIG_FILE).is_file():
            return cls._read(folder, source, allow_outside=allow_outside)
        configs = sorted(c for c in folder.glob(f"*/*/{CONFIG_FILE}") if pick_weights(c.parent))
        configs += sorted(c for c in folder.glob(f"*/{CONFIG_FILE}") if pick_weights(c.parent))
        if len(configs) == 1:
            return cls._read(configs[0].parent, source, root=folder, allow_outside=allow_outside)
        if not configs:
            raise ModelNotFoundError(
                f"{folder}: no model found (expected config.yaml next to a .pth file, here or in "
                "exp_*/lid_*/ as in the published repositories)")
        listing = "\n  ".join(str(c.parent) for c in configs)
        raise ModelNotFoundError(f"{folder} holds several models; pass one of:\n  {listing}")

    @classmethod
    def _read(cls, exp: Path, source: str, weights: Optional[Path] = None,
              root: Optional[Path] = None, allow_outside: bool = False) -> "ModelFolder":
        config_path = exp / CONFIG_FILE
        if not config_path.is_file():
            raise ModelNotFoundError(f"{exp}: no config.yaml next to the model weights")
        manifest = _read_manifest(exp) if (exp / MANIFEST_FILE).exists() else None
        if manifest is not None:
            weights = exp / str(manifest.get("onnx") or ONNX_FILE)
            if not weights.is_file():
                raise ModelError(f"{weights}: the export's graph is missing; export the model "
                                 "again (`geolid export MODEL --out DIR`)")
        weights = weights or pick_weights(exp)
        if weights is None:
            raise ModelNotFoundError(f"{exp}: config.yaml but no .pth weights (expected {WEIGHTS_FILE})")
        config = read_config(config_path)
        check_config_keys(config, config_path)
        root = Path(root or exp.parent.parent)
        languages, lang2utt = _class_order(exp, root, config, config_path, allow_outside)
        head = read_head_state(exp, languages)
        return cls(source, exp, root, weights, config, tuple(languages), lang2utt, head,
                   manifest, allow_outside)

    # ----------------------------------------------------------- properties
    @property
    def config_path(self) -> Path:
        return self.exp / CONFIG_FILE

    @property
    def is_export(self) -> bool:
        return self.manifest is not None

    @property
    def is_published_layout(self) -> bool:
        """config.yaml two levels below :attr:`root` (``<root>/exp_*/lid_*/``)."""
        rel = _relative_to(self.exp, self.root)
        return rel is not None and len(rel.parts) == 2

    @property
    def geo_type(self) -> Optional[str]:
        """The lang2vec feature set the model predicts ("geo"), None for the no-geo baseline."""
        if self.is_export:
            return self.manifest.get("geo_type")
        if self.config.get("loss") != "aamsoftmax_sc_topk_lang2vec":
            return None
        return (self.config.get("loss_conf") or {}).get("lang2vec_type", "geo")

    @property
    def head_scale(self) -> float:
        """The scoring head's scale (the loss's ``scale``/``s``; ESPnet's class defaults)."""
        if self.is_export and "scale" in self.manifest:
            return float(self.manifest["scale"])
        conf = self.config.get("loss_conf") or {}
        loss = self.config.get("loss") or "aamsoftmax"
        if loss == "softmax":
            return 1.0
        if loss == "aamsoftmax":
            return float(conf.get("scale", 15))
        return float(conf.get("scale", 32.0))

    def with_head(self, head: HeadState) -> "ModelFolder":
        """This folder with another head state (in memory; :func:`write` makes it a file)."""
        return replace(self, head=head)

    def with_languages(self, languages: Sequence[str]) -> "ModelFolder":
        return replace(self, languages=tuple(languages))

    def identity(self, name: Optional[str] = None, include_calibration: bool = True):
        """:class:`~geolid.model.identity.ModelIdentity`: weights hash + head fingerprint."""
        from geolid.model.identity import ModelIdentity, weights_sha256

        head = self.head if include_calibration else self.head.uncalibrated()
        return ModelIdentity(str(name or self.source), weights_sha256(self.weights), head.fingerprint())

    def resolved_config(self) -> Dict:
        """The config to build the model from: relative paths resolved against :attr:`root`
        (confined to it), ``lang2utt`` / ``lang_num`` from the class order."""
        import copy

        conf = copy.deepcopy(self.config)
        if self.lang2utt is not None:
            conf["lang2utt"] = str(self.lang2utt)
        else:  # a published model: its config names a training file that is not here
            conf.pop("lang2utt", None)
        conf["lang_num"] = len(self.languages)
        fc = (conf.get("frontend_conf") or {}).get("frontend_conf") or {}
        if fc.get("path_or_url"):
            found = self.resolve(fc["path_or_url"], "frontend_conf.frontend_conf.path_or_url",
                                 required=False)
            if found is not None:
                fc["path_or_url"] = str(found)
        download_dir = (conf.get("frontend_conf") or {}).get("download_dir")
        if download_dir and not os.path.isabs(download_dir):
            conf["frontend_conf"]["download_dir"] = str(self.root / download_dir)
        return conf

    def resolve(self, path: str, key: str, required: bool = True) -> Optional[Path]:
        """A config path, resolved against the folder and confined to :attr:`root`."""
        return _resolve(path, _search_roots(self.exp, self.root), self.root, key, self.config_path,
                        self.allow_outside, required)

    def local_encoder(self) -> Optional[Path]:
        """The pretrained-encoder folder the config names, when it is a local folder."""
        fc = (self.config.get("frontend_conf") or {}).get("frontend_conf") or {}
        if not fc.get("path_or_url"):
            return None
        found = self.resolve(fc["path_or_url"], "frontend_conf.frontend_conf.path_or_url", required=False)
        return found if found is not None and found.is_dir() else None

    def files(self) -> List[Path]:
        """Every file that makes this model (what packing ships)."""
        from geolid.model.head_state import CALIBRATION_FILE, ENROLLED_FILE

        out = [self.config_path, self.weights]
        out += [self.exp / n for n in (CALIBRATION_FILE, ENROLLED_FILE, MANIFEST_FILE)
                if (self.exp / n).is_file()]
        if self.lang2utt is not None:
            out.append(self.lang2utt)
        return out


# ---------------------------------------------------------------- helpers
def pick_weights(exp: Path) -> Optional[Path]:
    """The preferred checkpoint name, else the highest ``<N>epoch.pth``, else any ``.pth``.

    ESPnet's ``keep_nbest_models`` deletes old epoch files, which can leave
    ``valid.accuracy.best.pth`` a broken link: it is skipped with a warning.
    """
    for name in MODEL_FILE_PREFERENCE:
        p = exp / name
        if p.is_file():
            return p
        if p.is_symlink():
            logger.warning("%s is a broken link (to %s); ignoring it", p, os.readlink(p))
    candidates = []
    for p in exp.glob("*.pth"):
        if p.name == "checkpoint.pth" or p.name in MODEL_FILE_PREFERENCE:
            continue
        if not p.is_file():
            logger.warning("%s is a broken link; ignoring it", p)
            continue
        m = _EPOCH_FILE.match(p.name)
        # epochs by number (9epoch before 20epoch), then other names after them
        candidates.append((1, int(m.group(1)), p.name) if m else (0, 0, p.name))
    return exp / max(candidates)[2] if candidates else None


def _read_manifest(exp: Path) -> Dict:
    import json

    path = exp / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise ModelError(f"{path}: unreadable export manifest ({e}); export the model again") from None
    if not isinstance(data, dict) or data.get("format") != "geolid-onnx":
        raise ModelError(f"{path}: not a geolid export manifest (expected a mapping with "
                         "\"format\": \"geolid-onnx\"); export the model again")
    return data


def _class_order(exp: Path, root: Path, config: Dict, config_path: Path,
                 allow_outside: bool) -> Tuple[List[str], Optional[Path]]:
    rel = config.get("lang2utt")
    roots = _search_roots(exp, root)
    lang2utt = None
    if rel:
        lang2utt = _resolve(str(rel), roots, root, "lang2utt", config_path, allow_outside, required=False)
    if lang2utt is None:
        lang2utt = next((c for c in (exp / "lang2utt", root / "lang2utt") if c.is_file()), None)
    published = published_model(str(exp), rel)
    if lang2utt is None:
        if published is None:
            raise ModelNotFoundError(
                f"{config_path}: its lang2utt '{rel}' (the class order) was not found under "
                f"{', '.join(str(r) for r in roots)}; copy the training lang2utt there")
        try:
            languages = list(class_order(published))
        except ClassOrderUnknown as e:
            raise ModelNotFoundError(f"{config_path}: {e}") from None
    else:
        try:
            languages = read_class_order(lang2utt)
        except LanguageListError as e:
            raise ModelNotFoundError(str(e)) from None
        if published is not None and published.languages is not None:
            check_agrees(languages, published.languages, lang2utt, published.repo_id)
    lang_num = config.get("lang_num")
    if lang_num and int(lang_num) != len(languages):
        raise ModelError(f"{lang2utt or 'the class order'} lists {len(languages)} languages but "
                         f"{config_path} says lang_num={lang_num}; it is not this model's class order")
    return languages, lang2utt


def check_agrees(languages: Sequence[str], published: Sequence[str], lang2utt, repo_id: str) -> None:
    """A lang2utt next to a published model must list its shipped class order."""
    if list(languages) == list(published):
        return
    extra = sorted(set(languages) - set(published))
    missing = sorted(set(published) - set(languages))
    why = (f"it has {extra} that the model lacks and lacks {missing}" if extra or missing
           else "same languages in another order")
    raise ModelNotFoundError(
        f"{lang2utt} disagrees with the class order of {repo_id} ({len(published)} languages, "
        f"sorted ISO 639-3 codes): {why}. Remove or fix that file; the model's outputs follow "
        "the published order")


def _search_roots(exp: Path, root: Path) -> List[Path]:
    """Where a relative config path is looked for: the recipe/repo root first (ESPnet
    writes paths relative to the recipe folder), then the folders between it and the
    experiment (a model moved with its data)."""
    out: List[Path] = []
    for p in (root, exp.parent, exp):
        if all(p.resolve() != q.resolve() for q in out):
            out.append(p)
    return out


def _resolve(path: str, roots: Sequence[Path], boundary: Path, key: str, config_path: Path,
             allow_outside: bool, required: bool) -> Optional[Path]:
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [r / p for r in roots]
    for c in candidates:
        if not c.exists():
            continue
        real = c.resolve()
        if not allow_outside and _relative_to(real, boundary) is None:
            raise ModelError(f"{config_path}: key '{key}' points outside the model folder "
                             f"({path} -> {real}, outside {boundary.resolve()}); a model folder must "
                             "hold its own files. Copy the file into the folder, or allow it with "
                             "--allow-outside-paths (GeoLID.from_pretrained(..., allow_outside=True))")
        return real
    if required:
        raise ModelNotFoundError(f"{config_path}: key '{key}': '{path}' not found under "
                                 f"{', '.join(str(r) for r in roots)}")
    return None


def _relative_to(path: Path, root: Path) -> Optional[Path]:
    try:
        return Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return None


# ----------------------------------------------------------------- listing
def model_languages(name_or_path: str, revision: Optional[str] = None) -> Tuple[List[str], str]:
    """A model's class order and where it came from, downloading nothing.

    A published repo id not in the local cache gives its shipped class order;
    anything else is opened as for inference (local folders, the local cache).
    """
    from geolid.model.hub import download

    name = str(name_or_path)
    published = PUBLISHED_MODELS.get(name) if not Path(name).expanduser().exists() else None
    if published is not None:
        try:
            download(name, revision, local_files_only=True)
        except ModelNotFoundError:
            try:
                return list(class_order(published)), "class order shipped with geolid"
            except ClassOrderUnknown as e:
                raise ModelNotFoundError(f"{name}: {e}") from None
    folder = ModelFolder.open(name, revision=revision)
    return list(folder.languages), str(folder.lang2utt or "class order shipped with geolid")


# ----------------------------------------------------------------- writing
def check_output_folder(out_dir: os.PathLike, sources: Iterable[os.PathLike] = (),
                        overwrite: bool = False, what: str = "--out") -> Path:
    """Refuse an output folder that would destroy something: a file, a non-empty folder
    (unless ``overwrite``), or a folder inside or around one of ``sources`` (the model being
    read: a write there would turn an experiment into something else)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ModelError(f"{what} {out} is a file, not a folder; choose a new folder name")
    real = out.resolve()
    for src in sources:
        s = Path(src).resolve()
        if real == s or _relative_to(real, s) is not None or _relative_to(s, real) is not None:
            raise ModelError(f"{what} {out} is (or holds, or lies inside) the source model folder {src}; "
                             "write to a new folder: the source model is never changed")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ModelError(f"{what} {out} exists and is not empty; choose a new folder, or pass "
                         "--overwrite to replace it")
    parent = real.parent
    parent_existing = parent
    while not parent_existing.exists():
        parent_existing = parent_existing.parent
    if not os.access(parent_existing, os.W_OK | os.X_OK):
        raise ModelError(f"{what} {out}: cannot write in {parent_existing} (permission denied); "
                         "choose a folder you can write to")
    return out


def write_folder(out_dir: os.PathLike, fill: Callable[[Path], None], overwrite: bool = False,
                 sources: Iterable[os.PathLike] = (), what: str = "--out") -> Path:
    """Build a folder in a scratch folder beside ``out_dir`` with ``fill(scratch)``, then move
    it into place: an interrupted write never leaves a folder that looks complete, and an
    existing folder is replaced whole (only with ``overwrite``)."""
    out = check_output_folder(out_dir, sources, overwrite, what)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as e:
        raise ModelError(f"{what} {out}: cannot create it ({e.strerror}); choose a folder you can "
                         "write to") from None
    try:
        fill(tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"{what} {out}: writing failed ({e.strerror or e}); nothing was changed") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_model_layout(dest: Path, folder: ModelFolder, config: Dict, head: HeadState,
                       languages: Sequence[str], exp_rel: Path, lang2utt_rel: Path,
                       write_weights: Callable[[Path], None]) -> Path:
    """Write a model folder at ``dest``: ``<exp_rel>/config.yaml``, the weights (by
    ``write_weights(exp_dir)``), the head's side files and the class order at
    ``lang2utt_rel``, plus a copy of a local pretrained-encoder folder. Returns the exp dir."""
    import yaml

    config = dict(config)
    config["lang2utt"] = lang2utt_rel.as_posix()
    config["lang_num"] = len(languages)
    encoder = folder.local_encoder() if not folder.is_export else None
    if encoder is not None:
        rel = Path(((folder.config.get("frontend_conf") or {}).get("frontend_conf") or {})["path_or_url"])
        if rel.is_absolute() or ".." in rel.parts:
            rel = Path("encoder") / encoder.name
        shutil.copytree(encoder, dest / rel)
        config["frontend_conf"] = dict(config["frontend_conf"])
        config["frontend_conf"]["frontend_conf"] = dict(config["frontend_conf"]["frontend_conf"],
                                                        path_or_url=rel.as_posix())
    exp = dest / exp_rel
    exp.mkdir(parents=True, exist_ok=True)
    (dest / lang2utt_rel).parent.mkdir(parents=True, exist_ok=True)
    (dest / lang2utt_rel).write_text("".join(f"{c}\n" for c in languages), encoding="utf-8")
    with open(exp / CONFIG_FILE, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False, allow_unicode=True)
    write_weights(exp)
    write_head_state(exp, head, languages)
    return exp


def published_layout_paths(folder: ModelFolder) -> Tuple[Path, Path]:
    """(experiment path, class-order path) for a copy of ``folder`` in the published layout."""
    exp_rel = _relative_to(folder.exp, folder.root) if folder.is_published_layout else None
    if exp_rel is None or folder.is_export:
        exp_rel = Path(ENROLLED_EXP)
    l2u = Path(str(folder.config.get("lang2utt") or "data/lang2utt"))
    if l2u.is_absolute() or ".." in l2u.parts:
        l2u = Path("data/lang2utt")
    return exp_rel, l2u
