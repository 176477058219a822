#!/usr/bin/env bash
# Stage 1 of the geolid recipe: prepare the corpora whose folders are given, as Kaldi
# data directories under --data (default data/).
#
#   local/data.sh [--data data] [--voxlingua107 DIR] [--fleurs DIR] [--ml_superb2 DIR]
#                 [--voxpopuli DIR] [--babel DIR] [--download false] [--validate true]
#                 [--class_order FILE]
#
# Each corpus goes through its published-name script, local/prepare_<corpus>.sh
# --dataset_path DIR. A copy holding only a corpus's evaluation part (no training
# portion) prepares its test sets alone, with a warning.
# --download true   lets FLEURS / ML-SUPERB 2.0 fetch what their folder lacks from the
#                   Hugging Face Hub.
# --class_order FILE  then writes the combined model's class order there from the
#                   training sets' labels alone (no audio formatted; ML-SUPERB 2.0's
#                   training folders are the one part read beyond the published language
#                   lists): `python -m geolid.bin.data_sets class-order`.
# Sets derived from these (Babel's *_over_10s_lang, the merged train_all_no_filter_lang,
# the <test>_cross_<train> sets) are made by lid.sh after formatting (stages 3 and 6), by
# geolid.data.prepare, the one owner of set names.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (data.sh) $*" >&2; }

data=data
voxlingua107=""
fleurs=""
ml_superb2=""
voxpopuli=""
babel=""
download=false
validate=true
class_order=""
py="${PYTHON:-python3}"

while [ $# -gt 0 ]; do
    case "$1" in
        --data|--voxlingua107|--fleurs|--ml_superb2|--voxpopuli|--babel|--download|--validate|--class_order)
            [ $# -ge 2 ] || { log "missing value for $1"; exit 2; }
            name="${1#--}"; printf -v "${name}" '%s' "$2"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) log "unknown option $1 (see --help)"; exit 2 ;;
    esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dl=()
[ "${download}" = true ] && dl=(--download)

[ -n "${voxlingua107}" ] && "${here}/prepare_voxlingua107.sh" --dataset_path "${voxlingua107}" --data "${data}"
[ -n "${fleurs}" ] && "${here}/prepare_fleurs.sh" --dataset_path "${fleurs}" --data "${data}" "${dl[@]}"
[ -n "${ml_superb2}" ] && "${here}/prepare_ml_superb2.sh" --dataset_path "${ml_superb2}" --data "${data}" "${dl[@]}"
[ -n "${voxpopuli}" ] && "${here}/prepare_voxpopuli.sh" --dataset_path "${voxpopuli}" --data "${data}"
[ -n "${babel}" ] && "${here}/prepare_babel.sh" --dataset_path "${babel}" --data "${data}"

if [ "${validate}" = true ]; then
    dirs=()
    for d in "${data}"/*_lang; do
        if [ -f "${d}/utt2lang" ]; then dirs+=("${d}"); fi
    done
    if [ ${#dirs[@]} -gt 0 ]; then
        "${py}" -m geolid.bin.data_prep prepare validate "${dirs[@]}"
    fi
fi
if [ -n "${class_order}" ]; then
    _mls=(); [ -n "${ml_superb2}" ] && _mls=(--ml_superb2 "${ml_superb2}")
    # Not fatal: a copy without ML-SUPERB 2.0's training split cannot give it (stage 6 then
    # says which file a combined model needs).
    "${py}" -m geolid.bin.data_sets class-order --data "${data}" "${_mls[@]}" --out "${class_order}" \
        || log "WARNING: no class order written to ${class_order} (message above)"
fi
log "done"
