#!/usr/bin/env bash
# Prepare voxlingua107 as Kaldi data directories (see geolid/data/corpora/voxlingua107.py for the layout).
# Usage: local/prepare_voxlingua107.sh ROOT OUT [options]   (options: --help)
set -euo pipefail
exec "${PYTHON:-python3}" -m geolid.bin.data_prep prepare voxlingua107 "$@"
