#!/usr/bin/env bash
# Prepare babel as Kaldi data directories (see geolid/data/corpora/babel.py for the layout).
# Usage: local/prepare_babel.sh ROOT OUT [options]   (options: --help)
set -euo pipefail
exec "${PYTHON:-python3}" -m geolid.bin.data_prep prepare babel "$@"
