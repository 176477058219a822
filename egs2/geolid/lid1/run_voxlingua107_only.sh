#!/usr/bin/env bash
# Train on VoxLingua107 only; evaluate on six test sets (docs/architecture.md).
# Inference from the published model instead of training:
#   hf download espnet/geolid_vl107only_shared_trainable --local-dir .
#   ./run_voxlingua107_only.sh --skip_train true --stage 6 --stop_stage 8
set -euo pipefail
. ./db.sh

train_set=train_voxlingua107_lang
valid_set=dev_voxlingua107_lang
test_sets="dev_voxlingua107_lang test_voxpopuli_lang test_fleurs_lang dev_ml_superb2_lang dev_dialect_ml_superb2_lang dev_babel_over_10s_lang"
lid_config=conf/voxlingua107_only/mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml

./lid.sh \
    --expdir exp_voxlingua107_only \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --lid_config "${lid_config}" \
    --local_data_opts "--voxlingua107 ${VOXLINGUA107} --fleurs ${FLEURS} --ml_superb2 ${ML_SUPERB2} --voxpopuli ${VOXPOPULI} --babel ${BABEL}" \
    --inference_model valid.accuracy.best.pth \
    --inference_batch_size 4 \
    --extract_embd true \
    "$@"
