"""Exported models: an ONNX graph of the whole model, run with ONNX Runtime on CPU.

:mod:`geolid.export.onnx` writes an export folder (a model folder whose weights are
``model.onnx``: :mod:`geolid.model.folder`); :mod:`geolid.inference.onnx_scorer`
runs it. This package writes only; it imports nothing of ``geolid.inference``.
"""
FORMAT_VERSION = 2   # 2: the scoring head (temperature, enrolled centres) is in the graph
