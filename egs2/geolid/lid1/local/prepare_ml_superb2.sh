#!/usr/bin/env bash
# Prepare ml_superb2 as Kaldi data directories (see geolid/data/corpora/ml_superb2.py for the layout).
# Usage: local/prepare_ml_superb2.sh ROOT OUT [options]   (options: --help)
set -euo pipefail
exec "${PYTHON:-python3}" -m geolid.bin.data_prep prepare ml_superb2 "$@"
