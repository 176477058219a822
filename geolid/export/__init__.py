"""Exported models: an ONNX graph of the whole model, run with ONNX Runtime on CPU.

An exported folder holds ``model.onnx`` (+ ``model.onnx.data`` above 2 GB), the
``config.yaml`` and ``lang2utt`` (class order) of the source model, and
``geolid_onnx.json``, which marks the folder as an export. The names live here
so that :mod:`geolid.inference.hub` can recognise a folder without importing
onnx or torch.
"""
ONNX_FILE = "model.onnx"
MANIFEST_FILE = "geolid_onnx.json"
FORMAT_VERSION = 1
