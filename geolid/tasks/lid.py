"""``GeoLIDTask``: ESPnet's released ``LIDTask`` plus the geolocation-aware parts.

It registers the choice names the published configs use, so those configs and
checkpoints load unchanged:

* model ``upstream_condition``, frontend ``s3prl_condition``,
  loss ``aamsoftmax_sc_topk_lang2vec``, preprocessor ``lid`` with
  ``use_lang2vec`` / ``lang2vec_type``;
* the ``encoder_condition`` / ``pooling_condition`` / ``projector_condition``
  groups (declared but unused by released ESPnet) build the per-layer branches.

Everything else (the training loop, samplers, iterators, ECAPA-TDNN, poolings,
projectors) is ESPnet's, except that no file is unpickled: ``checkpoint.pth`` is
resumed by :class:`geolid.tasks.trainer.GeoLIDTrainer` and ``--init_param`` files
are applied by :meth:`GeoLIDTask.build_model`, both through the weights-only
loaders of :mod:`geolid.tasks.checkpoint`. Model building lives in
:mod:`geolid.tasks.build`, which inference uses without importing this module.

The published YAML files train unchanged: their ``language_upsampling_factor`` (a
name released ESPnet does not know) is accepted as ``category_upsampling_factor``
with one notice line, and keys a file repeats resolve as YAML does (the last wins,
as the published code read them).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from espnet2.train.class_choices import ClassChoices

from geolid.utils.quiet_imports import quiet_espnet_imports

with quiet_espnet_imports():  # espnet2.tasks.* import g2p_en, which downloads nltk data
    from espnet2.tasks import lid as espnet_lid
    from espnet2.tasks.lid import LIDTask

from geolid.lid.preprocessor import GeoLIDPreprocessor
from geolid.tasks import build
from geolid.tasks.build import CheckpointMismatchError, ConfigError  # noqa: F401  (re-exported)
from geolid.tasks.checkpoint import load_pretrained_model
from geolid.tasks.choices import (encoder_choices, encoder_condition_choices, frontend_choices,
                                  loss_choices, model_choices, normalize_choices, pooling_choices,
                                  pooling_condition_choices, projector_choices,
                                  projector_condition_choices, specaug_choices)
from geolid.tasks.trainer import GeoLIDTrainer

# Published config spellings -> the option released ESPnet names.
PUBLISHED_ALIASES = {"language_upsampling_factor": "category_upsampling_factor"}

preprocessor_choices = ClassChoices(
    "preprocessor", classes={**espnet_lid.preprocessor_choices.classes, "lid": GeoLIDPreprocessor},
    type_check=espnet_lid.preprocessor_choices.base_type, default="lid")


class GeoLIDTask(LIDTask):
    # resumes from checkpoint.pth through the weights-only loader (geolid/tasks/trainer.py)
    trainer = GeoLIDTrainer

    class_choices_list = [
        model_choices,
        frontend_choices,
        specaug_choices,
        normalize_choices,
        encoder_choices,
        pooling_choices,
        projector_choices,
        encoder_condition_choices,
        pooling_condition_choices,
        projector_condition_choices,
        preprocessor_choices,
        loss_choices,
    ]

    @classmethod
    def get_parser(cls):
        parser = super().get_parser()
        for alias, name in PUBLISHED_ALIASES.items():
            parser.add_argument(f"--{alias}", default=None, help=argparse.SUPPRESS)
        return parser

    @classmethod
    def main(cls, args: Optional[argparse.Namespace] = None, cmd: Optional[Sequence[str]] = None):
        if args is None:
            args = cls.get_parser().parse_args(cmd)
        super().main(args=resolve_published_aliases(args))

    @classmethod
    def build_preprocess_fn(cls, args: argparse.Namespace, train: bool
                            ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        if not args.use_preprocessor:
            return None
        conf = dict(build.component_conf(args, "preprocessor"))
        if not conf.get("rir_apply_prob"):
            # ESPnet opens rir_scp whenever it is set, even at probability 0 (the published
            # configs name dump/raw/rirs.scp that way); it is never read then.
            conf.pop("rir_scp", None)
        return build.build_component(preprocessor_choices, args.preprocessor, conf, train=train,
                                     lang2utt=args.lang2utt)

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> torch.nn.Module:
        """The model of ``args``; in a training run, with ``--init_param`` files applied.

        ``AbsTask.main_worker`` calls this, then moves the model to ``train_dtype``
        and the device, freezes ``--freeze_param``, builds optimizers and
        schedulers, writes config.yaml and only then (unless ``--collect_stats`` or
        ``--dry_run``) loads ``args.init_param``. None of those steps depends on the
        values of the weights, and the loading copies values into the existing
        parameters (casting to ``train_dtype`` afterwards gives the values a copy into
        the cast model gives, for files saved in float32 or narrower; ``ignore_init_mismatch``
        compares shapes only), so loading them here gives the same model, with
        geolid's weights-only reader. ``args.init_param`` is emptied afterwards so ESPnet's
        own loop has nothing left to unpickle; config.yaml therefore records
        ``init_param: []`` (the files applied are logged).
        """
        model = build.build_model(args)
        init_params = list(getattr(args, "init_param", None) or [])
        if init_params and not getattr(args, "collect_stats", False) \
                and not getattr(args, "dry_run", False):
            if getattr(args, "use_adapter", False):
                # ESPnet adds the adapter after build_model and loads init_param after that,
                # so a checkpoint with adapter weights would not fit the model built here.
                raise ConfigError("--init_param with --use_adapter true is not supported by "
                                  "geolid's weights-only loader; drop one of them")
            # ESPnet itself needs the same fix: espnet2/torch_utils/load_pretrained_model.py
            # loads with torch.load(path, weights_only=False), which runs a pickle's code.
            for init_param in init_params:
                logging.info(f"Loading pretrained params from {init_param}")
                load_pretrained_model(init_param, model, ignore_init_mismatch=getattr(
                    args, "ignore_init_mismatch", False))
            args.init_param = []
        return model

    @classmethod
    def build_model_from_file(cls, config_file: Optional[Union[Path, str]] = None,
                              model_file: Optional[Union[Path, str]] = None,
                              device: str = "cpu") -> Tuple[torch.nn.Module, argparse.Namespace]:
        """Build from ``config.yaml`` and load ``model_file`` with strict key checks.

        With a model file the pretrained encoder is *not* downloaded: the
        checkpoint provides every weight, so only its architecture is built.
        """
        model, args = build.build_model_from_file(config_file, model_file, device)
        return model, cls.with_defaults(args)

    @classmethod
    def with_defaults(cls, args: argparse.Namespace) -> argparse.Namespace:
        """Fill options a config leaves out with ``lid_train``'s defaults.

        Configs written by ``lid_train`` list every option, but hand-written or
        trimmed ones need not; ESPnet's inference reads trainer options from them.
        """
        defaults = {a.dest: a.default for a in cls.get_parser()._actions
                    if a.dest not in ("help", "config") and a.default is not argparse.SUPPRESS}
        return argparse.Namespace(**{**defaults, **vars(args)})

    @classmethod
    def build_model_from_args(cls, args: argparse.Namespace, model_file=None, device: str = "cpu"
                              ) -> Tuple[torch.nn.Module, argparse.Namespace]:
        return build.build_model_from_args(args, model_file, device)


def resolve_published_aliases(args: argparse.Namespace) -> argparse.Namespace:
    """Move published spellings (``language_upsampling_factor``) to ESPnet's option name,
    with one notice line each; the alias is removed so the written config.yaml uses
    ESPnet's name."""
    for alias, name in PUBLISHED_ALIASES.items():
        value = getattr(args, alias, None)
        if hasattr(args, alias):
            delattr(args, alias)
        if value is None:
            continue
        print(f"notice: {alias}: {value} (published config spelling) is ESPnet's {name}; "
              f"using {name}: {value}", file=sys.stderr)
        setattr(args, name, value)
    return args
