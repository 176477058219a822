#!/usr/bin/env bash
# Stage 1 of the geolid recipe: prepare the corpora whose folders are given, then
# (optionally) the merged training set and the cross-domain test sets.
#
#   local/data.sh [--data data] [--voxlingua107 DIR] [--fleurs DIR] [--ml_superb2 DIR]
#                 [--voxpopuli DIR] [--babel DIR] [--download false]
#                 [--combine false] [--cross_train ""] [--validate true]
#
# --download true   lets FLEURS / ML-SUPERB 2.0 fetch what their folder lacks from the
#                   Hugging Face Hub.
# --combine true    writes <data>/train_all_no_filter_lang from the five training sets
#                   (all five must be prepared; combine formatted dump/raw dirs when
#                   Babel has segments and the others do not: pass --data dump/raw).
# --cross_train SET writes <test>_cross_<SET> for every prepared test set.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (data.sh) $*" >&2; }

data=data
voxlingua107=""
fleurs=""
ml_superb2=""
voxpopuli=""
babel=""
download=false
combine=false
cross_train=""
validate=true
py="${PYTHON:-python3}"

while [ $# -gt 0 ]; do
    case "$1" in
        --data|--voxlingua107|--fleurs|--ml_superb2|--voxpopuli|--babel|--download|--combine|--cross_train|--validate)
            [ $# -ge 2 ] || { log "missing value for $1"; exit 2; }
            name="${1#--}"; printf -v "${name}" '%s' "$2"; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) log "unknown option $1 (see --help)"; exit 2 ;;
    esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dl=()
[ "${download}" = true ] && dl=(--download)

[ -n "${voxlingua107}" ] && { log "VoxLingua107 <- ${voxlingua107}"; "${here}/prepare_voxlingua107.sh" "${voxlingua107}" "${data}"; }
[ -n "${fleurs}" ] && { log "FLEURS <- ${fleurs}"; "${here}/prepare_fleurs.sh" "${fleurs}" "${data}" "${dl[@]}"; }
[ -n "${ml_superb2}" ] && { log "ML-SUPERB 2.0 <- ${ml_superb2}"; "${here}/prepare_ml_superb2.sh" "${ml_superb2}" "${data}" "${dl[@]}"; }
[ -n "${voxpopuli}" ] && { log "VoxPopuli <- ${voxpopuli}"; "${here}/prepare_voxpopuli.sh" "${voxpopuli}" "${data}"; }
[ -n "${babel}" ] && { log "Babel <- ${babel}"; "${here}/prepare_babel.sh" "${babel}" "${data}"; }

if [ "${combine}" = true ]; then
    log "merging the training sets -> ${data}/train_all_no_filter_lang"
    "${py}" -m geolid.bin.data_prep prepare combine "${data}/train_all_no_filter_lang" \
        "${data}/train_fleurs_lang" "${data}/train_ml_superb2_lang" \
        "${data}/train_voxlingua107_lang" "${data}/train_voxpopuli_lang" \
        "${data}/train_babel_over_10s_lang"
fi

if [ -n "${cross_train}" ]; then
    for test in dev_voxlingua107_lang test_voxpopuli_lang test_fleurs_lang dev_ml_superb2_lang \
                dev_dialect_ml_superb2_lang dev_babel_over_10s_lang; do
        [ -d "${data}/${test}" ] || continue
        log "cross set ${test}_cross_${cross_train}"
        "${py}" -m geolid.bin.data_prep prepare cross "${data}/${test}" "${data}/${cross_train}" \
            "${data}/${test}_cross_${cross_train}"
    done
fi

if [ "${validate}" = true ]; then
    dirs=()
    for d in "${data}"/*_lang; do
        if [ -f "${d}/utt2lang" ]; then dirs+=("${d}"); fi
    done
    if [ ${#dirs[@]} -gt 0 ]; then
        "${py}" -m geolid.bin.data_prep prepare validate "${dirs[@]}"
    fi
fi
log "done"
