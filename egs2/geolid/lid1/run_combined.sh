#!/usr/bin/env bash
# Train on all five corpora merged (train_all_no_filter_lang); validate on ML-SUPERB 2.0 dev.
# Inference from the published model instead of training:
#   hf download espnet/geolid_combined_shared_trainable --local-dir .
#   ./run_combined.sh --skip_train true --stage 6 --stop_stage 8
set -euo pipefail
. ./db.sh

train_set=train_all_no_filter_lang
valid_set=dev_ml_superb2_lang
test_sets="dev_voxlingua107_lang test_voxpopuli_lang test_fleurs_lang dev_ml_superb2_lang dev_dialect_ml_superb2_lang dev_babel_over_10s_lang"
lid_config=conf/combined/mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml

./lid.sh \
    --expdir exp_combined \
    --train_set "${train_set}" \
    --combine_train_sets "train_voxlingua107_lang train_fleurs_lang train_ml_superb2_lang train_voxpopuli_lang train_babel_over_10s_lang" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --lid_config "${lid_config}" \
    --local_data_opts "--voxlingua107 ${VOXLINGUA107} --fleurs ${FLEURS} --ml_superb2 ${ML_SUPERB2} --voxpopuli ${VOXPOPULI} --babel ${BABEL}" \
    --inference_model valid.accuracy.best.pth \
    --inference_batch_size 4 \
    --extract_embd true \
    "$@"
