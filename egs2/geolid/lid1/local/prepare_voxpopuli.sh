#!/usr/bin/env bash
# Prepare voxpopuli as Kaldi data directories in data/: train_voxpopuli_lang, dev_voxpopuli_lang, test_voxpopuli_lang.
# The published interface (ESPnet PR "LID-9"): bash local/prepare_voxpopuli.sh [--dataset_path DIR]
# (default: db.sh's VOXPOPULI); options: local/prepare_corpus.sh, or --help.
# --quoting none reads every TSV line as one row (default: csv's default quoting, as published).
set -euo pipefail
corpus=voxpopuli
# shellcheck source=local/prepare_corpus.sh
. "$(dirname "${BASH_SOURCE[0]}")/prepare_corpus.sh"
