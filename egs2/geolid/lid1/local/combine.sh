#!/usr/bin/env bash
# The published combine step (ESPnet PR "LID-9" local/combine.sh). After stage 3 has
# formatted each training set, one corpus at a time, e.g.
#   ./run_combined.sh --stage 3 --stop_stage 3 --train_set train_fleurs_lang \
#       --valid_set dev_fleurs_lang --test_sets test_fleurs_lang
# merge the five into dump/raw/train_all_no_filter_lang (utt2dataset, dataset2utt,
# category2utt), making Babel's >= 10 s set from the formatted train_babel_lang first if
# it is missing, as published. Then train from stage 4: ./run_combined.sh --stage 4
#   local/combine.sh [--dumpdir dump] [--train_sets "train_fleurs_lang ..."]
#                    [--valid_set dev_ml_superb2_lang]
# --valid_set (if formatted) gets the utt2dataset/dataset2utt the dataset-balanced
# sampler reads there (the published config validates with the category iterator).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091
. "$(dirname "${here}")/path.sh"
log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (combine.sh) $*" >&2; }
dumpdir=dump
train_sets="train_fleurs_lang train_ml_superb2_lang train_voxlingua107_lang train_voxpopuli_lang train_babel_over_10s_lang"
train_set=train_all_no_filter_lang
valid_set=dev_ml_superb2_lang
while [ $# -gt 0 ]; do
    case "$1" in
        --dumpdir|--train_sets|--train_set|--valid_set)
            [ $# -ge 2 ] || { log "missing value for $1"; exit 2; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) log "unknown option $1 (see --help)"; exit 2 ;;
    esac
done
py=${PYTHON:-python3}
raw="${dumpdir}/raw"
read -r -a parts <<< "${train_sets}"
for x in "${parts[@]}"; do
    src=$("${py}" -m geolid.bin.data_sets format-source "${x}")
    if [ ! -d "${raw}/${x}" ] && [ "${src}" != "${x}" ] && [ -f "${raw}/${src}/utt2num_samples" ]; then
        log "${raw}/${x} does not exist: making it from ${raw}/${src}"
        "${py}" -m geolid.bin.data_sets min-samples-set "${raw}" "${x}"
    fi
    [ -f "${raw}/${x}/utt2num_samples" ] || {
        log "ERROR: ${raw}/${x} is not formatted: run ./run_combined.sh --stage 3 --stop_stage 3 --train_set ${src} ... first"
        exit 1; }
done
"${py}" -m geolid.bin.data_sets combine "${raw}/${train_set}" "${raw}" "${parts[@]}"
if [ -f "${raw}/${valid_set}/utt2lang" ]; then
    "${py}" -m geolid.bin.data_sets single-dataset "${raw}/${valid_set}"
fi
"${py}" -m geolid.bin.data_prep prepare validate "${raw}/${train_set}"
log "Successfully finished: ${raw}/${train_set}"
