"""``geolid serve``: language ID over HTTP, one model per process (docs/serve.md).

* :mod:`geolid.serve.limits`: the service's limits and their defaults (import-light);
* :mod:`geolid.serve.scheduler`: the queue in front of the model, and GPU batching;
* :mod:`geolid.serve.form`: form fields -> :class:`~geolid.inference.options.PredictOptions`;
* :mod:`geolid.serve.app`: the FastAPI application.
"""
