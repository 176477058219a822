#!/usr/bin/env bash
# Prepare ml_superb2 as Kaldi data directories in data/: train_ml_superb2_lang, dev_ml_superb2_lang, dev_dialect_ml_superb2_lang.
# The published interface (ESPnet PR "LID-9"): bash local/prepare_ml_superb2.sh [--dataset_path DIR]
# (default: db.sh's ML_SUPERB2); options: local/prepare_corpus.sh, or --help.
# Reads DIR/<split>/<language>/<id>.wav; --download fetches espnet/ml_superb_hf (needs pyarrow).
set -euo pipefail
corpus=ml_superb2
# shellcheck source=local/prepare_corpus.sh
. "$(dirname "${BASH_SOURCE[0]}")/prepare_corpus.sh"
