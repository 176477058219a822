"""Model ``espnet``: ESPnet's LID model, batch-invariant and with :meth:`score`.

Registered under ESPnet's own name ``espnet`` (the no-geo baseline's configs
say ``model: espnet``), so baseline and geo models share one encoding path and
one scoring path (:meth:`LIDModel.score`), used by the recipe's inference and
by ``geolid.inference``. Parameters and state-dict keys are ESPnet's.

Pipeline: frontend -> (specaug) -> utterance mean normalisation -> frame encoder
(ECAPA-TDNN) -> pooling -> projector (language embedding) -> loss / scores.

``batch_invariant`` (model_conf, default true): every utterance of a padded
batch gets the output it gets alone; the frontend repeats each utterance's own
last encoder frame (docs/architecture.md, frame conventions: the extra s3prl frame) and the frame encoder masks the
padded frames. ``false`` reproduces the published code's batch-dependent
outputs bit for bit (needed only to re-create its test-set numbers exactly).
See docs/batching.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.specaug.abs_specaug import AbsSpecAug
from espnet2.layers.abs_normalize import AbsNormalize
from espnet2.lid.espnet_model import ESPnetLIDModel
from espnet2.spk.loss.abs_loss import AbsLoss
from espnet2.spk.pooling.abs_pooling import AbsPooling
from espnet2.spk.projector.abs_projector import AbsProjector
from espnet2.torch_utils.device_funcs import force_gatherable

from geolid.lid.scoring_head import ScoringHead, head_of


@dataclass
class Encoded:
    lang_embd: torch.Tensor                 # (B, D)
    geo_preds: Dict[int, torch.Tensor]      # layer -> (B, geo_dim), intermediate (geo models)
    feats_lens: torch.Tensor                # (B,)


class LIDModel(ESPnetLIDModel):
    """ESPnet's ``ESPnetLIDModel`` with lengths passed to every head module."""

    def __init__(
        self,
        frontend: Optional[AbsFrontend],
        specaug: Optional[AbsSpecAug],
        normalize: Optional[AbsNormalize],
        encoder: Optional[AbsEncoder],
        pooling: Optional[AbsPooling],
        projector: Optional[AbsProjector],
        loss: Optional[AbsLoss],
        batch_invariant: bool = True,
        extract_feats_in_collect_stats: Optional[bool] = None,
    ):
        super().__init__(frontend, specaug, normalize, encoder, pooling, projector, loss)
        self.batch_invariant = batch_invariant
        if loss is not None and head_of(loss) is None:
            raise TypeError(f"loss {type(loss).__name__} has no geolid scoring head; use one of the "
                            "registered losses (aamsoftmax_sc_topk(_lang2vec), aamsoftmax, softmax)")

    @property
    def head(self) -> ScoringHead:
        """The scoring head (owned by the loss, beside the class rows it scores against)."""
        return self.loss.head

    def class_logits(self, lang_embd: torch.Tensor, calibrated: bool = True) -> torch.Tensor:
        """(B, n_lang) logits of the language embeddings (:class:`ScoringHead`)."""
        return self.loss.head(lang_embd, self.loss.weight, calibrated=calibrated)

    @property
    def batch_invariant(self) -> bool:
        return self._batch_invariant

    @batch_invariant.setter
    def batch_invariant(self, value: bool) -> None:
        """One switch for the whole model: the frontend's frame rule and the
        normalisation follow it (the frame encoder gets lengths only when it is on)."""
        self._batch_invariant = bool(value)
        for module in (self.frontend, self.normalize):
            if hasattr(module, "batch_invariant"):
                module.batch_invariant = self._batch_invariant

    # ------------------------------------------------------------ encoding
    def frontend_features(self, speech: torch.Tensor, speech_lengths: torch.Tensor
                          ) -> Tuple[torch.Tensor, torch.Tensor, Dict[int, torch.Tensor]]:
        """Features, their lengths and the intermediate geo predictions (if any)."""
        if hasattr(self.frontend, "forward_with_geo"):
            fe = self.frontend.forward_with_geo(speech, speech_lengths)
            return fe.feats, fe.feats_lens, fe.geo_preds
        if self.frontend is None:
            return speech, speech_lengths, {}
        feats, feats_lens = self.frontend(speech, speech_lengths)
        return feats, feats_lens, {}

    def encode_frame(self, feats: torch.Tensor, feats_lens: Optional[torch.Tensor] = None
                     ) -> torch.Tensor:
        if self.batch_invariant and feats_lens is not None \
                and getattr(self.encoder, "accepts_lengths", False):
            return self.encoder(feats, feats_lens)
        return self.encoder(feats)

    def encode(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Encoded:
        """Waveforms -> language embedding (and this call's intermediate geo predictions)."""
        feats, feats_lens, geo_preds = self.frontend_features(speech, speech_lengths)
        if self.specaug is not None and self.training:
            feats, _ = self.specaug(feats, feats_lens)
        if self.normalize is not None:
            feats, _ = self.normalize(feats, feats_lens)
        frames = self.encode_frame(feats, feats_lens)
        utt = self.pooling(frames, feat_lengths=feats_lens)
        return Encoded(self.project_lang_embd(utt), geo_preds, feats_lens)

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        lid_labels: Optional[torch.Tensor] = None,
        extract_embd: bool = False,
        **kwargs,
    ) -> Union[Tuple[torch.Tensor, torch.Tensor],
               Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]]:
        """ESPnet contract: ``(loss, stats, weight)``, or ``(lang_embd, pred_lids)``
        with ``extract_embd=True``."""
        enc = self.encode(speech, speech_lengths)
        loss, accuracy, pred_lids = self.loss(enc.lang_embd, lid_labels)
        if extract_embd:
            return enc.lang_embd, pred_lids
        if loss is None:
            raise ValueError("lid_labels are required to compute the loss "
                             "(pass extract_embd=True for inference)")
        stats = {"loss": loss.detach(), "accuracy": accuracy.detach()}
        return force_gatherable((loss, stats, speech.shape[0]), loss.device)

    def collect_feats(self, speech: torch.Tensor, speech_lengths: torch.Tensor,
                      lid_labels: Optional[torch.Tensor] = None, **kwargs) -> Dict[str, torch.Tensor]:
        """Features for ESPnet's ``--collect_stats`` (recipe stage 4).

        Returns the lengths too: without them ESPnet's statistics treat a padded
        (T, D) matrix as one vector and fail on batches of unequal lengths.
        """
        feats, feats_lengths = self.extract_feats(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}

    # ------------------------------------------------------------- scoring
    def score(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Everything an inference tool needs from one forward pass.

        ``scores`` (B, n_lang) the scoring head's logits (no margin; extra centres,
        offsets and temperature applied: softmax -> probabilities),
        ``embedding`` (B, D) the language embedding (not normalised),
        ``pred_lids`` (B,) the argmax; geo models add ``lang2vec`` and
        ``inter_lang2vec`` (see the subclass).
        """
        enc = self.encode(speech, speech_lengths)
        scores = self.class_logits(enc.lang_embd)
        return {"scores": scores, "embedding": enc.lang_embd, "pred_lids": scores.argmax(dim=-1)}
