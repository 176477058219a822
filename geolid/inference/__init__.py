"""Inference on people's own audio: loading models, reading and windowing audio,
batching, and the result schema. Entry point: :class:`geolid.inference.api.GeoLID`
(also ``geolid.GeoLID``). Submodules import torch only inside functions, except
``api``, which is loaded on first use."""
