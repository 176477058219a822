#!/usr/bin/env bash
# Create .venv with the pinned stack (requirements.txt; why each step: docs/install.md):
#   torch 2.14.1 + torchaudio 2.11.0, transformers 5.x, lang2vec, and ESPnet 202511.
# ESPnet goes in with --no-deps because its setuptools<74 pin fights torch>=2.13;
# requirements.txt lists what its LID path imports. Nothing installed is patched.
# Re-running is cheap: a stamp keyed on requirements.txt skips a finished install.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
    for cand in python3.11 python3.12 python3.10 python3; do
        if command -v "$cand" >/dev/null 2>&1; then PYTHON=$cand; break; fi
    done
fi
stamp="$VENV/.stamp-$(cat requirements.txt pyproject.toml demo/pyproject.toml | sha1sum | cut -c1-12)"
if [ -f "$stamp" ]; then
    exit 0
fi

echo "[install] creating $VENV with $($PYTHON --version)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m pip install -q --no-deps espnet==202511
# The distribution was called `geolid` before it became `geolid-espnet`; drop that old
# editable install from existing venvs so that only one provides the package.
"$VENV/bin/python" -m pip uninstall -q -y geolid >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
# The demo and test support (espeak-ng speech, the demo corpus, tiny models) is its own
# distribution, geolid-demo, kept out of the runtime one (its dependencies are listed above).
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e demo
rm -f "$VENV"/.stamp-*
touch "$stamp"
echo "[install] done: $("$VENV/bin/python" -c 'import torch, transformers, espnet; print("torch", torch.__version__, "transformers", transformers.__version__, "espnet", espnet.__version__)')"
