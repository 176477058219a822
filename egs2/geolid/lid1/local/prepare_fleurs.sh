#!/usr/bin/env bash
# Prepare fleurs as Kaldi data directories in data/: train_fleurs_lang, dev_fleurs_lang, test_fleurs_lang.
# The published interface (ESPnet PR "LID-9"): bash local/prepare_fleurs.sh [--dataset_path DIR]
# (default: db.sh's FLEURS); options: local/prepare_corpus.sh, or --help.
# Reads a local copy of the raw release (the published script loaded google/xtreme_s with
# the datasets library); --download fetches missing languages from the Hub (google/fleurs).
set -euo pipefail
corpus=fleurs
# shellcheck source=local/prepare_corpus.sh
. "$(dirname "${BASH_SOURCE[0]}")/prepare_corpus.sh"
