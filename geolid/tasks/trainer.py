"""``GeoLIDTrainer``: ESPnet's LID trainer, resuming from ``checkpoint.pth`` without unpickling code.

The recipe passes ``--resume true``, and ESPnet's ``Trainer.resume``
(``espnet2/train/trainer.py``) reads ``<output_dir>/checkpoint.pth`` with
``torch.load(weights_only=False)``: a crafted ``checkpoint.pth`` in an
experiment folder would run its code when the recipe is re-run. This trainer
reads the file with :func:`geolid.tasks.checkpoint.load_training_state`
(weights-only unpickler; tensors, plain containers and the exact non-tensor
types ESPnet's reporter stores, allowed for that one load) and then restores
what ESPnet's ``resume`` restores, in the same order and with the same
semantics. Everything else (training loop, validation, saving) is ESPnet's
``LIDTrainer``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence, Union

import torch

from geolid.tasks.checkpoint import load_training_state
from geolid.utils.quiet_imports import quiet_espnet_imports

with quiet_espnet_imports():  # ESPnet's trainer pulls in espnet.nets' attention (a stdout print)
    from espnet2.train.lid_trainer import LIDTrainer


class GeoLIDTrainer(LIDTrainer):
    @staticmethod
    def resume(checkpoint: Union[str, Path], model: torch.nn.Module, reporter,
               optimizers: Sequence[torch.optim.Optimizer], schedulers: Sequence[Optional[object]],
               scaler, ngpu: int = 0, strict: bool = True) -> None:
        """``Trainer.resume`` (same signature, same restoring), reading weights only.

        A ``checkpoint.pth`` that holds anything else raises
        :class:`geolid.tasks.checkpoint.UnsafeCheckpointError` (naming the file
        and what to do) before any state is changed.
        """
        states = load_training_state(
            checkpoint,
            map_location=f"cuda:{torch.cuda.current_device()}" if ngpu > 0 else "cpu")
        restore_training_state(states, model, reporter, optimizers, schedulers, scaler, strict)
        logging.info(f"The training was resumed using {checkpoint}")


def restore_training_state(states: dict, model: torch.nn.Module, reporter,
                           optimizers: Sequence[torch.optim.Optimizer],
                           schedulers: Sequence[Optional[object]], scaler,
                           strict: bool = True) -> None:
    """What ESPnet 202511's ``Trainer.resume`` does after its ``torch.load``, step for step."""
    model.load_state_dict(states["model"], strict=strict)
    reporter.load_state_dict(states["reporter"])
    for optimizer, state in zip(optimizers, states["optimizers"]):
        optimizer.load_state_dict(state)
    for scheduler, state in zip(schedulers, states["schedulers"]):
        if scheduler is not None:
            scheduler.load_state_dict(state)
    if scaler is not None:
        if states["scaler"] is None:
            logging.warning("scaler state is not found")
        else:
            scaler.load_state_dict(states["scaler"])
