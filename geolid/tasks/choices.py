"""Component registries (ESPnet ``ClassChoices``) for building geolid models.

These mirror ``espnet2.tasks.lid``'s lists plus geolid's classes. They are
declared here, importing each class from its own module, because importing
``espnet2.tasks.lid`` itself costs ~15 s (it pulls in ESPnet's text
preprocessors and g2p); inference only needs to *build* a model. A test checks
that every name the released ``LIDTask`` offers is also offered here.
"""
from __future__ import annotations

from geolid.utils.quiet_imports import quiet_espnet_imports

# The conformer encoder imports espnet.nets...attention, which prints to stdout when
# flash_attn is missing; the block keeps that print out of geolid's stdout.
with quiet_espnet_imports():
    from espnet2.asr.encoder.abs_encoder import AbsEncoder
    from espnet2.asr.frontend.abs_frontend import AbsFrontend
    from espnet2.asr.frontend.asteroid_frontend import AsteroidFrontend
    from espnet2.asr.frontend.default import DefaultFrontend
    from espnet2.asr.frontend.fused import FusedFrontends
    from espnet2.asr.frontend.melspec_torch import MelSpectrogramTorch
    from espnet2.asr.frontend.s3prl import S3prlFrontend
    from espnet2.asr.frontend.windowing import SlidingWindow
    from espnet2.asr.specaug.abs_specaug import AbsSpecAug
    from espnet2.asr.specaug.specaug import SpecAug
    from espnet2.layers.abs_normalize import AbsNormalize
    from espnet2.layers.global_mvn import GlobalMVN
    from espnet2.spk.encoder.conformer_encoder import MfaConformerEncoder
    from espnet2.spk.encoder.identity_encoder import IdentityEncoder
    from espnet2.spk.encoder.rawnet3_encoder import RawNet3Encoder
    from espnet2.spk.encoder.ska_tdnn_encoder import SkaTdnnEncoder
    from espnet2.spk.encoder.xvector_encoder import XvectorEncoder
    from espnet2.spk.loss.abs_loss import AbsLoss
    from espnet2.spk.pooling.abs_pooling import AbsPooling
    from espnet2.spk.pooling.chn_attn_stat_pooling import ChnAttnStatPooling
    from espnet2.spk.pooling.mean_pooling import MeanPooling
    from espnet2.spk.pooling.stat_pooling import StatsPooling
    from espnet2.spk.projector.abs_projector import AbsProjector
    from espnet2.spk.projector.rawnet3_projector import RawNet3Projector
    from espnet2.spk.projector.ska_tdnn_projector import SkaTdnnProjector
    from espnet2.spk.projector.xvector_projector import XvectorProjector
    from espnet2.train.abs_espnet_model import AbsESPnetModel
    from espnet2.train.class_choices import ClassChoices

from geolid.lid.espnet_model import LIDModel
from geolid.lid.espnet_model_upstream_condition import ESPnetLIDUpstreamConditionModel
from geolid.lid.frontend.s3prl_condition import S3prlConditionFrontend
from geolid.lid.loss.aamsoftmax_sc_topk_lang2vec import AAMSoftmaxSCTopKLang2Vec
from geolid.lid.loss.cosine_losses import ScoredAAMSoftmax, ScoredSoftmax, SubcentreAAMSoftmax
from geolid.lid.masked_ecapa import MaskedEcapaTdnnEncoder
from geolid.lid.masked_mvn import MaskedUtteranceMVN

# ``ecapa_tdnn``, ``utterance_mvn`` and ``espnet`` build ESPnet's classes extended with
# padding masks (same parameters and state-dict keys): geolid/lid/masked_ecapa.py,
# masked_mvn.py, espnet_model.py; the three cosine losses score through geolid's
# scoring head (geolid/lid/loss/cosine_losses.py, same keys).
_ENCODERS = dict(ecapa_tdnn=MaskedEcapaTdnnEncoder, identity=IdentityEncoder, mfaconformer=MfaConformerEncoder,
                 rawnet3=RawNet3Encoder, ska_tdnn=SkaTdnnEncoder, xvector=XvectorEncoder)
_POOLINGS = dict(chn_attn_stat=ChnAttnStatPooling, mean=MeanPooling, stats=StatsPooling)
_PROJECTORS = dict(rawnet3=RawNet3Projector, ska_tdnn=SkaTdnnProjector, xvector=XvectorProjector)

model_choices = ClassChoices("model", dict(espnet=LIDModel, upstream_condition=ESPnetLIDUpstreamConditionModel),
                             type_check=AbsESPnetModel, default="espnet")
frontend_choices = ClassChoices(
    "frontend", dict(asteroid_frontend=AsteroidFrontend, default=DefaultFrontend, fused=FusedFrontends,
                     melspec_torch=MelSpectrogramTorch, sliding_window=SlidingWindow, s3prl=S3prlFrontend,
                     s3prl_condition=S3prlConditionFrontend),
    type_check=AbsFrontend, default=None, optional=True)
specaug_choices = ClassChoices("specaug", dict(specaug=SpecAug), type_check=AbsSpecAug, default=None, optional=True)
normalize_choices = ClassChoices("normalize", dict(global_mvn=GlobalMVN, utterance_mvn=MaskedUtteranceMVN),
                                 type_check=AbsNormalize, default=None, optional=True)
encoder_choices = ClassChoices("encoder", _ENCODERS, type_check=AbsEncoder, default="rawnet3")
pooling_choices = ClassChoices("pooling", _POOLINGS, type_check=AbsPooling, default="chn_attn_stat")
projector_choices = ClassChoices("projector", _PROJECTORS, type_check=AbsProjector, default="rawnet3")
encoder_condition_choices = ClassChoices("encoder_condition", _ENCODERS, type_check=AbsEncoder, default="identity")
pooling_condition_choices = ClassChoices("pooling_condition", _POOLINGS, type_check=AbsPooling,
                                         default="chn_attn_stat")
projector_condition_choices = ClassChoices("projector_condition", _PROJECTORS, type_check=AbsProjector,
                                           default="rawnet3")
loss_choices = ClassChoices(
    "loss", dict(aamsoftmax=ScoredAAMSoftmax, aamsoftmax_sc_topk=SubcentreAAMSoftmax,
                 softmax=ScoredSoftmax, aamsoftmax_sc_topk_lang2vec=AAMSoftmaxSCTopKLang2Vec),
    type_check=AbsLoss, default="aamsoftmax")
