"""Finding a model: a Hugging Face repo id, a published-layout folder, or an experiment.

A model is three things: ``config.yaml``, the weights (``valid.accuracy.best.pth``
in the published repos) and its class order, the training ``lang2utt`` whose line
order is the class index. The published repos ship no ``lang2utt``: for them the
class order comes from :mod:`geolid.published` (which also owns the table of
published models and the download hint). The config's relative paths
(``lang2utt``, the encoder's ``path_or_url``) are relative to the recipe root:
the repo root in the published layout (``<root>/exp_*/lid_*/config.yaml``), i.e.
two levels above the experiment folder. This module finds all three without
importing torch.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from geolid.inference.model_errors import read_config
from geolid.languages import LanguageListError, read_class_order
from geolid.published import DEFAULT_MODEL  # noqa: F401  (re-exported: cli, api)
from geolid.published import (PUBLISHED_MODELS, ClassOrderUnknown, class_order, download_hint,
                              hub_offline, published_model)

logger = logging.getLogger(__name__)
_EPOCH_FILE = re.compile(r"^(\d+)epoch\.pth$")
# preference order when an experiment folder holds several checkpoints
MODEL_FILE_PREFERENCE = ("valid.accuracy.best.pth", "valid.accuracy.ave.pth", "latest.pth")
# What a model needs; never README.md / meta.yaml (as the published download command
# excludes them), so a download into a recipe folder keeps its README.
_HUB_PATTERNS = ["*config.yaml", "*.pth", "*lang2utt*", "*.json"]


class ModelNotFoundError(FileNotFoundError):
    """No usable model where the user pointed; the message says how to get one."""


@dataclass
class ModelFiles:
    config: Path
    model: Path
    root: Path           # what the config's relative paths are relative to
    lang2utt: Optional[Path]  # None: class order of a published model, shipped in the package
    languages: List[str]
    source: str          # what the user asked for

    def resolved_config(self) -> Dict:
        """The config with its relative paths made absolute against ``root``."""
        with self.config.open(encoding="utf-8") as f:
            conf = yaml.safe_load(f) or {}
        if self.lang2utt is not None:
            conf["lang2utt"] = str(self.lang2utt)
        else:  # the published config names a training file that is not here; lang_num suffices
            conf.pop("lang2utt", None)
            conf["lang_num"] = len(self.languages)
        fc = (conf.get("frontend_conf") or {}).get("frontend_conf") or {}
        path = fc.get("path_or_url")
        if path:
            found = _find_relative(path, self._roots())
            if found is not None:
                fc["path_or_url"] = str(found)
        download_dir = (conf.get("frontend_conf") or {}).get("download_dir")
        if download_dir and not os.path.isabs(download_dir):
            conf["frontend_conf"]["download_dir"] = str(self.root / download_dir)
        return conf

    def _roots(self) -> List[Path]:
        exp = self.config.parent
        return _unique([self.root, exp.parent.parent, exp.parent, exp, Path.cwd()])


def looks_like_repo_id(name: str) -> bool:
    """``owner/name`` that is not an existing local path."""
    return (name.count("/") == 1 and not name.startswith((".", "/", "~"))
            and not Path(name).exists())


def download(repo_id: str, revision: Optional[str] = None, cache_dir: Optional[str] = None,
             local_dir: Optional[str] = None, local_files_only: bool = False) -> Path:
    """``huggingface_hub.snapshot_download`` of a model repo (only the files a model needs)."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:  # pragma: no cover - it is a dependency
        raise ModelNotFoundError(f"huggingface_hub is not installed ({e}); pip install huggingface_hub") from e
    try:
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir,
                                      local_dir=local_dir, local_files_only=local_files_only,
                                      allow_patterns=_HUB_PATTERNS))
    except Exception as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        where = "in the local cache" if local_files_only else "on the Hugging Face Hub"
        raise ModelNotFoundError(f"Model '{repo_id}' is not available {where} "
                                 f"({type(e).__name__}: {why}). " + download_hint(repo_id)) from None


def locate_model(name_or_path: str, revision: Optional[str] = None,
                 cache_dir: Optional[str] = None) -> ModelFiles:
    """Resolve what the user gave into :class:`ModelFiles`.

    * an existing ``.pth`` file: its folder's ``config.yaml``;
    * an existing folder: an experiment folder (``config.yaml`` + ``*.pth``) or a
      published-layout root with exactly one ``exp*/*/config.yaml``;
    * ``owner/name``: the Hugging Face repo, from the cache first, else downloaded.
    """
    name = str(name_or_path)
    p = Path(name).expanduser()
    if p.is_file():
        if p.suffix != ".pth":
            raise ModelNotFoundError(f"{p}: expected a model folder or a .pth weights file")
        return _from_experiment(p.parent, name, model=p)
    # --- ONNX export (geolid.export): model.onnx with its config and class order ---
    from geolid.export import MANIFEST_FILE, ONNX_FILE
    if p.is_dir() and (p / MANIFEST_FILE).is_file():
        return _from_experiment(p, name, model=p / ONNX_FILE, root=p)
    # --- end ONNX export ---
    if p.is_dir():
        return _from_folder(p, name)
    if not looks_like_repo_id(name):
        raise ModelNotFoundError(f"Model '{name}' is neither an existing folder/file nor a "
                                 f"Hugging Face repo id (owner/name). Published models: "
                                 f"{', '.join(PUBLISHED_MODELS)}")
    try:
        root = download(name, revision, cache_dir, local_files_only=True)
    except ModelNotFoundError:
        if hub_offline():
            raise ModelNotFoundError(
                f"Model '{name}' is not in the local Hugging Face cache and downloads are "
                "off (HF_HUB_OFFLINE is set). " + download_hint(name)) from None
        root = download(name, revision, cache_dir)
    return _from_folder(root, name)


def _from_folder(folder: Path, source: str) -> ModelFiles:
    if (folder / "config.yaml").is_file():
        return _from_experiment(folder, source)
    configs = sorted(c for c in folder.glob("*/*/config.yaml") if _model_file(c.parent) is not None)
    configs += sorted(c for c in folder.glob("*/config.yaml") if _model_file(c.parent) is not None)
    if len(configs) == 1:
        return _from_experiment(configs[0].parent, source, root=folder)
    if not configs:
        raise ModelNotFoundError(
            f"{folder}: no model found (expected config.yaml next to a .pth file, here or in "
            "exp_*/lid_*/ as in the published repositories)")
    listing = "\n  ".join(str(c.parent) for c in configs)
    raise ModelNotFoundError(f"{folder} holds several models; pass one of:\n  {listing}")


def _model_file(exp: Path) -> Optional[Path]:
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


def _from_experiment(exp: Path, source: str, model: Optional[Path] = None,
                     root: Optional[Path] = None) -> ModelFiles:
    config = exp / "config.yaml"
    if not config.is_file():
        raise ModelNotFoundError(f"{exp}: no config.yaml next to the model weights")
    model = model or _model_file(exp)
    if model is None:
        raise ModelNotFoundError(f"{exp}: config.yaml but no .pth weights "
                                 f"(expected {MODEL_FILE_PREFERENCE[0]})")
    conf = read_config(config)  # invalid YAML: a one-line ModelError naming the file
    root = root or exp.parent.parent
    roots = _unique([root, exp.parent.parent, exp.parent, exp, Path.cwd()])
    rel = conf.get("lang2utt")
    lang2utt = _find_relative(rel, roots) if rel else None
    if lang2utt is None:
        lang2utt = next((c for c in (exp / "lang2utt", root / "lang2utt") if c.is_file()), None)
    published = published_model(str(exp), rel)
    if lang2utt is None and published is not None:
        languages = list(_published_order(published, config))
    elif lang2utt is None:
        raise ModelNotFoundError(
            f"{config}: its lang2utt '{rel}' (the class order) was not found under "
            f"{', '.join(str(r) for r in roots[:3])}; copy the training lang2utt there")
    else:
        try:
            languages = read_class_order(lang2utt)
        except LanguageListError as e:
            raise ModelNotFoundError(str(e)) from None
        if published is not None and published.languages is not None:
            check_agrees(languages, published.languages, lang2utt, published.repo_id)
    lang_num = conf.get("lang_num")
    if lang_num and int(lang_num) != len(languages):
        raise ModelNotFoundError(f"{lang2utt or 'the class order'} lists {len(languages)} "
                                 f"languages but {config} says lang_num={lang_num}; it is not "
                                 "this model's class order")
    return ModelFiles(config, model, root, lang2utt, languages, source)


def _published_order(published, where) -> Tuple[str, ...]:
    try:
        return class_order(published)
    except ClassOrderUnknown as e:
        raise ModelNotFoundError(f"{where}: {e}") from None


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


def model_languages(name_or_path: str, revision: Optional[str] = None) -> Tuple[List[str], str]:
    """A model's class order and where it came from, downloading nothing.

    A published repo id not in the local cache gives its shipped class order;
    anything else is located as for inference (local folders, the local cache).
    """
    name = str(name_or_path)
    published = PUBLISHED_MODELS.get(name) if not Path(name).expanduser().exists() else None
    if published is None:
        files = locate_model(name, revision=revision)
        return files.languages, str(files.lang2utt or "class order shipped with geolid")
    try:
        root = download(name, revision, local_files_only=True)
    except ModelNotFoundError:
        return list(_published_order(published, name)), "class order shipped with geolid"
    files = _from_folder(root, name)
    return files.languages, str(files.lang2utt or "class order shipped with geolid")


def _find_relative(path: str, roots: Sequence[Path]) -> Optional[Path]:
    p = Path(path).expanduser()
    if p.is_absolute():
        return p if p.exists() else None
    for r in roots:
        if (r / p).exists():
            return (r / p).resolve()
    return None


def _unique(paths: Sequence[Path]) -> List[Path]:
    out, seen = [], set()
    for p in paths:
        key = str(Path(p).resolve())
        if key not in seen:
            seen.add(key)
            out.append(Path(p))
    return out
