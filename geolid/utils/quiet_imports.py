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
module names (nothing else is touched, installed files are not modified). It is
in place only inside ``with quiet_espnet_imports():``, around geolid's own
imports that pull these modules in (the ESPnet encoders in
:mod:`geolid.tasks.choices`, ``espnet2.tasks.lid`` in :mod:`geolid.tasks.lid`);
outside those blocks ``sys.meta_path`` is as the process had it, and a program
that imports these modules itself, before or after geolid, gets them unchanged.
Importing this module costs nothing: no torch.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import io
import logging
import sys
from typing import Iterator

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


@contextlib.contextmanager
def quiet_espnet_imports() -> Iterator[None]:
    """Imports in this block load the listed modules quietly (see the module docstring).

    The finder is put first on :data:`sys.meta_path` on entry and removed on exit
    (also when an import fails); nested blocks share the outer one's finder.
    Modules already imported are not affected.
    """
    if any(isinstance(f, QuietImportFinder) for f in sys.meta_path):
        yield
        return
    finder = QuietImportFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
