"""A torch model from a :class:`~geolid.model.folder.ModelFolder`, with its head installed.

Building and loading go through :mod:`geolid.tasks.build` (the same builder the
training task uses, weights only, memory-mapped); this adds what makes the loaded
module *the folder's* model: the class count checked against the class order,
finite weights, and the scoring head's state (temperature, extra centres, offsets)
installed as the head's buffers. Every failure is a one-line
:class:`~geolid.model.errors.ModelError` naming the file.
"""
from __future__ import annotations

import argparse

from geolid.model.errors import ModelError, check_finite_weights, loading
from geolid.model.folder import ModelFolder
from geolid.model.head_state import HeadState


def load_torch_model(folder: ModelFolder, calibrated: bool = True):
    """The folder's model on the CPU, in eval mode; ``calibrated=False``: at T = 1."""
    from geolid.tasks.build import build_model_from_args  # torch + ESPnet layers: seconds, only here

    if folder.is_export:
        raise ModelError(f"{folder.exp} is an ONNX export; its torch model is the folder it was "
                         "exported from")
    from geolid.tasks.build import ConfigError

    try:
        with loading(folder.weights):
            model, _ = build_model_from_args(argparse.Namespace(**folder.resolved_config()),
                                             folder.weights, "cpu")
    except ModelError as e:
        if isinstance(e.__cause__, ConfigError) and str(folder.config_path) not in str(e):
            raise ModelError(f"{folder.config_path}: {e}", e.details) from e.__cause__
        raise
    check_finite_weights(model, folder.weights)
    head = getattr(model, "head", None)
    if head is None:
        raise ModelError(f"{folder.config_path}: model '{folder.config.get('model')}' has no scoring head")
    n_out = model.loss.weight.shape[0] // head.sub_centres
    if n_out != len(folder.languages):
        raise ModelError(f"{folder.weights} scores {n_out} languages but the class order "
                         f"({folder.lang2utt or 'shipped with geolid'}) lists {len(folder.languages)}")
    install_head_state(model, folder.head if calibrated else folder.head.uncalibrated(), str(folder.exp))
    return model.eval()


def install_head_state(model, state: HeadState, where: str) -> None:
    """Put ``state`` into ``model``'s scoring head (shapes checked against the model)."""
    head = model.head
    n_classes = model.loss.weight.shape[0] // head.sub_centres
    state.check_against(n_classes, int(model.loss.weight.shape[1]), where)
    head.install(state.temperature, state.extra_classes, state.extra_centres, state.offsets)


def head_state_of(model, base: HeadState) -> HeadState:
    """``base`` with the extra centres and offsets that ``model``'s head holds now."""
    from dataclasses import replace

    import numpy as np

    head = model.head
    offsets = head.offsets.detach().cpu().numpy() if head.offsets.numel() else None
    return replace(base, temperature=float(head.temperature),
                   extra_classes=head.extra_classes.detach().cpu().numpy().astype(np.int64),
                   extra_centres=head.extra_centres.detach().cpu().numpy().astype(np.float32),
                   offsets=offsets)
