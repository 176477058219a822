"""Model ``upstream_condition``: ESPnet's LID model with geo-conditioned encoder.

Pipeline (docs/architecture.md#model): frontend (wav2vec2 + geo conditioning + weighted layer
sum) -> utterance mean normalisation -> ECAPA-TDNN -> channel-attentive stat
pooling -> projector (language embedding) -> sub-centre AAM-softmax, plus the
downstream GeoPred and the intermediate geo predictions of the conditioned layers.
"""
from __future__ import annotations

import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.spk.loss.abs_loss import AbsLoss
from espnet2.spk.pooling.abs_pooling import AbsPooling
from espnet2.spk.projector.abs_projector import AbsProjector
from espnet2.torch_utils.device_funcs import force_gatherable

from geolid.layers.geo_conditioning import GeoBranch
from geolid.lid.espnet_model import Encoded, LIDModel

__all__ = ["ESPnetLIDUpstreamConditionModel", "Encoded", "LOSS_ALIAS_PREFIX"]

logger = logging.getLogger(__name__)

# The published model registered its loss module a second time inside the HF
# encoder; checkpoints therefore carry these aliases of ``loss.*`` (docs/architecture.md#checkpoint-layout).
LOSS_ALIAS_PREFIX = "frontend.upstream.upstream.model.encoder.aamsoftmax_loss."


class ESPnetLIDUpstreamConditionModel(LIDModel):
    """See module docstring. Constructor keys are the published ``model_conf`` plus
    ``batch_invariant`` (see :class:`~geolid.lid.espnet_model.LIDModel`)."""

    def __init__(
        self,
        frontend: Optional[AbsFrontend],
        specaug: Optional[AbsSpecAug],
        normalize: Optional[AbsNormalize],
        encoder: Optional[AbsEncoder],
        pooling: Optional[AbsPooling],
        projector: Optional[AbsProjector],
        loss: Optional[AbsLoss],
        condition_branches: Optional[Sequence[GeoBranch]] = None,
        lang2vec_conditioning_layers: Sequence[int] = (32, 36, 40, 44),
        apply_intermediate_lang2vec_loss: bool = True,
        apply_intermediate_lang2vec_condition: bool = True,
        inter_lang2vec_loss_weight: float = 0.4,
        cutoff_gradient_from_backbone: bool = False,
        cutoff_gradient_before_condproj: bool = True,
        shared_conditioning_proj: bool = True,
        batch_invariant: bool = True,
        extract_feats_in_collect_stats: Optional[bool] = None,
    ):
        super().__init__(frontend, specaug, normalize, encoder, pooling, projector, loss,
                         batch_invariant=batch_invariant)
        if not hasattr(loss, "combine"):
            raise ValueError("model 'upstream_condition' needs loss 'aamsoftmax_sc_topk_lang2vec'")
        if not 0.0 <= inter_lang2vec_loss_weight <= 1.0:
            raise ValueError("model_conf.inter_lang2vec_loss_weight must be in [0, 1]")
        self.apply_intermediate_lang2vec_loss = apply_intermediate_lang2vec_loss
        self.inter_lang2vec_loss_weight = inter_lang2vec_loss_weight
        self.conditioning_layers: List[int] = list(lang2vec_conditioning_layers)
        if apply_intermediate_lang2vec_condition and not apply_intermediate_lang2vec_loss \
                and cutoff_gradient_before_condproj:
            logger.warning("Intermediate geo branches get no training signal: the "
                           "intermediate loss is off and the gradient is cut before CondProj.")
        uses_branches = apply_intermediate_lang2vec_loss or apply_intermediate_lang2vec_condition
        if uses_branches and self.conditioning_layers:
            if not hasattr(frontend, "attach_geo_conditioning"):
                raise ValueError("model 'upstream_condition' needs frontend 's3prl_condition'")
            if condition_branches is None or len(condition_branches) != len(self.conditioning_layers):
                raise ValueError("one condition branch per conditioning layer is required")
            frontend.attach_geo_conditioning(
                self.conditioning_layers, condition_branches,
                geo_dim=loss.lang2vec_head[0].out_features,
                shared_conditioning_proj=shared_conditioning_proj,
                cutoff_gradient_before_condproj=cutoff_gradient_before_condproj,
                cutoff_gradient_from_backbone=cutoff_gradient_from_backbone,
                apply_condition=apply_intermediate_lang2vec_condition,
            )
        self.register_load_state_dict_pre_hook(_fold_loss_aliases)

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        lid_labels: Optional[torch.Tensor] = None,
        lang2vecs: Optional[torch.Tensor] = None,
        extract_embd: bool = False,
        **kwargs,
    ) -> Union[Tuple[torch.Tensor, torch.Tensor],
               Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]]:
        """ESPnet contract: ``(loss, stats, weight)``, or ``(lang_embd, pred_lids)``
        with ``extract_embd=True``."""
        enc = self.encode(speech, speech_lengths)
        if extract_embd:
            _, _, pred_lids = self.loss(enc.lang_embd, None)
            return enc.lang_embd, pred_lids
        if lid_labels is None:
            raise ValueError("lid_labels are required to compute the loss "
                             "(pass extract_embd=True for inference)")
        ce, accuracy, _ = self.loss(enc.lang_embd, lid_labels)
        stats: Dict[str, torch.Tensor] = {}
        if lang2vecs is None:
            # e.g. a validation set prepared without use_lang2vec: class loss only.
            total = ce
            stats["class_loss"] = ce.detach()
        else:
            total = self._geo_losses(enc, ce, lang2vecs, stats)
        stats["loss"] = total.detach()
        stats["accuracy"] = accuracy.detach()
        return force_gatherable((total, stats, speech.shape[0]), total.device)

    def _geo_losses(self, enc: Encoded, ce: torch.Tensor, lang2vecs: torch.Tensor,
                    stats: Dict[str, torch.Tensor]) -> torch.Tensor:
        geo_final = self.loss.geo_loss(self.loss.predict_lang2vec(enc.lang_embd), lang2vecs)
        inter_mean = None
        inter_stats = {}
        if self.apply_intermediate_lang2vec_loss and enc.geo_preds:
            inter = [self.loss.geo_loss(enc.geo_preds[layer], lang2vecs)
                     for layer in self.conditioning_layers]
            inter_mean = torch.stack(inter).mean()
            inter_stats = {f"inter_geo_loss_layer{layer}": v.detach()
                           for layer, v in zip(self.conditioning_layers, inter)}
            inter_stats["inter_geo_loss_mean"] = inter_mean.detach()
        terms = self.loss.combine(ce, geo_final, inter_mean, self.inter_lang2vec_loss_weight)
        stats["class_loss"] = terms.class_loss.detach()
        stats["geo_loss_downstream"] = geo_final.detach()
        stats.update(inter_stats)
        stats["geo_loss_all"] = terms.geo_loss_all.detach()
        return terms.total

    # ------------------------------------------------------------- scoring
    def score(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Everything a user-facing tool needs from one forward pass.

        Returns ``scores`` (B, n_lang) the scoring head's logits (softmax -> probabilities),
        ``lang2vec`` (B, geo_dim) the downstream geo prediction (probabilities
        for binary lang2vec sets), ``embedding`` (B, D), ``pred_lids`` (B,) and
        ``inter_lang2vec`` {layer: (B, geo_dim)}.
        """
        enc = self.encode(speech, speech_lengths)
        geo = self.loss.predict_lang2vec(enc.lang_embd)
        if isinstance(self.loss.geo_criterion, torch.nn.BCEWithLogitsLoss):
            geo = torch.sigmoid(geo)
        scores = self.class_logits(enc.lang_embd)
        return {"scores": scores, "lang2vec": geo, "embedding": enc.lang_embd,
                "pred_lids": scores.argmax(dim=-1), "inter_lang2vec": enc.geo_preds}


def _fold_loss_aliases(module, state_dict, prefix, local_metadata, strict, missing_keys,
                       unexpected_keys, error_msgs) -> None:
    """Accept published checkpoints: drop ``...encoder.aamsoftmax_loss.*`` aliases.

    They are the same tensors as ``loss.*``; an alias without its ``loss.*`` twin
    is renamed, and a twin that differs is an error (the file is inconsistent).
    """
    alias_prefix = prefix + LOSS_ALIAS_PREFIX
    for key in [k for k in state_dict if k.startswith(alias_prefix)]:
        target = prefix + "loss." + key[len(alias_prefix):]
        value = state_dict.pop(key)
        if target not in state_dict:
            state_dict[target] = value
        elif not torch.equal(state_dict[target].cpu(), value.cpu()):
            error_msgs.append(f"checkpoint key '{key}' should alias '{target}' but differs from it")
