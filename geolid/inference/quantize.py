"""Optional int8 dynamic quantisation of the wav2vec2 encoder's linear layers (CPU).

Dynamic quantisation stores the Linear weights as int8 and quantises activations
on the fly; it runs on CPU only. Only the transformer layers are quantised: they
hold almost all the matmul work, while the small heads (ECAPA, pooling, the
AAM-softmax cosine and the geo regressors) stay in float so the scores keep
their scale. The layer modules themselves are kept (their children are
swapped in place), so the geo-conditioning hooks on them stay attached.

Kept, as a deprecated fallback: it needs no export step and no onnxruntime, and
it agrees with fp32 on the demo test sets; but ``torch.ao.quantization`` is
deprecated upstream and ONNX Runtime's int8 (``geolid export --quantize int8``,
:mod:`geolid.export.onnx`) was faster in bench/onnx_speed.py. Remove it when
torch drops ``torch.ao.quantization``.
"""
from __future__ import annotations

import warnings


def wav2vec2_of(model):
    """The HF ``Wav2Vec2Model`` inside a geolid / ESPnet LID model."""
    try:
        return model.frontend.upstream.upstream.model
    except AttributeError:
        raise ValueError("int8 quantisation needs a model with the s3prl_condition wav2vec2 "
                         "frontend") from None


def quantize_int8(model):
    """Quantise ``model``'s encoder-layer Linear weights to int8, in place; returns it."""
    import torch
    from torch import nn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notice
        from torch.ao.quantization import quantize_dynamic

        for layer in wav2vec2_of(model).encoder.layers:
            quantize_dynamic(layer, {nn.Linear}, dtype=torch.qint8, inplace=True)
    return model


def count_quantized(model) -> int:
    """Number of dynamically quantised Linear modules (for checks and reports)."""
    return sum(1 for m in model.modules() if type(m).__name__ == "Linear"
               and type(m).__module__.startswith("torch.ao.nn.quantized"))
