"""Shared fixtures: tiny local stand-ins for the big downloads, and the parity data.

Tests never touch the network. huggingface_hub and transformers read their
offline switches once, when first imported, so they are set here, before any
test module imports them (monkeypatching the variables later has no effect).
"""
import os

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# The upstream parity fixture ships with the repository (test/fixtures/upstream_parity/README.md).
PARITY_DIR = REPO / "test" / "fixtures" / "upstream_parity" / "a_shared_trainable"


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory):
    """A random MMS-layout wav2vec2 (hidden 32, 4 layers) saved with save_pretrained."""
    from geolid.demo.tiny import make_tiny_wav2vec2

    return make_tiny_wav2vec2(tmp_path_factory.mktemp("hf") / "tiny_w2v2")


@pytest.fixture(scope="session")
def parity_dir():
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
