#!/usr/bin/env python3
"""LID inference and embedding extraction: ESPnet's ``lid_inference`` on ``GeoLIDTask``.

ESPnet's released script hard-codes ``LIDTask``; it is reused unchanged except
that its module-level task is rebound to ``GeoLIDTask``, so it builds geolid
models (and checkpoints in the published layout). Options, outputs
(``<set>_lids``, embeddings, t-SNE) and resume behaviour are ESPnet's.
"""
import espnet2.bin.lid_inference as _espnet_lid_inference

from geolid.tasks.lid import GeoLIDTask

_espnet_lid_inference.LIDTask = GeoLIDTask
get_parser = _espnet_lid_inference.get_parser


def main(cmd=None):
    _espnet_lid_inference.main(cmd)


if __name__ == "__main__":
    main()
