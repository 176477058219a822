"""Building geolid models from configs and checkpoints, without ``espnet2.tasks``.

The training CLI (:mod:`geolid.tasks.lid`) and the inference API both build
models through these functions. They avoid importing ``espnet2.tasks.lid``
(~15 s of text-preprocessing imports), so ``geolid predict`` starts quickly.

A misspelt config key, an unknown choice or a checkpoint that does not fit the
model each give an error naming the key, the choices or the mismatched weights.
"""
from __future__ import annotations

import argparse
import copy
import inspect
import logging
from pathlib import Path
from typing import Optional, Tuple, Union

import torch
from espnet2.torch_utils.initialize import initialize
from espnet2.train.class_choices import ClassChoices

from geolid.layers.geo_conditioning import GeoBranch
from geolid.tasks.checkpoint import CheckpointError, UnsafeCheckpointError, load_state_file  # noqa: F401
from geolid.tasks.choices import (encoder_choices, encoder_condition_choices, frontend_choices,
                                  loss_choices, model_choices, normalize_choices, pooling_choices,
                                  pooling_condition_choices, projector_choices,
                                  projector_condition_choices, specaug_choices)

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A config value or key that cannot build the model."""


class CheckpointMismatchError(RuntimeError):
    """A checkpoint whose keys or shapes do not fit the model its config builds."""


def build_component(choices: ClassChoices, name: Optional[str], conf: Optional[dict], **kwargs):
    """Instantiate ``choices``'s class ``name`` with ``conf``; None if ``name`` is None.

    A misspelt or unknown key in ``<group>_conf`` becomes an error that names the
    group, the key and the keys the class accepts.
    """
    if name is None:
        return None
    cls = choices.get_class(name)
    conf = dict(conf or {})
    # Keys accepted along the class hierarchy: a class that takes **kwargs
    # usually forwards them to its base (or ignores them, as ECAPA-TDNN does,
    # where a typo would silently change nothing).
    accepted = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass is not object:
            accepted |= {p for p, v in inspect.signature(klass.__init__).parameters.items()
                         if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL) and p != "self"}
    allowed = sorted(accepted - set(kwargs))
    unknown = [k for k in conf if k not in allowed]
    if unknown:
        raise ConfigError(
            f"{choices.name}_conf has unknown key(s) {unknown} for {choices.name} '{name}' "
            f"({cls.__name__}); allowed keys: {allowed}"
        )
    try:
        return cls(**kwargs, **conf)
    except TypeError as e:
        raise ConfigError(f"cannot build {choices.name} '{name}' from {choices.name}_conf={conf}: {e}") from e


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    frontend = build_component(frontend_choices, args.frontend, component_conf(args, "frontend"))
    input_size = frontend.output_size() if frontend is not None else args.input_size
    if input_size is None:
        raise ConfigError("no frontend and no --input_size: the feature dimension is unknown")
    specaug = build_component(specaug_choices, getattr(args, "specaug", None),
                              component_conf(args, "specaug"))
    normalize = build_component(normalize_choices, getattr(args, "normalize", None),
                                component_conf(args, "normalize"))
    encoder = build_component(encoder_choices, args.encoder, component_conf(args, "encoder"),
                              input_size=input_size)
    pooling = build_component(pooling_choices, args.pooling, component_conf(args, "pooling"),
                              input_size=encoder.output_size())
    projector = build_component(projector_choices, args.projector, component_conf(args, "projector"),
                                input_size=pooling.output_size())
    lang_num = getattr(args, "lang_num", None) or _count_languages(getattr(args, "lang2utt", None))
    loss = build_component(loss_choices, args.loss, component_conf(args, "loss"),
                           nout=projector.output_size(), nclasses=lang_num)
    model_name = getattr(args, "model", None) or "espnet"
    model_conf = component_conf(args, "model")
    extra = {}
    if model_name == "upstream_condition":
        layers = model_conf.get("lang2vec_conditioning_layers", [32, 36, 40, 44])
        extra["condition_branches"] = [build_branch(args, input_size, loss) for _ in layers]
    model = build_component(model_choices, model_name, model_conf, frontend=frontend,
                            specaug=specaug, normalize=normalize, encoder=encoder,
                            pooling=pooling, projector=projector, loss=loss, **extra)
    if getattr(args, "init", None) is not None:
        initialize(model, args.init)
    return model


def build_branch(args: argparse.Namespace, hidden_size: int, loss) -> GeoBranch:
    frame_encoder = build_component(encoder_condition_choices,
                                    getattr(args, "encoder_condition", None) or "identity",
                                    component_conf(args, "encoder_condition"), input_size=hidden_size)
    pooling = build_component(pooling_condition_choices,
                              getattr(args, "pooling_condition", None) or "chn_attn_stat",
                              component_conf(args, "pooling_condition"),
                              input_size=frame_encoder.output_size())
    projector = build_component(projector_condition_choices,
                                getattr(args, "projector_condition", None) or "rawnet3",
                                component_conf(args, "projector_condition"),
                                input_size=pooling.output_size())
    return GeoBranch(frame_encoder, pooling, projector, geo_dim=loss.lang2vec_head[0].out_features)


def build_model_from_file(
    config_file: Optional[Union[Path, str]] = None,
    model_file: Optional[Union[Path, str]] = None,
    device: str = "cpu",
) -> Tuple[torch.nn.Module, argparse.Namespace]:
    """Build from ``config.yaml`` and load ``model_file`` with strict key checks.

    When a model file is given, the pretrained encoder is *not* downloaded:
    the checkpoint provides every weight, so only its architecture is built.
    """
    if config_file is None:
        if model_file is None:
            raise ValueError("give config_file, model_file or both")
        config_file = Path(model_file).parent / "config.yaml"
    config_file = Path(config_file)
    if not config_file.is_file():
        raise FileNotFoundError(f"config file not found: {config_file}")
    from geolid.model.errors import ModelError, read_config

    try:
        args = argparse.Namespace(**read_config(config_file))
    except ModelError as e:   # invalid YAML, not a mapping: a config problem, named
        raise ConfigError(str(e)) from None
    try:
        return build_model_from_args(args, model_file, device)
    except ConfigError as e:
        raise ConfigError(f"{config_file}: {e}") from None


def build_model_from_args(args: argparse.Namespace, model_file=None, device: str = "cpu"
                          ) -> Tuple[torch.nn.Module, argparse.Namespace]:
    """Like :func:`build_model_from_file`, from an already loaded config.

    With a ``model_file`` the architecture is built on the meta device (no
    memory, no random init: most of a 1B model's build time) and the
    memory-mapped checkpoint tensors are assigned in their place, so loading
    costs about the checkpoint's size in memory and a plain ``torch.load``'s
    time. Nothing process-wide is patched meanwhile (:func:`build_on_meta`).
    """
    args = copy.deepcopy(args)
    if model_file is None:
        return build_model(args).to(device), args
    if getattr(args, "frontend", None) == "s3prl_condition":
        args.frontend_conf = dict(args.frontend_conf or {}, load_pretrained_weights=False)
    state = load_state_file(model_file, mmap=True)
    try:
        model = build_on_meta(args)
    except (ConfigError, MemoryError):
        raise
    except Exception as e:   # a value of the wrong type or range: the config's fault, not the file's
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"cannot build the model it describes: {type(e).__name__}: {first}; fix the "
                          "value in config.yaml (it is not the checkpoint's fault)") from e
    load_state_dict_strict(model, state, str(model_file), assign=True)
    return model.to(device), args


def build_on_meta(args: argparse.Namespace) -> torch.nn.Module:
    """:func:`build_model` with every parameter and buffer on the meta device.

    Nothing is allocated or randomly initialised (most of a 1B model's build
    time); :func:`load_state_dict_strict` with ``assign=True`` then puts a
    checkpoint's tensors in place. ``torch.device("meta")`` is a thread-local
    mode, so other threads build real models meanwhile.
    """
    with torch.device("meta"):
        return build_model(args)


def component_conf(args: argparse.Namespace, group: str) -> dict:
    """``args.<group>_conf`` as a dict; configs may leave it out (ESPnet defaults it to {})."""
    value = getattr(args, f"{group}_conf", None)
    if value is not None and not isinstance(value, dict):
        raise ConfigError(f"{group}_conf must be a mapping, got {type(value).__name__}: {value!r}")
    return dict(value or {})


def _count_languages(lang2utt: Optional[str]) -> Optional[int]:
    if lang2utt and Path(lang2utt).is_file():
        from geolid.languages import read_class_order

        return len(read_class_order(lang2utt))
    return None


def load_state_dict_strict(model: torch.nn.Module, state: dict, source: str = "checkpoint",
                           assign: bool = False) -> None:
    """``load_state_dict(strict=True)`` with an error that lists what does not fit.

    ``assign=True`` puts the checkpoint's tensors themselves into the model (for
    a model built on the meta device, :func:`build_on_meta`); parameters the
    model shares between modules stay shared, and a tensor the checkpoint
    stores in another dtype is converted to the model's. A checkpoint has no
    non-persistent buffers, so they are still on the meta device then: every
    module that defines ``reset_non_persistent_buffers()`` is asked to set its
    own (from its parameters, or from files next to the checkpoint) after the
    weights are in place. A tensor left on the meta device after that is a
    :class:`CheckpointMismatchError` naming it.
    """
    state = dict(state)
    own = model.state_dict(keep_vars=True)
    shape_errors = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                    for k, v in state.items()
                    if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)]
    if shape_errors:
        raise CheckpointMismatchError(
            f"{source} does not match the model built from its config: "
            f"{len(shape_errors)} shape mismatch(es):\n  " + "\n  ".join(shape_errors[:20])
            + "\nCheck that config.yaml (lang_num / lang2utt, projector sizes, encoder size) "
              "is the one the checkpoint was trained with."
        )
    if assign:
        state = {k: v.to(own[k].dtype) if k in own and torch.is_tensor(v) and v.is_floating_point()
                 and own[k].is_floating_point() else v for k, v in state.items()}
        shared = _shared_parameters(model)
    result = model.load_state_dict(state, strict=False, assign=assign)
    missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
    if missing or unexpected:
        def show(keys):
            return "\n    ".join(keys[:15]) + (f"\n    ... ({len(keys) - 15} more)" if len(keys) > 15 else "")
        msg = f"{source} does not match the model built from its config."
        if missing:
            msg += f"\n  missing keys ({len(missing)}):\n    {show(missing)}"
        if unexpected:
            msg += f"\n  unexpected keys ({len(unexpected)}):\n    {show(unexpected)}"
        msg += ("\nCommon causes: shared_conditioning_proj or lang2vec_conditioning_layers "
                "differ between config and checkpoint, or the checkpoint is from another model.")
        raise CheckpointMismatchError(msg)
    if assign:
        _retie(model, shared)
        reset_non_persistent_buffers(model)
        on_meta = [n for n, t in list(model.named_parameters()) + list(model.named_buffers())
                   if t.device.type == "meta"]
        if on_meta:
            raise CheckpointMismatchError(
                f"{source}: no value for {on_meta[:10]}{' ...' if len(on_meta) > 10 else ''} after "
                "loading (non-persistent buffers: their module must define "
                "reset_non_persistent_buffers() to set them)")


def reset_non_persistent_buffers(model: torch.nn.Module) -> None:
    """Call ``reset_non_persistent_buffers()`` on every module of ``model`` that defines it.

    The contract for modules with buffers that are not saved in a checkpoint
    (``register_buffer(..., persistent=False)``): after a meta-device build and
    ``load_state_dict(assign=True)``, the method gives those buffers real values
    on the device of the module's parameters.
    """
    for module in model.modules():
        reset = getattr(module, "reset_non_persistent_buffers", None)
        if callable(reset):
            reset()


def _shared_parameters(model: torch.nn.Module) -> list:
    """Groups of names under which one Parameter object is registered (tied weights)."""
    names: dict = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), []).append(name)
    return [group for group in names.values() if len(group) > 1]


def _retie(model: torch.nn.Module, shared: list) -> None:
    """``assign=True`` gives each name its own tensor; tie the groups again."""
    for first, *others in shared:
        param = model.get_parameter(first)
        for name in others:
            owner, _, attr = name.rpartition(".")
            setattr(model.get_submodule(owner), attr, param)
