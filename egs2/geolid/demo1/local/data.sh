#!/usr/bin/env bash
# Stage 1 of the demo: synthesise a multilingual corpus with espeak-ng (12 languages on
# every inhabited continent, accent-shifted test voices) and make the tiny random
# wav2vec2 that stands in for facebook/mms-1b.
#   local/data.sh [--small true] [--seed 0]
set -euo pipefail
small=false; seed=0
while [ $# -gt 0 ]; do
    case "$1" in
        --small|--seed) printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        *) echo "local/data.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
python=${PYTHON:-python3}
opts=(--seed "${seed}")
[ "${small}" = true ] && opts+=(--small)
"${python}" -m geolid_demo.make_corpus corpus "${opts[@]}"
mkdir -p data
for s in train dev test test_accent; do
    rm -rf "data/${s}"; cp -r "corpus/data/${s}" "data/${s}"
done
"${python}" - <<'PY'
from pathlib import Path
from geolid_demo.tiny import make_tiny_wav2vec2
out = Path("downloads/tiny_w2v2")
if not (out / "config.json").is_file():
    # Random weights, MMS layout (stable layer norm, 320x conv stack), 4 layers of 64.
    make_tiny_wav2vec2(out, hidden_size=64, num_layers=4, num_heads=4, intermediate_size=128,
                       conv_dim=64, seed=0)
print(f"encoder stand-in: {out}")
PY
