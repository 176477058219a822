#!/usr/bin/env bash
# Prepare voxpopuli as Kaldi data directories (see geolid/data/corpora/voxpopuli.py for the layout).
# Usage: local/prepare_voxpopuli.sh ROOT OUT [options]   (options: --help)
set -euo pipefail
exec "${PYTHON:-python3}" -m geolid.bin.data_prep prepare voxpopuli "$@"
