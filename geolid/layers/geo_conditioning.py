"""Geolocation conditioning inside a stock transformers ``Wav2Vec2Model``.

The published system needed a fork of transformers for this; here the stock model
is left untouched and the conditioning is *attached* with forward hooks:

* at each configured 0-based layer index L, a branch (frame encoder -> pooling over
  the valid frames -> projector -> GeoPred Linear) predicts the geo vector p_L from
  the layer's raw output h_L;
* a CondProj Linear maps p_L to the hidden size and the result is added to every
  frame of h_L. The hook returns the conditioned tensor, so layer L+1 and anyone
  collecting hidden states see it.

Gradient cut-offs (docs/architecture.md, "Geo conditioning inside the encoder"):
* ``cutoff_gradient_before_condproj``: p_L is detached before CondProj, so the branch
  learns only from its own auxiliary loss (which is taken on the non-detached p_L);
* ``cutoff_gradient_from_backbone``: CondProj's output is detached too, so CondProj
  never gets a gradient ("frozen").

The branch modules are registered on ``model.encoder`` under the names the published
checkpoints use (``pooling``, ``projector``, ``lang2vec_head``,
``lang2vec_conditioning_projs``), so their state-dict keys match. :meth:`detach`
removes the hooks and these modules and gives back the plain encoder.

Per-call state (frame lengths in, predictions out) lives only inside
:meth:`GeoConditioning.capture`; nothing is kept between calls.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch
from torch import nn

# Names under model.encoder, fixed by the published checkpoint layout (docs/architecture.md#checkpoint-layout).
BRANCH_ATTRS = ("frame_encoder", "pooling", "projector", "lang2vec_head",
                "lang2vec_conditioning_projs")


class GeoBranch(nn.Module):
    """One layer's branch: frame encoder -> pooling -> projector -> GeoPred.

    Only a container used while building; its pieces are re-registered on the
    encoder under the published names.
    """

    def __init__(self, frame_encoder: nn.Module, pooling: nn.Module,
                 projector: nn.Module, geo_dim: int):
        super().__init__()
        self.frame_encoder = frame_encoder
        self.pooling = pooling
        self.projector = projector
        # Sequential so the key reads lang2vec_head.L.0.weight as published.
        self.lang2vec_head = nn.Sequential(nn.Linear(projector.output_size(), geo_dim))


@dataclass
class _CallState:
    """What one forward pass of the encoder needs and produces."""

    frame_lengths: Optional[torch.Tensor]
    predictions: Dict[int, torch.Tensor] = field(default_factory=dict)


class GeoConditioning:
    """Attach geo conditioning branches to ``wav2vec2_model.encoder.layers``.

    Args:
        wav2vec2_model: a transformers ``Wav2Vec2Model`` (any size).
        layers: 0-based indices of the encoder layers whose output is conditioned.
        branches: one :class:`GeoBranch` per layer, in the same order.
        geo_dim: size of the geo vector (299 for URIEL "geo").
        shared_conditioning_proj: one CondProj for all layers, else one per layer.
        cutoff_gradient_before_condproj: detach p_L before CondProj.
        cutoff_gradient_from_backbone: detach CondProj's output (CondProj frozen).
        apply_condition: add the condition (False: only predict p_L).
    """

    def __init__(
        self,
        wav2vec2_model: nn.Module,
        layers: Sequence[int],
        branches: Sequence[GeoBranch],
        geo_dim: int,
        shared_conditioning_proj: bool = True,
        cutoff_gradient_before_condproj: bool = True,
        cutoff_gradient_from_backbone: bool = False,
        apply_condition: bool = True,
    ):
        self.encoder = wav2vec2_model.encoder
        self.config = wav2vec2_model.config
        n_layers = len(self.encoder.layers)
        layers = [int(x) for x in layers]
        bad = [x for x in layers if not 0 <= x < n_layers]
        if bad:
            raise ValueError(
                f"lang2vec_conditioning_layers {bad} out of range: the encoder has "
                f"{n_layers} layers, so valid 0-based indices are 0..{n_layers - 1}. "
                "Fix model_conf.lang2vec_conditioning_layers."
            )
        if len(set(layers)) != len(layers):
            raise ValueError(f"lang2vec_conditioning_layers has duplicates: {layers}")
        if len(branches) != len(layers):
            raise ValueError(f"{len(branches)} branches for {len(layers)} layers")
        self.layers: List[int] = layers
        self.shared = shared_conditioning_proj
        self.cutoff_before_condproj = cutoff_gradient_before_condproj
        self.cutoff_from_backbone = cutoff_gradient_from_backbone
        self.apply_condition = apply_condition

        hidden = wav2vec2_model.config.hidden_size
        keys = [str(x) for x in layers]
        self.modules = {
            "frame_encoder": nn.ModuleDict({k: b.frame_encoder for k, b in zip(keys, branches)}),
            "pooling": nn.ModuleDict({k: b.pooling for k, b in zip(keys, branches)}),
            "projector": nn.ModuleDict({k: b.projector for k, b in zip(keys, branches)}),
            "lang2vec_head": nn.ModuleDict({k: b.lang2vec_head for k, b in zip(keys, branches)}),
        }
        if apply_condition:
            self.modules["lang2vec_conditioning_projs"] = (
                nn.Linear(geo_dim, hidden) if shared_conditioning_proj
                else nn.ModuleDict({k: nn.Sequential(nn.Linear(geo_dim, hidden)) for k in keys})
            )
        self._handles: List[torch.utils.hooks.RemovableHandle] = []
        self._state: Optional[_CallState] = None
        self._saved_layerdrop: Optional[float] = None

    # ------------------------------------------------------------------ attach
    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self) -> "GeoConditioning":
        if self.attached:
            return self
        for name, module in self.modules.items():
            if hasattr(self.encoder, name):
                raise RuntimeError(f"encoder already has an attribute '{name}'")
            self.encoder.add_module(name, module)
        # A skipped layer would silently drop its condition: LayerDrop stays off.
        self._saved_layerdrop = getattr(self.config, "layerdrop", 0.0)
        self.config.layerdrop = 0.0
        for layer in self.layers:
            hook = self._make_hook(layer)
            self._handles.append(self.encoder.layers[layer].register_forward_hook(hook))
        return self

    def detach(self) -> None:
        """Remove hooks and branch modules: the encoder is stock again."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for name in self.modules:
            if name in self.encoder._modules:
                del self.encoder._modules[name]
        if self._saved_layerdrop is not None:
            self.config.layerdrop = self._saved_layerdrop
            self._saved_layerdrop = None

    # --------------------------------------------------------------- per call
    @contextlib.contextmanager
    def capture(self, frame_lengths: Optional[torch.Tensor]) -> Iterator[Dict[int, torch.Tensor]]:
        """Run the encoder inside this block; yields {layer: p_L} filled by the hooks.

        ``frame_lengths`` are the encoder's valid frame counts per utterance, used
        by the branch pooling (None: every frame is valid).
        """
        if self._state is not None:
            raise RuntimeError("GeoConditioning.capture() is not re-entrant")
        self._state = _CallState(frame_lengths)
        try:
            yield self._state.predictions
        finally:
            self._state = None

    def condproj(self, layer: int) -> nn.Module:
        projs = self.modules["lang2vec_conditioning_projs"]
        return projs if self.shared else projs[str(layer)]

    def _make_hook(self, layer: int) -> Callable:
        key = str(layer)

        def hook(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            lengths = self._state.frame_lengths if self._state is not None else None
            feats = self.modules["frame_encoder"][key](hidden)  # (B, C, T)
            pooled = self.modules["pooling"][key](feats, feat_lengths=lengths)
            embd = self.modules["projector"][key](pooled)
            pred = self.modules["lang2vec_head"][key](embd)
            if self._state is not None:
                self._state.predictions[layer] = pred
            if not self.apply_condition:
                return None
            cond_in = pred.detach() if self.cutoff_before_condproj else pred
            cond = self.condproj(layer)(cond_in)
            if self.cutoff_from_backbone:
                cond = cond.detach()
            conditioned = hidden + cond.unsqueeze(1).to(hidden.dtype)
            if isinstance(output, tuple):  # transformers 4.x layers return tuples
                return (conditioned,) + tuple(output[1:])
            return conditioned

        return hook


def count_parameters(conditioning: GeoConditioning) -> int:
    """New parameters the conditioning adds (6,382,252 / 5,230,252 at MMS-1B; docs/architecture.md)."""
    return sum(p.numel() for m in conditioning.modules.values() for p in m.parameters())
