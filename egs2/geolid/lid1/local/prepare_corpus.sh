# Sourced by local/prepare_<corpus>.sh (which sets ${corpus}): the published interface,
#   local/prepare_<corpus>.sh [--dataset_path DIR] [--data data] [geolid options...]
# over `python -m geolid.bin.data_prep prepare <corpus> DIR data [geolid options...]`.
# --dataset_path defaults to the corpus variable of db.sh (VOXLINGUA107, FLEURS, ML_SUPERB2,
# VOXPOPULI, BABEL), as the published scripts' downloads/<corpus>. Other options (e.g.
# --languages en de, --download, --sph2pipe PATH, --quoting none) go to geolid unchanged:
# `python -m geolid.bin.data_prep prepare <corpus> --help` lists them. The older form
# `local/prepare_<corpus>.sh DIR OUT [options]` still works.
# shellcheck shell=bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
recipe=$(dirname "${here}")
# shellcheck disable=SC1091
[ -f "${recipe}/db.sh" ] && . "${recipe}/db.sh"
# shellcheck disable=SC1091
. "${recipe}/path.sh"
var=$(echo "${corpus}" | tr '[:lower:]' '[:upper:]')
dataset_path=${!var:-downloads/${corpus}}
data=data
if [ $# -ge 2 ] && [[ "$1" != -* ]] && [[ "$2" != -* ]]; then
    dataset_path=$1; data=$2; shift 2
fi
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dataset_path|--dataset-path|--data)
            [ $# -ge 2 ] || { echo "$0: $1 needs a value" >&2; exit 2; }
            if [ "$1" = --data ]; then data=$2; else dataset_path=$2; fi
            shift 2 ;;
        --dataset_path=*|--dataset-path=*) dataset_path=${1#*=}; shift ;;
        --data=*) data=${1#*=}; shift ;;
        -h|--help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d'; echo
            exec "${PYTHON:-python3}" -m geolid.bin.data_prep prepare "${corpus}" --help ;;
        *) extra+=("$1"); shift ;;
    esac
done
echo "$(date '+%Y-%m-%dT%H:%M:%S') (${0##*/}) ${corpus} <- ${dataset_path} -> ${data}/" >&2
exec "${PYTHON:-python3}" -m geolid.bin.data_prep prepare "${corpus}" "${dataset_path}" "${data}" "${extra[@]}"
