#!/usr/bin/env bash
# Staged recipe for geolocation-aware spoken language identification (geolid).
# Shaped like ESPnet's egs2/TEMPLATE/lid1/lid.sh, but self-contained: no Kaldi tools
# and no ESPnet source checkout; every stage calls a Python entry point.
#
#  1 data preparation (local/data.sh)      6 inference on each test set (--nj jobs, merged)
#  2 speed perturbation (optional)         7 scoring: metrics, confusion matrices, RESULTS.md
#  3 format audio into dump/raw (16 kHz)   8 t-SNE plots of language embeddings
#  4 collect shape statistics              9 pack the model in the published layout
#  5 training (ESPnet trainer, DDP)       10 upload (prints the command)
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (lid.sh:${BASH_LINENO[0]}) $*"; }
die() { log "ERROR: $*" >&2; exit 1; }
min() { local a=$1 b=$2; echo $(( a < b ? a : b )); }

# General
stage=1; stop_stage=10000
skip_data_prep=false; skip_train=false; skip_eval=false; skip_packing=true; skip_upload=true
ngpu=1; num_nodes=1; nj=4; inference_nj=4; gpu_inference=false
dumpdir=dump; expdir=exp
python=${PYTHON:-python3}
# Data
local_data_opts=""
speed_perturb_factors=""
audio_format=wav; fs=16000
train_set=""; valid_set=""; test_sets=""
combine_train_sets=""          # build train_set in dump/raw by merging these formatted sets
cross_domain_tests=true        # cut test sets down to the training languages (<test>_cross_<train>)
# Statistics
stats_with_model=true          # true: ESPnet collect_stats through the model (checks collect_feats);
                               # false: shape files straight from utt2num_samples (fast, big corpora)
# Training
lid_config=""; lid_args=""; lid_tag=""; lid_exp=""; lid_stats_dir=""
pretrained_model=""            # --init_param for fine-tuning
# Inference
inference_model=valid.accuracy.best.pth
inference_batch_size=4
extract_embd=true
inference_args=""
# Packing / upload
hf_repo=""

help_message="Usage: $0 --train_set <set> --valid_set <set> --test_sets '<sets>' --lid_config <yaml> [options]
Options (defaults above in lid.sh):
  --stage/--stop_stage N   --skip_data_prep/--skip_train/--skip_eval true|false
  --lid_config FILE        --lid_args 'extra lid_train args'   --lid_tag TAG   --expdir DIR
  --ngpu N --num_nodes N   (DDP through ESPnet's launcher; Slurm via cmd.sh)
  --nj N --inference_nj N  --inference_model FILE --inference_batch_size N
  --test_sets 'a b c'      --speed_perturb_factors '0.9 1.0 1.1'  --cross_domain_tests true|false"

while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h) echo "$help_message"; exit 0 ;;
        --*=*) key=${1%%=*}; key=${key#--}; val=${1#*=}; shift ;;
        --*) key=${1#--}; [ $# -ge 2 ] || die "option --$key needs a value"; val=$2; shift 2 ;;
        *) die "unexpected argument '$1'\n$help_message" ;;
    esac
    declare -p "$key" >/dev/null 2>&1 || die "unknown option --$key\n$help_message"
    printf -v "$key" '%s' "$val"
done

. ./path.sh
. ./cmd.sh

[ -n "$train_set" ] || die "--train_set is required"
[ -n "$valid_set" ] || die "--valid_set is required"
[ -n "$lid_config" ] || [ -n "$lid_tag" ] || die "--lid_config (or --lid_tag) is required"
[ -n "$lid_tag" ] || lid_tag=$(basename "${lid_config}" .yaml)
[ -n "$lid_exp" ] || lid_exp="${expdir}/lid_${lid_tag}_raw"
[ -n "$lid_stats_dir" ] || lid_stats_dir="${expdir}/lid_stats_${fs}"
data_feats=${dumpdir}/raw
if [ -n "$speed_perturb_factors" ]; then train_set_sp="${train_set}_sp"; else train_set_sp="${train_set}"; fi
if "$skip_train"; then stage_train_skip=true; else stage_train_skip=false; fi

# The languages the model knows: the training lang2utt (line number = class index).
train_lang2utt() {
    if [ -f "${data_feats}/${train_set_sp}/lang2utt" ]; then echo "${data_feats}/${train_set_sp}/lang2utt"
    else "$python" -m geolid.bin.model_check lang2utt "${lid_exp}/config.yaml"; fi
}
# The set each stage evaluates for a test set (cut to the training languages when needed).
eval_set_of() {
    local t=$1
    if "$cross_domain_tests" && [ -d "${data_feats}/${t}_cross_${train_set}" ]; then echo "${t}_cross_${train_set}"
    else echo "$t"; fi
}

if [ ${stage} -le 1 ] && [ ${stop_stage} -ge 1 ] && ! "$skip_data_prep"; then
    log "Stage 1: data preparation (local/data.sh ${local_data_opts})"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
fi

if [ ${stage} -le 2 ] && [ ${stop_stage} -ge 2 ] && ! "$skip_data_prep" && [ -n "$speed_perturb_factors" ]; then
    log "Stage 2: speed perturbation of data/${train_set} by ${speed_perturb_factors}"
    # shellcheck disable=SC2086
    "$python" -m geolid.bin.data_prep speed-perturb "data/${train_set}" "data/${train_set_sp}" --factors ${speed_perturb_factors}
fi

if [ ${stage} -le 3 ] && [ ${stop_stage} -ge 3 ] && ! "$skip_data_prep"; then
    log "Stage 3: format audio into ${data_feats} (${fs} Hz ${audio_format}, mono)"
    _sets="${test_sets}"
    if ! "$skip_train"; then
        if [ -n "${combine_train_sets}" ]; then _sets="${combine_train_sets} ${valid_set} ${test_sets}"
        else _sets="${train_set_sp} ${valid_set} ${test_sets}"; fi
    fi
    _done=" "
    for dset in ${_sets}; do
        case "${_done}" in *" ${dset} "*) continue ;; esac; _done+="${dset} "
        [ -d "data/${dset}" ] || die "data/${dset} not found: run stage 1 (local/data.sh) first"
        "$python" -m geolid.bin.data_prep prepare validate "data/${dset}"
        "$python" -m geolid.bin.data_prep format "data/${dset}" "${data_feats}/${dset}" \
            --fs "${fs}" --audio-format "${audio_format}" --nj "${nj}"
    done
    if [ -n "${combine_train_sets}" ] && ! "$skip_train"; then
        # Babel is segmented and the others are not, so merge the formatted sets.
        _parts=""; for d in ${combine_train_sets}; do _parts+=" ${data_feats}/${d}"; done
        # shellcheck disable=SC2086
        "$python" -m geolid.bin.data_prep prepare combine "${data_feats}/${train_set_sp}" ${_parts}
        _n=""; for d in ${combine_train_sets}; do _n+=" ${data_feats}/${d}/utt2num_samples"; done
        # shellcheck disable=SC2086
        "$python" -m geolid.bin.data_prep merge ${_n} --out "${data_feats}/${train_set_sp}/utt2num_samples"
    fi
    if "$cross_domain_tests"; then
        for dset in ${test_sets}; do
            # Only languages the model was trained on can be scored fairly.
            _train_langs=$(train_lang2utt)
            if ! "$python" -m geolid.bin.data_prep is-subset "${data_feats}/${dset}" "${_train_langs}"; then
                "$python" -m geolid.bin.data_prep prepare cross "${data_feats}/${dset}" \
                    "${_train_langs}" "${data_feats}/${dset}_cross_${train_set}"
            fi
        done
    fi
fi

if [ ${stage} -le 4 ] && [ ${stop_stage} -ge 4 ] && ! "$stage_train_skip"; then
    log "Stage 4: shape statistics -> ${lid_stats_dir}"
    mkdir -p "${lid_stats_dir}"
    if "$stats_with_model"; then
        _logdir="${lid_stats_dir}/logdir"; mkdir -p "${_logdir}"
        _nj=$(min "${nj}" "$(wc -l < "${data_feats}/${valid_set}/wav.scp")")
        "$python" -m geolid.bin.data_prep split-scp "${data_feats}/${train_set_sp}/wav.scp" "${_nj}" "${_logdir}/train"
        "$python" -m geolid.bin.data_prep split-scp "${data_feats}/${valid_set}/wav.scp" "${_nj}" "${_logdir}/valid"
        # shellcheck disable=SC2086
        ${train_cmd} JOB=1:"${_nj}" "${_logdir}/stats.JOB.log" \
            "$python" -m geolid.bin.lid_train --collect_stats true --use_preprocessor true \
                --ngpu 0 --num_workers 0 --config "${lid_config}" \
                --lang2utt "${data_feats}/${train_set_sp}/lang2utt" \
                --lang_num "$(wc -l < "${data_feats}/${train_set_sp}/lang2utt")" \
                --train_data_path_and_name_and_type "${data_feats}/${train_set_sp}/wav.scp,speech,sound" \
                --train_data_path_and_name_and_type "${data_feats}/${train_set_sp}/utt2lang,lid_labels,text" \
                --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/wav.scp,speech,sound" \
                --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/utt2lang,lid_labels,text" \
                --train_shape_file "${_logdir}/train/keys.JOB.scp" \
                --valid_shape_file "${_logdir}/valid/keys.JOB.scp" \
                --output_dir "${_logdir}/stats.JOB" ${lid_args}
        _dirs=""; for n in $(seq "${_nj}"); do _dirs+=" --input_dir ${_logdir}/stats.${n}"; done
        # shellcheck disable=SC2086
        "$python" -m espnet2.bin.aggregate_stats_dirs ${_dirs} --output_dir "${lid_stats_dir}"
    else
        for part in train valid; do
            if [ $part = train ]; then d=${train_set_sp}; else d=${valid_set}; fi
            mkdir -p "${lid_stats_dir}/${part}"
            cp "${data_feats}/${d}/utt2num_samples" "${lid_stats_dir}/${part}/speech_shape"
        done
    fi
fi

if [ ${stage} -le 5 ] && [ ${stop_stage} -ge 5 ] && ! "$stage_train_skip"; then
    log "Stage 5: training ${lid_exp} (config ${lid_config}, ngpu ${ngpu}, nodes ${num_nodes})"
    mkdir -p "${lid_exp}"
    _opts=(--config "${lid_config}" --output_dir "${lid_exp}" --ngpu "${ngpu}"
           --lang2utt "${data_feats}/${train_set_sp}/lang2utt"
           --lang_num "$(wc -l < "${data_feats}/${train_set_sp}/lang2utt")"
           --train_data_path_and_name_and_type "${data_feats}/${train_set_sp}/wav.scp,speech,sound"
           --train_data_path_and_name_and_type "${data_feats}/${train_set_sp}/utt2lang,lid_labels,text"
           --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/wav.scp,speech,sound"
           --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/utt2lang,lid_labels,text"
           --train_shape_file "${lid_stats_dir}/train/speech_shape"
           --valid_shape_file "${lid_stats_dir}/valid/speech_shape")
    [ -n "$pretrained_model" ] && _opts+=(--init_param "${pretrained_model}")
    if [ "${num_nodes}" -gt 1 ]; then
        # Multi-node DDP: one Slurm task per node, ESPnet spawns one process per GPU.
        # shellcheck disable=SC2086
        ${cuda_cmd} --gpu "${ngpu}" --num_nodes "${num_nodes}" "${lid_exp}/train.log" \
            srun --export=ALL "$python" -m geolid.bin.lid_train "${_opts[@]}" ${lid_args} \
                --multiprocessing_distributed true --dist_launcher slurm \
                --dist_init_method "file://$(pwd)/${lid_exp}/.dist_init_$$"
    else
        _mp=false; [ "${ngpu}" -gt 1 ] && _mp=true
        # shellcheck disable=SC2086
        _echo=(); [ "${cmd_backend:-local}" = local ] && _echo=(--echo "epoch results|training was finished")
        ${cuda_cmd} --gpu "${ngpu}" "${_echo[@]}" "${lid_exp}/train.log" \
            "$python" -m geolid.bin.lid_train "${_opts[@]}" ${lid_args} --multiprocessing_distributed "${_mp}"
    fi
    log "Training finished: ${lid_exp} (log ${lid_exp}/train.log)"
fi

if [ ${stage} -le 6 ] && [ ${stop_stage} -ge 6 ] && ! "$skip_eval"; then
    log "Stage 6: inference with ${lid_exp}/${inference_model}"
    "$python" -m geolid.bin.model_check check-model "${lid_exp}" "${inference_model}"
    if "$gpu_inference"; then _cmd=${cuda_cmd}; _ngpu=1; else _cmd=${decode_cmd}; _ngpu=0; fi
    for tset in ${test_sets}; do
        dset=$(eval_set_of "${tset}")
        _dir="${lid_exp}/inference/${dset}"
        _logdir="${_dir}/logdir"; mkdir -p "${_logdir}"
        _nj=$(min "${inference_nj}" "$(wc -l < "${data_feats}/${dset}/wav.scp")")
        "$python" -m geolid.bin.data_prep split-data "${data_feats}/${dset}" "${_nj}" "${_logdir}/split"
        for n in $(seq "${_nj}"); do mkdir -p "${_logdir}/output.${n}"; done  # ESPnet writes into it
        # ESPnet's lid_inference names outputs after the data folder, so each split keeps the set name.
        # shellcheck disable=SC2086
        ${_cmd} --gpu "${_ngpu}" JOB=1:"${_nj}" "${_logdir}/inference.JOB.log" \
            "$python" -m geolid.bin.lid_inference --ngpu "${_ngpu}" --num_workers 0 \
                --data_path_and_name_and_type "${_logdir}/split/JOB/${dset}/wav.scp,speech,sound" \
                --data_path_and_name_and_type "${_logdir}/split/JOB/${dset}/utt2lang,lid_labels,text" \
                --lid_train_config "${lid_exp}/config.yaml" --lid_model_file "${lid_exp}/${inference_model}" \
                --valid_batch_size "${inference_batch_size}" --fix_duration false \
                --extract_embd "${extract_embd}" --save_embd_per_utt "${extract_embd}" \
                --save_embd_avg_lang "${extract_embd}" --save_tsne_plot false \
                --use_tensorboard false --use_matplotlib false \
                --output_dir "${_logdir}/output.JOB" ${inference_args}
        "$python" -m geolid.bin.merge_inference --set "${dset}" --out "${_dir}" "${_logdir}"/output.*
    done
fi

if [ ${stage} -le 7 ] && [ ${stop_stage} -ge 7 ] && ! "$skip_eval"; then
    log "Stage 7: scoring"
    _sets=""
    for tset in ${test_sets}; do
        dset=$(eval_set_of "${tset}")
        _dir="${lid_exp}/inference/${dset}"
        [ -f "${_dir}/${dset}_lids" ] || die "${_dir}/${dset}_lids not found: run stage 6 first"
        "$python" -m geolid.bin.score_lids --ref "${data_feats}/${dset}/utt2lang" --hyp "${_dir}/${dset}_lids" \
            --out "${_dir}/score/${dset}" --confusion-png "${_dir}/score/${dset}/confusion.png" --name "${dset}"
        _sets+=" ${dset}"
    done
    # shellcheck disable=SC2086
    "$python" -m geolid.bin.results_table --exp-dirs "${lid_exp}" --sets ${_sets} --out "${lid_exp}/RESULTS.md"
    log "Results: ${lid_exp}/RESULTS.md"
fi

if [ ${stage} -le 8 ] && [ ${stop_stage} -ge 8 ] && ! "$skip_eval" && "$extract_embd"; then
    log "Stage 8: t-SNE of language embeddings"
    for tset in ${test_sets}; do
        dset=$(eval_set_of "${tset}")
        _dir="${lid_exp}/inference/${dset}"
        "$python" -m geolid.bin.plot_tsne --embeddings "${_dir}/${dset}_lang_to_embds.npz" \
            --out "${_dir}/tsne/${dset}_tsne.png" --out-avg "${_dir}/tsne/${dset}_tsne_lang_avg.png" \
            --title "${lid_tag}: ${dset}"
    done
fi

if [ ${stage} -le 9 ] && [ ${stop_stage} -ge 9 ] && ! "$skip_packing"; then
    log "Stage 9: pack ${lid_exp} in the published layout"
    "$python" -m geolid.bin.pack_model --exp "${lid_exp}" --model "${inference_model}" \
        --out "${lid_exp}_packed"
fi

if [ ${stage} -le 10 ] && [ ${stop_stage} -ge 10 ] && ! "$skip_upload"; then
    log "Stage 10: upload"
    [ -n "$hf_repo" ] || die "--hf_repo <owner/name> is required to upload"
    log "Run this to upload (not run automatically):"
    echo "hf upload ${hf_repo} ${lid_exp}_packed . --repo-type model"
fi
log "Successfully finished."
