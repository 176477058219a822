"""Tiny stand-ins for the big pieces: a random wav2vec2 and complete experiment folders.

Hugging Face downloads are impossible offline, so tests, the demo and the
benchmarks build these instead of fetching ``facebook/mms-1b`` or a published
checkpoint. They exercise exactly the code paths of the real thing: a
``save_pretrained`` folder that the frontend loads like any hub model, and an
experiment folder in the published layout (``config.yaml`` + ``*.pth`` + the
training ``lang2utt``) written by our own task.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import yaml

from geolid.utils.fileio import atomic_write


def make_tiny_wav2vec2(out_dir, hidden_size: int = 32, num_layers: int = 4, num_heads: int = 2,
                       intermediate_size: int = 64, conv_dim: int = 32, seed: int = 0,
                       pos_conv_kernel: int = 16, pos_conv_groups: int = 4) -> Path:
    """Write a random MMS-layout wav2vec2 (stable layer norm, 320x conv stack).

    MMS-1B itself has ``pos_conv_kernel=128, pos_conv_groups=16``.
    """
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    out_dir = Path(out_dir)
    config = Wav2Vec2Config(
        hidden_size=hidden_size, num_hidden_layers=num_layers, num_attention_heads=num_heads,
        intermediate_size=intermediate_size, conv_dim=[conv_dim] * 7,
        conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=True,
        feat_extract_norm="layer", do_stable_layer_norm=True, num_conv_pos_embeddings=pos_conv_kernel,
        num_conv_pos_embedding_groups=pos_conv_groups, hidden_dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0, mask_time_prob=0.0,
    )
    torch.manual_seed(seed)
    Wav2Vec2Model(config).save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                             do_normalize=True, return_attention_mask=True).save_pretrained(out_dir)
    return out_dir


def tiny_config(encoder_path: str, lang2utt: str, num_languages: int, *, geo: bool = True,
                layers: Sequence[int] = (1,), shared: bool = True, frozen: bool = False,
                embed_dim: int = 8, ecapa_channels: int = 16, k_top: int = 2,
                weighting: str = "published") -> Dict:
    """An ESPnet-style config (the published keys, docs/architecture.md) at toy size.

    ``geo=False`` gives the baseline: ESPnet's plain LID model and loss on the
    same frontend, with no conditioning and no geo loss.
    """
    conf: Dict = {
        "frontend": "s3prl_condition",
        "frontend_conf": {"frontend_conf": {"upstream": "hf_wav2vec2_condition",
                                            "path_or_url": str(encoder_path)},
                          "download_dir": "./hub", "multilayer_feature": True},
        "normalize": "utterance_mvn", "normalize_conf": {"norm_vars": False},
        "encoder": "ecapa_tdnn",
        "encoder_conf": {"model_scale": 2, "ndim": ecapa_channels, "output_size": ecapa_channels * 3 // 2},
        "pooling": "chn_attn_stat", "pooling_conf": {},
        "projector": "rawnet3", "projector_conf": {"output_size": embed_dim},
        "lang2utt": str(lang2utt), "lang_num": int(num_languages),
        "use_preprocessor": True, "preprocessor": "lid",
        "preprocessor_conf": {"fix_duration": False, "sample_rate": 16000,
                              "noise_apply_prob": 0.0, "rir_apply_prob": 0.0,
                              "use_lang2vec": geo, "lang2vec_type": "geo"},
    }
    loss_conf = {"margin": 0.5, "scale": 30, "K": 3, "mp": 0.06, "k_top": k_top}
    if geo:
        conf.update({
            "model": "upstream_condition",
            "model_conf": {"lang2vec_conditioning_layers": list(layers),
                           "apply_intermediate_lang2vec_loss": True,
                           "apply_intermediate_lang2vec_condition": True,
                           "inter_lang2vec_loss_weight": 0.4,
                           "cutoff_gradient_from_backbone": frozen,
                           "cutoff_gradient_before_condproj": True,
                           "shared_conditioning_proj": shared},
            "encoder_condition": "identity", "encoder_condition_conf": {},
            "pooling_condition": "chn_attn_stat", "pooling_condition_conf": {},
            "projector_condition": "rawnet3", "projector_condition_conf": {"output_size": embed_dim},
            "loss": "aamsoftmax_sc_topk_lang2vec",
            "loss_conf": dict(loss_conf, lang2vec_dim=299, lang2vec_type="geo",
                              lang2vec_weight=0.2, weighting=weighting),
        })
    else:
        conf.update({"model": "espnet", "model_conf": {},
                     "loss": "aamsoftmax_sc_topk", "loss_conf": loss_conf})
    return conf


def write_lang2utt(path, languages: Iterable[str]) -> Path:
    """A lang2utt whose line order is the class order (one dummy utt each)."""
    path = Path(path)
    with atomic_write(path) as f:
        for lang in languages:
            f.write(f"{lang} {lang}_utt\n")
    return path


def make_experiment(exp_dir, languages: Sequence[str], encoder_path: Optional[str] = None,
                    model_name: str = "valid.accuracy.best.pth", seed: int = 0,
                    lang2utt_relpath: str = "data/lang2utt", **config_kwargs) -> Path:
    """Write ``exp_dir/{config.yaml, <model_name>}`` plus the training lang2utt.

    Paths inside config.yaml are relative to ``exp_dir``'s parent's parent (the
    recipe root), as in the published Hugging Face repositories.
    """
    import torch

    from geolid.tasks.build import build_model

    exp_dir = Path(exp_dir)
    root = exp_dir.parent.parent
    if encoder_path is None:
        encoder_path = str(make_tiny_wav2vec2(root / "hf_tiny_w2v2", seed=seed).relative_to(root))
    write_lang2utt(root / lang2utt_relpath, languages)
    conf = tiny_config(encoder_path, lang2utt_relpath, len(languages), **config_kwargs)
    # The written config keeps recipe-relative paths; the model is built from
    # the same config with those paths resolved against the recipe root.
    resolved = copy.deepcopy(conf)
    resolved["frontend_conf"]["frontend_conf"]["path_or_url"] = str(root / encoder_path)
    resolved["lang2utt"] = str(root / lang2utt_relpath)
    torch.manual_seed(seed)
    model = build_model(argparse.Namespace(**resolved))
    exp_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(exp_dir / "config.yaml") as f:
        yaml.safe_dump(conf, f, sort_keys=False)
    with atomic_write(exp_dir / model_name, "wb") as f:
        torch.save(model.state_dict(), f)
    return exp_dir
