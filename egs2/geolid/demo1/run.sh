#!/usr/bin/env bash
# Embedded demo: synthesise speech in 16 languages, train a tiny geo-conditioned LID
# model and the same model without geo conditioning, evaluate both on an in-variant
# test set and an accent-shifted one, and print the results table.
#   ./run.sh              full demo (about 10-15 minutes on 2 CPU cores)
#   ./run.sh --small true CI-sized run (5 languages, a few training steps)
# Any other option goes to lid.sh (e.g. --stage 5).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
small=false
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --small) small=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
. ./path.sh

common=(--train_set train --valid_set dev --test_sets "test test_accent" --expdir exp
        --ngpu 0 --nj 2 --inference_nj 2 --inference_batch_size 8 --cross_domain_tests false)
if [ "${small}" = true ]; then
    common+=(--lid_args "--max_epoch 2 --num_iters_per_epoch 4"
             --local_data_opts "--small true")
fi

./lid.sh "${common[@]}" --lid_config conf/tiny_geo.yaml --stop_stage 8 "${args[@]}"
# The baseline reuses the data and statistics of the first run.
./lid.sh "${common[@]}" --lid_config conf/tiny_baseline.yaml --stage 5 --stop_stage 8 "${args[@]}"

python3 -m geolid.scoring.table --exp-dirs exp/lid_tiny_geo_raw exp/lid_tiny_baseline_raw \
    --sets test test_accent --names "test=in-variant test" "test_accent=accent-shifted test" \
    --out RESULTS.md
echo
echo "Results (accuracy %, written to $(pwd)/RESULTS.md):"
cat RESULTS.md
echo "Plots: exp/lid_tiny_*_raw/inference/*/score/*/confusion.png and .../tsne/*.png"
