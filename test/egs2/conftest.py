import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def recipe_copy(tmp_path):
    """A scratch copy of egs2/geolid (symlinks kept), so runs never touch the repo."""
    def make(name: str) -> Path:
        dst = tmp_path / "egs2" / "geolid"
        if not dst.exists():
            shutil.copytree(REPO / "egs2" / "geolid", dst, symlinks=True,
                            ignore=shutil.ignore_patterns("data", "dump", "exp*", "corpus", "downloads", "hub"))
        return dst / name
    return make


@pytest.fixture
def recipe_env():
    """The environment a user gets from path.sh: this interpreter's bin first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["OMP_NUM_THREADS"] = "1"
    env.pop("PYTHONPATH", None)
    return env
