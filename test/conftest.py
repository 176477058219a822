"""Shared fixtures: tiny local stand-ins for the big downloads, and the parity data."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GEOLID_SHARED", REPO.parent / "shared"))
PARITY_DIR = SHARED / "fixtures" / "upstream_parity" / "a_shared_trainable"


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory):
    """A random MMS-layout wav2vec2 (hidden 32, 4 layers) saved with save_pretrained."""
    from geolid.lid.tiny import make_tiny_wav2vec2

    return make_tiny_wav2vec2(tmp_path_factory.mktemp("hf") / "tiny_w2v2")


@pytest.fixture(scope="session")
def parity_dir():
    if not PARITY_DIR.is_dir():
        pytest.skip(f"parity fixture not found at {PARITY_DIR} (set GEOLID_SHARED)")
    return PARITY_DIR


@pytest.fixture
def in_dir():
    """Context manager: run with another working directory (configs hold relative paths)."""
    import contextlib

    @contextlib.contextmanager
    def _in(path):
        old = os.getcwd()
        os.chdir(path)
        try:
            yield Path(path)
        finally:
            os.chdir(old)

    return _in
