"""ESPnet's import-time stdout print and nltk downloads stay out of geolid (issue 8 §7, issue 7 item 9)."""
from __future__ import annotations

import subprocess
import sys


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_training_task_import_prints_nothing_and_downloads_nothing():
    # lid_train's import chain: espnet2.tasks.lid -> ... -> phoneme_tokenizer -> g2p_en -> nltk.download
    r = _python("import sys, geolid.bin.lid_train\n"
                "assert 'nltk' not in sys.modules, 'nltk imported (g2p_en ran at import)'\n"
                "assert type(sys.modules['g2p_en']).__name__ == '_LazyModule'  # loads on first use\n"
                "print('OK')\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "OK\n"                      # no 'Failed to import Flash Attention' on stdout
    assert "nltk_data" not in r.stderr and "Flash Attention" not in r.stderr


def test_the_flash_attention_message_goes_to_the_debug_log():
    r = _python("import logging, geolid\n"
                "logging.basicConfig(level=logging.DEBUG, format='%(name)s: %(message)s')\n"
                "import espnet.nets.pytorch_backend.transformer.attention as a\n"
                "assert hasattr(a, 'MultiHeadedAttention')\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "Flash Attention" in r.stderr and "geolid.utils.quiet_imports" in r.stderr
