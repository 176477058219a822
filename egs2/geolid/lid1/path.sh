# Environment for the recipe: the repository's virtual environment (make setup).
MAIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
if [ -x "${MAIN_ROOT}/.venv/bin/python" ]; then
    export PATH="${MAIN_ROOT}/.venv/bin:${PATH}"
elif ! python3 -c "import geolid" 2>/dev/null; then
    echo "path.sh: geolid is not installed; run 'make setup' in ${MAIN_ROOT}" >&2
    return 1 2>/dev/null || exit 1
fi
export PYTHONUNBUFFERED=1
export PYTHONIOENCODING=UTF-8
# Hugging Face downloads (MMS-1B, published checkpoints) are cached under ./hub.
export HF_HOME=${HF_HOME:-$(pwd)/hub}
