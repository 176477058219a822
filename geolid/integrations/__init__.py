"""Bridges to data tools: Ray Data (:mod:`geolid.integrations.ray`), Lhotse
(:mod:`geolid.integrations.lhotse`) and the Arrow/Parquet form of a record
(:mod:`geolid.integrations.records`).

Each module imports its tool when it is used, not here: ``import geolid`` and the
CLI's help never load ray, lhotse or torch. Install them with the ``scale`` extra
(``pip install geolid-espnet[scale]``; ``tools/install.sh`` does).
"""
