#!/usr/bin/env bash
# Staged recipe for geolocation-aware spoken language identification (geolid).
# Shaped like ESPnet's egs2/TEMPLATE/lid1/lid.sh (same stages, options and output
# layout), but self-contained: no Kaldi tools and no ESPnet source checkout; every
# stage calls a Python entry point. Differences from the template: README.md.
#
#  1 data preparation (local/data.sh)      6 inference on each test set (GPU if --ngpu > 0)
#  2 speed perturbation (optional)         7 scoring: results, score.json, RESULTS.md
#  3 format audio into dump/raw (16 kHz)   8 t-SNE plot of the --tsne_set embeddings
#  4 collect shape statistics              9 pack the model (ESPnet's `pack lid` zip + class order)
#  5 training (ESPnet trainer, DDP)       10 upload the packed model to the Hugging Face Hub
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (lid.sh:${BASH_LINENO[0]}) $*"; }
die() { log "ERROR: $*" >&2; exit 1; }
min() { local a=$1 b=$2; echo $(( a < b ? a : b )); }

# General
stage=1; stop_stage=10000
skip_stages=""                 # e.g. "2 8": stages to leave out
skip_data_prep=false           # skips stages 1-2 (stage 3 formats what it needs), as the template
skip_train=false               # skips stages 4-5 (and formats only the evaluation sets)
skip_eval=false                # skips stages 6-8
skip_packing=true; skip_upload_hf=true
eval_valid_set=false           # also format/evaluate the validation set when skipping training
ngpu=1; num_nodes=1; nj=4; inference_nj=4
gpu_inference=""               # template option; stage 6 follows --ngpu (GPU when > 0)
dumpdir=dump; expdir=exp
python=${PYTHON:-python3}
fold_length=120000             # passed to training, as the template
force_rerun=false              # stages 6-7 redo sets whose outputs are complete
# Data
local_data_opts=""
speed_perturb_factors=""
feats_type=raw; audio_format=wav; fs=16k
multi_columns_input_wav_scp=false   # template option: wav.scp values list one file per channel group
multi_columns_output_wav_scp=false  # template option: keep channels, one file each, as wav.scp columns
min_wav_duration=""            # template option, seconds: stage 3 removes shorter training utterances
max_wav_duration=""            # template option, seconds: ... and longer ones (template: 1.0 / 60.,
                               # which its lid1 stage 3 never applies: unset here = not applied)
train_set=""; valid_set=""; test_sets=""
combine_train_sets=""          # build train_set in dump/raw by merging these formatted sets (not
                               # when train_set is one of them or their source: formatted alone)
cross_domain_tests=true        # test sets of another corpus -> <test>_cross_<train> (training languages)
# Statistics
stats_with_model=true          # true: ESPnet collect_stats through the model, on CPU jobs (the
                               # template); false: shape files from utt2num_samples (seconds)
stats_on_cpu_ok=false          # true: run model statistics even when estimated over an hour
# Training
lid_config=""; lid_args=""; lid_tag=""; lid_exp=""; lid_stats_dir=""
pretrained_model=""            # --init_param for fine-tuning
ignore_init_mismatch=false
# Inference
inference_model=valid.accuracy.best.pth
inference_batch_size=4
extract_embd=true
inference_args=""
inference_published_batching=false  # true: stage 6 as published (4 consecutive whole utterances a
                               # batch, zero-padded, batch_invariant false); default: batch-invariant
calibrate=true                 # stage 7: fit a probability temperature on the validation set's
                               # stage-6 posteriors (stage 6 then also scores the validation set)
calibration_eval_sets=""       # also report ECE before/after on these (already formatted) sets
checkpoint_interval=1000       # template option; inference here resumes per set (complete sets are skipped)
# t-SNE (stage 8), published values
tsne_set=""                    # default: the training set
max_utt_per_lang_for_tsne=100
perplexity=5
max_iter=1000
# Packing / upload
hf_repo=""
skip_upload=""                 # old name of --skip_upload_hf

help_message="Usage: $0 --train_set <set> --valid_set <set> --test_sets '<sets>' --lid_config <yaml> [options]
Options (defaults at the top of lid.sh), as ESPnet's lid1 template:
  --stage/--stop_stage N  --skip_stages 'N ...'  --skip_data_prep/--skip_train/--skip_eval true|false
  --skip_packing/--skip_upload_hf true|false   --hf_repo owner/name   --eval_valid_set true|false
  --lid_config FILE  --lid_args 'extra lid_train args'  --lid_tag TAG  --expdir DIR  --dumpdir DIR
  --ngpu N --num_nodes N  (DDP through ESPnet's launcher; Slurm via cmd.sh; stage 6 uses a GPU if N > 0)
  --nj N --inference_nj N  --inference_model FILE --inference_batch_size N  --force_rerun true|false
  --pretrained_model FILE --ignore_init_mismatch true|false --fold_length N --feats_type raw
  --tsne_set SET --max_utt_per_lang_for_tsne N --perplexity P --max_iter N --checkpoint_interval N
  --test_sets 'a b c'  --speed_perturb_factors '0.9 1.0 1.1'  --cross_domain_tests true|false
  --calibrate true|false  --calibration_eval_sets 'a b'   (stage 7 temperature scaling)
  --combine_train_sets 'a b'  --min_wav_duration S --max_wav_duration S   (stage 3)
  --multi_columns_input_wav_scp/--multi_columns_output_wav_scp true|false  (stage 3)
  --stats_with_model true|false  --stats_on_cpu_ok true|false   (stage 4)
  --inference_published_batching true|false  (stage 6 batches as published: README, differences)"

while [ $# -gt 0 ]; do
    case "$1" in
        --help|-h) echo "$help_message"; exit 0 ;;
        --*=*) key=${1%%=*}; key=${key#--}; val=${1#*=}; shift ;;
        --*) key=${1#--}; [ $# -ge 2 ] || die "option --$key needs a value"; val=$2; shift 2 ;;
        *) die "unexpected argument '$1'\n$help_message" ;;
    esac
    key=${key//-/_}
    declare -p "$key" >/dev/null 2>&1 || die "unknown option --$key\n$help_message"
    printf -v "$key" '%s' "$val"
done

. ./path.sh
. ./cmd.sh

[ "${feats_type}" = raw ] || { log "ERROR: --feats_type ${feats_type}: only raw is supported" >&2; exit 2; }
[ -n "${skip_upload}" ] && skip_upload_hf=${skip_upload}
[ -n "$train_set" ] || die "--train_set is required"
[ -n "$valid_set" ] || die "--valid_set is required"
[ -n "$lid_config" ] || [ -n "$lid_tag" ] || die "--lid_config (or --lid_tag) is required"
[ -n "$lid_tag" ] || lid_tag="$(basename "${lid_config}" .yaml)_${feats_type}"
[ -n "$lid_exp" ] || lid_exp="${expdir}/lid_${lid_tag}"
[ -n "$lid_stats_dir" ] || lid_stats_dir="${expdir}/lid_stats_${fs}"
case "${fs}" in *k) fs_hz=$(( ${fs%k} * 1000 )) ;; *) fs_hz=${fs} ;; esac
data_feats="${dumpdir}/raw"
if [ -n "$speed_perturb_factors" ]; then
    train_set_sp="${train_set}_sp"; lid_stats_dir="${lid_stats_dir}_sp"; lid_exp="${lid_exp}_sp"
else
    train_set_sp="${train_set}"
fi
[ -n "$tsne_set" ] || tsne_set="${train_set_sp}"
inference_tag="${inference_model%.pth}"
inference_root="${lid_exp}/inference/${inference_tag}"

"$skip_data_prep" && skip_stages+=" 1 2"
"$skip_train" && skip_stages+=" 4 5"
"$skip_eval" && skip_stages+=" 6 7 8"
"$skip_packing" && skip_stages+=" 9"
"$skip_upload_hf" && skip_stages+=" 10"
skip_stages=" $(echo "${skip_stages}" | tr ' ' '\n' | grep . | sort -nu | tr '\n' ' ')"
runs() {  # runs N: stage N is in [stage, stop_stage] and not skipped
    [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ] && [[ "${skip_stages} " != *" $1 "* ]]
}
log "Skipped stages:${skip_stages}"

sets() { "$python" -m geolid.bin.data_sets "$@"; }      # set names and derived sets
model_tool() { "$python" -m geolid.bin.model_check "$@"; }   # model lookups
# The set each stage evaluates for a test set (another corpus: cut to the training languages).
eval_set_of() { sets eval-set "$1" "${train_set_sp}" --cross "${cross_domain_tests}"; }
n_lines() { local n; n=$(wc -l < "$1"); echo $(( n )); }

# run_inference DATA_DIR OUT_DIR EXTRACT_EMBD: labels (and embeddings) of one data dir,
# split into jobs and merged; ESPnet names the outputs after DATA_DIR's folder.
run_inference() {
    local data=$1 out=$2 embd=$3 name logdir n
    name=$(basename "${data}")
    logdir="${out}/logdir"; mkdir -p "${logdir}"
    n=$(min "${_inference_jobs}" "$(n_lines "${data}/wav.scp")")
    "$python" -m geolid.bin.data_prep split-data "${data}" "${n}" "${logdir}/split"
    for k in $(seq "${n}"); do rm -rf "${logdir}/output.${k}"; mkdir -p "${logdir}/output.${k}"; done
    # shellcheck disable=SC2086
    ${_inference_cmd} --gpu "${_inference_ngpu}" JOB=1:"${n}" "${logdir}/inference.JOB.log" \
        "$python" -m geolid.bin.lid_inference --ngpu "${_inference_ngpu}" \
            --data_path_and_name_and_type "${logdir}/split/JOB/${name}/wav.scp,speech,sound" \
            --data_path_and_name_and_type "${logdir}/split/JOB/${name}/utt2lang,lid_labels,text" \
            --lid_train_config "${lid_exp}/config.yaml" --lid_model_file "${lid_exp}/${inference_model}" \
            --valid_batch_size "${inference_batch_size}" --fix_duration false \
            --extract_embd "${embd}" --save_embd_per_utt "${embd}" \
            --save_embd_avg_lang "${embd}" --published_batching "${inference_published_batching}" \
            --output_dir "${logdir}/output.JOB" ${inference_args}
    local outputs=()
    for k in $(seq "${n}"); do outputs+=("${logdir}/output.${k}"); done
    "$python" -m geolid.bin.merge_inference --set "${name}" --out "${out}" "${outputs[@]}"
}

# Stage 6 and 8 run on a GPU when the run has GPUs (as the published run); else on CPU jobs.
inference_device() {
    _inference_ngpu=0; _inference_cmd=${decode_cmd}; _inference_jobs=${inference_nj}
    if [ "${ngpu}" -gt 0 ] || [ "${gpu_inference}" = true ]; then
        if "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
            _inference_ngpu=1; _inference_cmd=${cuda_cmd}; _inference_jobs=1
        else
            log "WARNING: --ngpu ${ngpu} but no GPU is visible (torch.cuda.is_available() is false):" \
                "inference runs on ${inference_nj} CPU jobs" >&2
        fi
    fi
}

if runs 1; then
    log "Stage 1: data preparation (local/data.sh ${local_data_opts})"
    # shellcheck disable=SC2086
    local/data.sh ${local_data_opts}
fi

if runs 2 && [ -n "$speed_perturb_factors" ]; then
    log "Stage 2: speed perturbation of data/${train_set} by ${speed_perturb_factors}"
    # shellcheck disable=SC2086
    "$python" -m geolid.bin.data_prep speed-perturb "data/${train_set}" "data/${train_set_sp}" --factors ${speed_perturb_factors}
fi

if runs 3; then
    log "Stage 3: format audio into ${data_feats} (${fs_hz} Hz ${audio_format}, mono)"
    # The merge applies when the training set is not itself one of its parts: the published
    # route formats one corpus at a time (--train_set train_fleurs_lang ...), then merges.
    _combine=false; _parts=()
    if [ -n "${combine_train_sets}" ] && ! "$skip_train"; then
        read -r -a _parts <<< "${combine_train_sets}"
        _combine=true
        for x in "${_parts[@]}"; do  # a part, or the set a part is made from (train_babel_lang)
            if [ "$x" = "${train_set}" ] || [ "$(sets format-source "$x")" = "${train_set}" ]; then
                _combine=false
            fi
        done
        "$_combine" || log "--train_set ${train_set} is one of --combine_train_sets: formatting it alone (no merge)"
    fi
    _sets=()
    if ! "$skip_train"; then
        if "$_combine"; then _sets=("${_parts[@]}"); else _sets=("${train_set_sp}"); fi
        # Before hours of formatting: what stage 5 would fail on (category2utt, validation
        # languages the model has no class for).
        _train_srcs=(); _merged=()
        for x in "${_sets[@]}"; do _train_srcs+=("data/$(sets format-source "${x}")"); done
        "$_combine" && _merged=(--merged)
        _conf=(); [ -n "${lid_config}" ] && _conf=(--config "${lid_config}")
        _have=true
        for d in "${_train_srcs[@]}" "data/${valid_set}"; do [ -d "$d" ] || _have=false; done
        if "$_have"; then
            sets check-train-valid "${_conf[@]}" "${_merged[@]}" --valid "data/${valid_set}" "${_train_srcs[@]}"
        fi
        _sets+=("${valid_set}")
    elif "$eval_valid_set"; then
        _sets+=("${valid_set}")
    fi
    read -r -a _tests <<< "${test_sets}"
    _sets+=("${_tests[@]}")
    _done=" "
    for dset in "${_sets[@]}"; do
        case "${_done}" in *" ${dset} "*) continue ;; esac; _done+="${dset} "
        src=$(sets format-source "${dset}")  # e.g. Babel's _over_10s sets: filtered after formatting
        [ -d "data/${src}" ] || die "data/${src} not found: run stage 1 (local/data.sh) first"
        "$python" -m geolid.bin.data_prep prepare validate "data/${src}"
        "$python" -m geolid.bin.data_prep format "data/${src}" "${data_feats}/${src}" \
            --fs "${fs_hz}" --audio-format "${audio_format}" --nj "${nj}" \
            --multi-columns-input "${multi_columns_input_wav_scp}" \
            --multi-columns-output "${multi_columns_output_wav_scp}"
        echo "${feats_type}" > "${data_feats}/${src}/feats_type"
        if "${multi_columns_output_wav_scp}"; then echo "multi_${audio_format}" > "${data_feats}/${src}/audio_format"
        else echo "${audio_format}" > "${data_feats}/${src}/audio_format"; fi
        [ "${src}" = "${dset}" ] || sets min-samples-set "${data_feats}" "${dset}"
    done
    if "$_combine"; then
        # Babel is segmented and the others are not, so merge the formatted sets.
        sets combine "${data_feats}/${train_set_sp}" "${data_feats}" "${_parts[@]}"
        # The published valid_iterator_type (category) samples the validation set with the
        # dataset-balanced sampler too, which needs utt2dataset/dataset2utt there.
        sets single-dataset "${data_feats}/${valid_set}"
    fi
    if ! "$skip_train" && { [ -n "${min_wav_duration}" ] || [ -n "${max_wav_duration}" ]; }; then
        # The template's meaning: training utterances outside (min, max) seconds are removed.
        _range=()
        [ -n "${min_wav_duration}" ] && _range+=(--min "${min_wav_duration}")
        [ -n "${max_wav_duration}" ] && _range+=(--max "${max_wav_duration}")
        sets filter-duration "${data_feats}/${train_set_sp}" --fs "${fs_hz}" "${_range[@]}"
    fi
    if ! "$skip_train"; then
        # The final training set (merged, duration-filtered) against the validation set.
        sets check-train-valid "${_conf[@]}" --valid "${data_feats}/${valid_set}" "${data_feats}/${train_set_sp}"
        if [ -n "${lid_config}" ]; then
            # Every training/validation label needs its URIEL vector: fail here, on the console.
            sets check-labels --config "${lid_config}" "${data_feats}/${train_set_sp}" "${data_feats}/${valid_set}"
        fi
    fi
fi

if runs 4; then
    log "Stage 4: shape statistics -> ${lid_stats_dir}"
    mkdir -p "${lid_stats_dir}"
    if "$stats_with_model"; then
        _nj=$(min "${nj}" "$(n_lines "${data_feats}/${valid_set}/wav.scp")")
        # Said (or refused, above an hour) before any job starts: the template runs the
        # whole encoder over the training set on CPU jobs (MMS-1B: weeks for VoxLingua107).
        sets stats-cost --config "${lid_config}" --nj "${_nj}" --allow "${stats_on_cpu_ok}" \
            "${data_feats}/${train_set_sp}" "${data_feats}/${valid_set}" \
            || die "stage 4 not started (message above)"
        _logdir="${lid_stats_dir}/logdir"; mkdir -p "${_logdir}"
        "$python" -m geolid.bin.data_prep split-scp "${data_feats}/${train_set_sp}/wav.scp" "${_nj}" "${_logdir}/train"
        "$python" -m geolid.bin.data_prep split-scp "${data_feats}/${valid_set}/wav.scp" "${_nj}" "${_logdir}/valid"
        # shellcheck disable=SC2086
        if ! ${train_cmd} JOB=1:"${_nj}" "${_logdir}/stats.JOB.log" \
            "$python" -m geolid.bin.lid_train --collect_stats true --use_preprocessor true \
                --ngpu 0 --num_workers 0 --config "${lid_config}" \
                --lang2utt "${data_feats}/${train_set_sp}/lang2utt" \
                --lang_num "$(n_lines "${data_feats}/${train_set_sp}/lang2utt")" \
                --train_data_path_and_name_and_type "${data_feats}/${train_set_sp}/wav.scp,speech,sound" \
                --train_data_path_and_name_and_type "${data_feats}/${train_set_sp}/utt2lang,lid_labels,text" \
                --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/wav.scp,speech,sound" \
                --valid_data_path_and_name_and_type "${data_feats}/${valid_set}/utt2lang,lid_labels,text" \
                --train_shape_file "${_logdir}/train/keys.JOB.scp" \
                --valid_shape_file "${_logdir}/valid/keys.JOB.scp" \
                --output_dir "${_logdir}/stats.JOB" ${lid_args}; then
            # As the template: show the failing log on the console.
            for f in "${_logdir}"/stats.*.log; do grep -qi error "$f" && tail -n 20 "$f" >&2; done
            die "collect_stats failed (logs: ${_logdir}/stats.*.log)"
        fi
        _dirs=()
        for n in $(seq "${_nj}"); do _dirs+=(--input_dir "${_logdir}/stats.${n}"); done
        "$python" -m espnet2.bin.aggregate_stats_dirs "${_dirs[@]}" --output_dir "${lid_stats_dir}"
    else
        log "Stage 4: shape files from utt2num_samples (--stats_with_model false; no model runs)"
        for part in train valid; do
            if [ "$part" = train ]; then d=${train_set_sp}; else d=${valid_set}; fi
            [ -f "${data_feats}/${d}/utt2num_samples" ] || die "${data_feats}/${d}/utt2num_samples not found: run stage 3 first"
            mkdir -p "${lid_stats_dir}/${part}"
            cp "${data_feats}/${d}/utt2num_samples" "${lid_stats_dir}/${part}/speech_shape"
        done
    fi
fi

if runs 5; then
    log "Stage 5: training ${lid_exp} (config ${lid_config}, ngpu ${ngpu}, nodes ${num_nodes})"
    mkdir -p "${lid_exp}"
    _opts=(--config "${lid_config}" --output_dir "${lid_exp}" --ngpu "${ngpu}"
           --use_preprocessor true --resume true
           --ignore_init_mismatch "${ignore_init_mismatch}" --fold_length "${fold_length}"
           --lang2utt "${data_feats}/${train_set_sp}/lang2utt"
           --lang_num "$(n_lines "${data_feats}/${train_set_sp}/lang2utt")"
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
        _echo=(); [ "${cmd_backend:-local}" = local ] && _echo=(--echo "epoch results|training was finished")
        # shellcheck disable=SC2086
        ${cuda_cmd} --gpu "${ngpu}" "${_echo[@]}" "${lid_exp}/train.log" \
            "$python" -m geolid.bin.lid_train "${_opts[@]}" ${lid_args} --multiprocessing_distributed "${_mp}"
    fi
    log "Training finished: ${lid_exp} (log ${lid_exp}/train.log)"
fi

# The sets stage 6 scores and stage 7 scores/calibrates: the test sets, plus the validation
# set when asked (--eval_valid_set) or when stage 7 calibrates on it and it is formatted.
eval_sets() {
    local out=()
    read -r -a out <<< "${test_sets}"
    if "$eval_valid_set" || { "${calibrate}" && [ -f "${data_feats}/${valid_set}/wav.scp" ]; }; then
        out+=("${valid_set}")
    fi
    echo "${out[@]}"
}

if runs 6; then
    log "Stage 6: inference with ${lid_exp}/${inference_model} -> ${inference_root}"
    # The class order file the config names (written from the package for a published model).
    train_lang2utt=$(model_tool check-model "${lid_exp}" "${inference_model}" && model_tool lang2utt "${lid_exp}/config.yaml") \
        || die "the model is not usable (message above)"
    inference_device
    read -r -a _tests <<< "$(eval_sets)"
    _done=" "
    for tset in "${_tests[@]}"; do
        dset=$(eval_set_of "${tset}")
        case "${_done}" in *" ${dset} "*) continue ;; esac; _done+="${dset} "
        [ "${dset}" = "${tset}" ] || sets cross-sets "${data_feats}" "${train_set_sp}" "${train_lang2utt}" "${tset}"
        _dir="${inference_root}/${dset}"
        if ! "$force_rerun" && model_tool inference-complete "${_dir}" "${dset}" \
                "$(n_lines "${data_feats}/${dset}/wav.scp")" "${extract_embd}" \
                "${lid_exp}/${inference_model}"; then
            log "Skip inference for ${dset}: ${_dir} is complete for this model (--force_rerun true redoes it)"
            continue
        fi
        run_inference "${data_feats}/${dset}" "${_dir}" "${extract_embd}"
    done
fi

if runs 7; then
    log "Stage 7: scoring"
    read -r -a _tests <<< "${test_sets}"
    "$eval_valid_set" && _tests+=("${valid_set}")
    _sets=()
    for tset in "${_tests[@]}"; do
        dset=$(eval_set_of "${tset}")
        _dir="${inference_root}/${dset}"
        _sets+=("${dset}")
        [ -f "${_dir}/${dset}_lids" ] || die "${_dir}/${dset}_lids not found: run stage 6 first"
        if ! "$force_rerun" && [ "${_dir}/results" -nt "${_dir}/${dset}_lids" ] \
                && grep -q "Macro Accuracy" "${_dir}/results"; then
            log "Skip scoring for ${dset}: ${_dir}/results is up to date"
            continue
        fi
        "$python" -m geolid.bin.score_lids --ref "${data_feats}/${dset}/utt2lang" --hyp "${_dir}/${dset}_lids" \
            --out "${_dir}/score/${dset}" --confusion-png "${_dir}/score/${dset}/confusion.png" --name "${dset}" \
            --results "${_dir}/results"
    done
    "$python" -m geolid.bin.results_table --exp-dirs "${inference_root}" --sets "${_sets[@]}" --out "${lid_exp}/RESULTS.md"
    log "Results: ${lid_exp}/RESULTS.md and ${inference_root}/<set>/results"
    # Temperature scaling (geolid addition, not in the published run): argmax and accuracy
    # are unchanged; the temperature goes into the model folder (calibration.json), and every
    # set gets <set>_lids_topk_calibrated beside its <set>_lids_topk. From stage 6's
    # posteriors: no second inference pass, and a rerun gives the same files.
    _valid_post="${inference_root}/${valid_set}/${valid_set}_posteriors.npz"
    if "${calibrate}" && [ -f "${_valid_post}" ]; then
        log "Stage 7: temperature calibration on ${valid_set} -> ${lid_exp}/calibration.json"
        _cal=(--model "${lid_exp}/${inference_model}" --valid "${_valid_post}"
              --valid_ref "${data_feats}/${valid_set}/utt2lang" --plot "${lid_exp}/calibration/reliability.png")
        for tset in ${calibration_eval_sets}; do
            dset=$(eval_set_of "${tset}")
            _cal+=(--eval "${dset}=${inference_root}/${dset}/${dset}_posteriors.npz:${data_feats}/${dset}/utt2lang")
        done
        for dset in "${_sets[@]}"; do _cal+=(--apply "${inference_root}/${dset}/${dset}_posteriors.npz"); done
        "$python" -m geolid.bin.calibrate "${_cal[@]}" | tee "${lid_exp}/calibration.log"
    elif "${calibrate}"; then
        log "Skip calibration: no stage-6 posteriors of ${valid_set} (${_valid_post}); --skip_train runs need only test sets"
    fi
fi

if runs 8; then
    tset=$(eval_set_of "${tsne_set}")
    log "Stage 8: t-SNE of ${tset} (at most ${max_utt_per_lang_for_tsne} utterances a language)"
    _embd="${inference_root}/${tset}/${tset}_lang_to_embds.npz"
    if [ ! -f "${_embd}" ]; then
        # Embeddings of a per-language subset of the set (the train set can be huge).
        [ "${tset}" = "${tsne_set}" ] || sets cross-sets "${data_feats}" "${train_set_sp}" \
            "$(model_tool lang2utt "${lid_exp}/config.yaml")" "${tsne_set}"
        _sub="${inference_root}/tsne_subset"
        sets subset-per-lang "${data_feats}/${tset}" "${max_utt_per_lang_for_tsne}" "${_sub}/data/${tset}"
        inference_device
        run_inference "${_sub}/data/${tset}" "${_sub}/${tset}" true
        _embd="${_sub}/${tset}/${tset}_lang_to_embds.npz"
    fi
    "$python" -m geolid.bin.plot_tsne --embeddings "${_embd}" --max-per-lang "${max_utt_per_lang_for_tsne}" \
        --perplexity "${perplexity}" --max-iter "${max_iter}" \
        --out "${inference_root}/tsne/${tset}_tsne.png" --out-avg "${inference_root}/tsne/${tset}_tsne_lang_avg.png" \
        --title "${lid_tag}: ${tset}"
fi

packed_model="${lid_exp}/${lid_exp##*/}_${inference_model%.*}.zip"
if runs 9; then
    log "Stage 9: pack ${lid_exp} -> ${packed_model}"
    "$python" -m geolid.bin.pack_model pack --exp "${lid_exp}" --model "${inference_model}" \
        --outpath "${packed_model}"
fi

if runs 10; then
    log "Stage 10: upload ${packed_model} to the Hugging Face Hub: ${hf_repo}"
    [ -n "$hf_repo" ] || die "--hf_repo <owner/name> is required to upload"
    [ -f "${packed_model}" ] || die "${packed_model} not found: run stage 9 first (--skip_packing false)"
    "$python" -m geolid.bin.pack_model upload --packed "${packed_model}" --hf_repo "${hf_repo}" \
        --workdir "${expdir}/hf_${hf_repo//\//_}"
fi
log "Successfully finished."
