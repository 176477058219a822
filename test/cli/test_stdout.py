"""stdout carries results only: `geolid predict --format json | python -m json.tool` works (issue 7 item 9)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import noise, write


def test_json_stdout_parses(model_root, tmp_path):
    wav = write(tmp_path / "a.wav", noise(1.5))
    env = dict(os.environ, GEOLID_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "geolid.cli.main", "predict", str(wav), "--model",
                        str(model_root), "--format", "json", "-q"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)                      # nothing but the document on stdout
    assert len(doc["predictions"]) == 1 and "nltk_data" not in r.stderr
