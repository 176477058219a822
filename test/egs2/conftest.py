import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _copy_recipes(dest: Path) -> Path:
    """Copy egs2/geolid (symlinks kept, run outputs left out) under ``dest``."""
    root = dest / "egs2" / "geolid"
    if not root.exists():
        shutil.copytree(REPO / "egs2" / "geolid", root, symlinks=True,
                        ignore=shutil.ignore_patterns("data", "dump", "exp*", "corpus", "downloads",
                                                      "hub", "RESULTS.md"))
    return root


@pytest.fixture(scope="session")
def copy_recipes():
    """``copy_recipes(dest) -> dest/egs2/geolid``: scratch copies, so runs never touch the repo."""
    return _copy_recipes


@pytest.fixture
def recipe_copy(tmp_path):
    """``recipe_copy(name)``: a recipe folder inside a per-test scratch copy."""
    return lambda name: _copy_recipes(tmp_path) / name


@pytest.fixture(scope="session")
def recipe_env():
    """The environment a user gets from path.sh: this interpreter's bin first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["OMP_NUM_THREADS"] = "1"
    # The recipes must run the code under test (this checkout), not another install.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env
