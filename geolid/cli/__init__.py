"""The ``geolid`` console script (:mod:`geolid.cli.main`)."""
