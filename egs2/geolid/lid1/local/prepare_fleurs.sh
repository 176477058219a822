#!/usr/bin/env bash
# Prepare fleurs as Kaldi data directories (see geolid/data/corpora/fleurs.py for the layout).
# Usage: local/prepare_fleurs.sh ROOT OUT [options]   (options: --help)
set -euo pipefail
exec "${PYTHON:-python3}" -m geolid.bin.data_prep prepare fleurs "$@"
