"""Keep ESPnet's import-time side effects out of geolid's stdout and off the network.

Two installed modules misbehave when imported, and geolid imports both only
indirectly (through ``espnet2``):

* ``espnet.nets.pytorch_backend.transformer.attention`` ``print``s
  ``Failed to import Flash Attention, using ESPnet default`` to **stdout** when
  the optional ``flash_attn`` package is missing, which corrupts
  ``geolid predict --format json`` output. We run that module's import with
  stdout captured and pass the text on at DEBUG level.
* ``g2p_en`` (imported by ``espnet2.text.phoneme_tokenizer``, which every
  ``espnet2.tasks`` module pulls in) calls ``nltk.download('cmudict')`` and
  ``nltk.download('averaged_perceptron_tagger_eng')`` at import time when the
  data is absent: a network attempt (and seconds of nltk/inflect imports) for a
  text front-end that language identification never uses. We load it with
  :class:`importlib.util.LazyLoader`, so it runs (and downloads) only if
  something actually uses a ``g2p_en`` phonemiser.

Both are done by a :data:`sys.meta_path` finder that matches exactly these
module names (nothing else is touched, installed files are not modified), and
that :func:`install` puts in place from ``geolid/__init__.py`` so that every
entry point (``geolid predict``, ``lid_train``, the Python API) is covered
whatever the import order. Importing this module costs nothing: no torch.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import io
import logging
import sys

logger = logging.getLogger(__name__)

PRINTS_TO_STDOUT = frozenset({"espnet.nets.pytorch_backend.transformer.attention"})
DOWNLOADS_ON_IMPORT = frozenset({"g2p_en"})


class _CapturedStdoutLoader(importlib.abc.Loader):
    """Runs the real loader with stdout captured; the text goes to the log."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            self.loader.exec_module(module)
        if buffer.getvalue().strip():
            logger.debug("%s printed on import: %s", module.__name__, buffer.getvalue().strip())


class QuietImportFinder(importlib.abc.MetaPathFinder):
    """Finds the listed modules with the normal machinery, then wraps their loader."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in PRINTS_TO_STDOUT and fullname not in DOWNLOADS_ON_IMPORT:
            return None
        spec = self._real_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        if fullname in PRINTS_TO_STDOUT:
            spec.loader = _CapturedStdoutLoader(spec.loader)
        else:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec

    def _real_spec(self, fullname, path, target):
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, QuietImportFinder):
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                return spec
        return None


def install() -> None:
    """Put the finder first on :data:`sys.meta_path` (once per process)."""
    if not any(isinstance(f, QuietImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietImportFinder())
