#!/usr/bin/env bash
# Prepare babel as Kaldi data directories in data/: train_babel_lang, dev_babel_lang (the >= 10 s sets: stage 3 or local/combine.sh).
# The published interface (ESPnet PR "LID-9"): bash local/prepare_babel.sh [--dataset_path DIR]
# (default: db.sh's BABEL); options: local/prepare_corpus.sh, or --help.
# --sph2pipe PATH for shorten-compressed .sph; --ids 101 402 for some packages only.
set -euo pipefail
corpus=babel
# shellcheck source=local/prepare_corpus.sh
. "$(dirname "${BASH_SOURCE[0]}")/prepare_corpus.sh"
