"""Loading a transformers ``Wav2Vec2Model`` from a hub id or a local folder.

Two needs pull apart here:
* training needs the pretrained *weights* (``facebook/mms-1b`` is ~4 GB);
* rebuilding a trained model from ``config.yaml`` + ``model.pth`` needs only the
  *architecture*, because the checkpoint holds every encoder weight.

So weights are loaded only when asked for, and the MMS architectures are bundled
(:data:`BUNDLED_CONFIGS`) so that an MMS-1B-shaped model builds offline. A hub id
that is neither cached nor reachable gives an error naming the command that
fetches it.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Optional, Tuple

logger = logging.getLogger(__name__)

_CONV = dict(
    conv_dim=[512] * 7,
    conv_kernel=[10, 3, 3, 3, 3, 2, 2],
    conv_stride=[5, 2, 2, 2, 2, 2, 2],  # total stride 320: 20 ms frames at 16 kHz
    conv_bias=True,
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
    feat_extract_activation="gelu",
    hidden_act="gelu",
    layer_norm_eps=1e-5,
    num_conv_pos_embeddings=128,
    num_conv_pos_embedding_groups=16,
    # Regularisation as in the released configs, except LayerDrop, which the
    # geo conditioning must keep off (a skipped layer would drop its condition).
    hidden_dropout=0.0,
    attention_dropout=0.0,
    activation_dropout=0.0,
    feat_proj_dropout=0.0,
    layerdrop=0.0,
    mask_time_prob=0.05,
)

# Architectures of the public MMS pretrained checkpoints (wav2vec2 with stable
# layer norm; MMS-1B has the XLS-R 1B shape). Values from their config.json files.
BUNDLED_CONFIGS = {
    "facebook/mms-1b": dict(_CONV, hidden_size=1280, num_hidden_layers=48,
                            num_attention_heads=16, intermediate_size=5120),
    "facebook/mms-300m": dict(_CONV, hidden_size=1024, num_hidden_layers=24,
                              num_attention_heads=16, intermediate_size=4096),
}


class PretrainedModelUnavailable(RuntimeError):
    """The pretrained encoder could not be found locally or downloaded."""


def _fetch_hint(repo_id: str) -> str:
    from geolid.published import download_hint  # the one download hint of the package

    return download_hint(repo_id, then="set frontend_conf.frontend_conf.path_or_url to it")


def _cached_snapshot(repo_id: str, cache_dir: Optional[str]) -> Optional[Path]:
    """Folder of a hub repo already in the local HF cache, else None (no network)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, cache_dir=cache_dir, local_files_only=True,
                                      allow_patterns=["*.json"]))
    except Exception:
        return None


def read_do_normalize(folder: Optional[Path]) -> bool:
    """``do_normalize`` from preprocessor_config.json (MMS/XLS-R: True)."""
    if folder is not None and (folder / "preprocessor_config.json").is_file():
        with open(folder / "preprocessor_config.json", encoding="utf-8") as f:
            return bool(json.load(f).get("do_normalize", True))
    return True


def load_wav2vec2(path_or_url: str, cache_dir: Optional[str] = None,
                  load_weights: bool = True) -> Tuple["object", bool]:
    """Return ``(Wav2Vec2Model, do_normalize)``.

    ``path_or_url`` is a local folder written by ``save_pretrained`` or a hub id.
    With ``load_weights=False`` only the architecture is built (random weights);
    this never needs the network for the bundled MMS ids.
    """
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    if cache_dir is not None:
        cache_dir = os.path.abspath(cache_dir)
    local = Path(path_or_url)
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise PretrainedModelUnavailable(
                f"{local} has no config.json: it is not a transformers model folder "
                "(write one with Wav2Vec2Model.save_pretrained)."
            )
        if load_weights:
            model = Wav2Vec2Model.from_pretrained(str(local), layerdrop=0.0)
        else:
            model = Wav2Vec2Model(Wav2Vec2Config.from_pretrained(str(local), layerdrop=0.0))
        return _check_layout(model, path_or_url), read_do_normalize(local)

    if looks_like_path(path_or_url):
        raise PretrainedModelUnavailable(
            f"Pretrained encoder folder '{path_or_url}' does not exist (relative paths "
            f"are resolved from {os.getcwd()}). Check frontend_conf.frontend_conf.path_or_url."
        )

    snapshot = _cached_snapshot(path_or_url, cache_dir)
    if not load_weights:
        if snapshot is not None:
            config = Wav2Vec2Config.from_pretrained(str(snapshot), layerdrop=0.0)
        elif path_or_url in BUNDLED_CONFIGS:
            config = Wav2Vec2Config(**BUNDLED_CONFIGS[path_or_url])
        else:
            raise PretrainedModelUnavailable(
                f"The architecture of '{path_or_url}' is not cached locally and is not "
                f"bundled (bundled: {sorted(BUNDLED_CONFIGS)}). " + _fetch_hint(path_or_url)
            )
        return _check_layout(Wav2Vec2Model(config), path_or_url), read_do_normalize(snapshot)

    try:
        model = Wav2Vec2Model.from_pretrained(path_or_url, cache_dir=cache_dir, layerdrop=0.0)
    except Exception as e:  # offline, gated, typo: say what to do
        raise PretrainedModelUnavailable(
            f"Could not load pretrained encoder '{path_or_url}' ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}). " + _fetch_hint(path_or_url)
        ) from e
    return _check_layout(model, path_or_url), read_do_normalize(_cached_snapshot(path_or_url, cache_dir))


def looks_like_path(name: str) -> bool:
    """A hub id is 'owner/name'; anything else with path syntax is a local path."""
    return (name.startswith((".", "/", "~")) or name.count("/") != 1 or os.sep + os.sep in name)


def _check_layout(model, name: str):
    if not getattr(model.config, "do_stable_layer_norm", False):
        logger.warning(
            "%s does not use stable layer norm (do_stable_layer_norm=False); the "
            "published models use MMS's pre-LN layout. Hidden-state semantics differ.", name)
    return model
