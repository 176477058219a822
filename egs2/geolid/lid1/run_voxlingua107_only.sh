#!/usr/bin/env bash
# Train on VoxLingua107 only; evaluate on six test sets (in-domain VoxLingua107 dev,
# and five out-of-domain sets cut to the training languages). Values as published.
# Four configs (conditioning projection shared|independent x trainable|frozen):
#   conf/voxlingua107_only/mms_ecapa_upcon_32_44_it0.4_{shared,independent}_{trainable,frozen}.yaml
# Stage 4 takes the shape files from utt2num_samples (--stats_with_model false): the
# template's collect_stats would run MMS-1B over 6,628 h of audio on CPU jobs (months:
# about 1,600 h per 1,000 h of audio on two cores, README.md).
# Inference from the published model instead of training (only the test sets are needed):
#   hf download espnet/geolid_vl107only_shared_trainable --local-dir . --exclude README.md meta.yaml .gitattributes
#   ./run_voxlingua107_only.sh --skip_train true
set -euo pipefail
. ./db.sh

train_set=train_voxlingua107_lang
valid_set=dev_voxlingua107_lang
test_sets="dev_voxlingua107_lang test_voxpopuli_lang test_fleurs_lang dev_ml_superb2_lang dev_dialect_ml_superb2_lang dev_babel_over_10s_lang"
tsne_set=dev_voxlingua107_lang
lid_config=conf/voxlingua107_only/mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml

./lid.sh \
    --feats_type raw \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --tsne_set "${tsne_set}" \
    --inference_model valid.accuracy.best.pth \
    --inference_batch_size 4 \
    --extract_embd true \
    --checkpoint_interval 1000 \
    --nj 8 \
    --ngpu 1 \
    --stats_with_model false \
    --expdir exp_voxlingua107_only \
    --lid_config "${lid_config}" \
    --max_utt_per_lang_for_tsne 100 \
    --local_data_opts "--voxlingua107 ${VOXLINGUA107} --fleurs ${FLEURS} --ml_superb2 ${ML_SUPERB2} --voxpopuli ${VOXPOPULI} --babel ${BABEL}" \
    "$@"
