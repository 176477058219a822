#!/usr/bin/env bash
# Train on all five corpora merged (train_all_no_filter_lang); validate on ML-SUPERB 2.0
# dev; the same six test sets. Values as published (embeddings not extracted in stage 6;
# t-SNE of the training set in stage 8).
# Stage 4 takes the shape files from utt2num_samples (--stats_with_model false): the
# template's collect_stats would run MMS-1B over 9,865 h of audio on CPU jobs.
# Stage 1 also writes the class order (dump/raw/train_all_no_filter_lang/lang2utt) from
# the training sets' labels, no audio formatted; the merge is made in stage 3, or per
# corpus as published: --stage 3 --stop_stage 3 --train_set train_<corpus>_lang ..., then
# local/combine.sh (README.md).
# Inference from the published model instead of training (the test sets, and for its
# class order ML-SUPERB 2.0's training folders, see README.md):
#   hf download espnet/geolid_combined_shared_trainable --local-dir . --exclude README.md meta.yaml .gitattributes
#   ./run_combined.sh --skip_train true
set -euo pipefail
. ./db.sh

train_set=train_all_no_filter_lang
valid_set=dev_ml_superb2_lang
test_sets="dev_voxlingua107_lang test_voxpopuli_lang test_fleurs_lang dev_ml_superb2_lang dev_dialect_ml_superb2_lang dev_babel_over_10s_lang"
tsne_set=train_all_no_filter_lang
lid_config=conf/combined/mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml

./lid.sh \
    --feats_type raw \
    --train_set "${train_set}" \
    --combine_train_sets "train_voxlingua107_lang train_fleurs_lang train_ml_superb2_lang train_voxpopuli_lang train_babel_over_10s_lang" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --tsne_set "${tsne_set}" \
    --inference_model valid.accuracy.best.pth \
    --inference_batch_size 4 \
    --extract_embd false \
    --checkpoint_interval 1000 \
    --nj 8 \
    --ngpu 1 \
    --stats_with_model false \
    --expdir exp_combined \
    --lid_config "${lid_config}" \
    --max_utt_per_lang_for_tsne 100 \
    --local_data_opts "--voxlingua107 ${VOXLINGUA107} --fleurs ${FLEURS} --ml_superb2 ${ML_SUPERB2} --voxpopuli ${VOXPOPULI} --babel ${BABEL} --class_order dump/raw/train_all_no_filter_lang/lang2utt" \
    "$@"
