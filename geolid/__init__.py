"""geolid: geolocation-aware spoken language identification (an ESPnet plugin).

``from geolid import GeoLID`` gives the inference API; it is imported lazily
(module ``__getattr__``) so that ``import geolid`` and the ``geolid`` CLI's
help stay fast: torch and ESPnet load only when a model is used.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["GeoLID", "Prediction", "PredictOptions", "__version__"]

_LAZY = {"GeoLID": "geolid.inference.api", "Prediction": "geolid.inference.results",
         "PredictOptions": "geolid.inference.options"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'geolid' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
