"""ESPnet's import-time stdout print and nltk downloads stay out of geolid (issue 8 §7, issue 7 item 9),
without a process-wide import hook: the finder is in place only around geolid's own imports."""
from __future__ import annotations

import subprocess
import sys

import pytest


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_training_task_import_prints_nothing_and_downloads_nothing():
    # lid_train's import chain: espnet2.tasks.lid -> ... -> phoneme_tokenizer -> g2p_en -> nltk.download
    r = _python("import sys\n"
                "before = list(sys.meta_path)\n"
                "import geolid.bin.lid_train\n"
                "ours = [f for f in sys.meta_path if type(f).__module__.startswith('geolid')]\n"
                "assert ours == [], ours  # (transformers adds a finder of its own)\n"
                "assert all(f in sys.meta_path for f in before)\n"
                "assert 'nltk' not in sys.modules, 'nltk imported (g2p_en ran at import)'\n"
                "assert type(sys.modules['g2p_en']).__name__ == '_LazyModule'  # loads on first use\n"
                "print('OK')\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "OK\n"                      # no 'Failed to import Flash Attention' on stdout
    assert "nltk_data" not in r.stderr and "Flash Attention" not in r.stderr


def test_the_flash_attention_message_goes_to_the_debug_log():
    r = _python("import logging\n"
                "logging.basicConfig(level=logging.DEBUG, format='%(name)s: %(message)s')\n"
                "import geolid.tasks.build\n"
                "import espnet.nets.pytorch_backend.transformer.attention as a\n"
                "assert hasattr(a, 'MultiHeadedAttention')\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "Flash Attention" in r.stderr and "geolid.utils.quiet_imports" in r.stderr


@pytest.mark.parametrize("module", ["geolid", "geolid.tasks.build"])
def test_importing_geolid_leaves_the_import_system_alone(module):
    """Nothing stays on sys.meta_path; the model-building import prints nothing to stdout."""
    r = _python("import sys\n"
                "before = list(sys.meta_path)\n"
                f"import {module}\n"
                "after = list(sys.meta_path)\n"
                "assert after == before, (before, after)\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""


def test_a_program_importing_espnet_itself_gets_it_unchanged():
    """Outside geolid's own import blocks, the modules load as installed (here: the print)."""
    import importlib.util

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash_attn is installed: ESPnet prints nothing")
    r = _python("import geolid\n"
                "import espnet.nets.pytorch_backend.transformer.attention\n")
    assert r.returncode == 0, r.stderr
    assert "Flash Attention" in r.stdout


def test_the_block_removes_its_finder_even_when_an_import_fails():
    from geolid.utils.quiet_imports import QuietImportFinder, quiet_espnet_imports

    before = list(sys.meta_path)
    with pytest.raises(ModuleNotFoundError):
        with quiet_espnet_imports():
            assert isinstance(sys.meta_path[0], QuietImportFinder)
            with quiet_espnet_imports():          # nested: one finder
                assert sum(isinstance(f, QuietImportFinder) for f in sys.meta_path) == 1
            import geolid_no_such_module  # noqa: F401
    assert sys.meta_path == before
