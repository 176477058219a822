#!/usr/bin/env bash
# Stage 1 of the geolid recipe: prepare the corpora whose folders are given, as Kaldi
# data directories under --data (default data/).
#
#   local/data.sh [--data data] [--voxlingua107 DIR] [--fleurs DIR] [--ml_superb2 DIR]
#                 [--voxpopuli DIR] [--babel DIR] [--download false] [--validate true]
#
# --download true   lets FLEURS / ML-SUPERB 2.0 fetch what their folder lacks from the
#                   Hugging Face Hub.
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
py="${PYTHON:-python3}"

while [ $# -gt 0 ]; do
    case "$1" in
        --data|--voxlingua107|--fleurs|--ml_superb2|--voxpopuli|--babel|--download|--validate)
            [ $# -ge 2 ] || { log "missing value for $1"; exit 2; }
            name="${1#--}"; printf -v "${name}" '%s' "$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
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
