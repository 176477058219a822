#!/usr/bin/env bash
# Prepare voxlingua107 as Kaldi data directories in data/: train_voxlingua107_lang, dev_voxlingua107_lang.
# The published interface (ESPnet PR "LID-9"): bash local/prepare_voxlingua107.sh [--dataset_path DIR]
# (default: db.sh's VOXLINGUA107); options: local/prepare_corpus.sh, or --help.
# Not done here: the published stage 1 download (wget of the zips); extract them into DIR/<lang>/ and DIR/dev/.
set -euo pipefail
corpus=voxlingua107
# shellcheck source=local/prepare_corpus.sh
. "$(dirname "${BASH_SOURCE[0]}")/prepare_corpus.sh"
