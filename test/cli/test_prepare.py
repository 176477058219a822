"""``geolid prepare``: the corpus commands live in geolid.cli.prepare (no geolid.bin import),
each one a plain function of geolid.data; ``python -m geolid.bin.data_prep`` mounts them."""
from __future__ import annotations

import subprocess
import sys

import soundfile as sf

from geolid.cli.main import main


def test_geolid_prepare_runs_the_corpus_function(tmp_path, capsys):
    for rel in ("en/a.wav", "dev/en/b.wav"):
        (tmp_path / "vl" / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(tmp_path / "vl" / rel), [0.1, -0.1] * 400, 16000, subtype="PCM_16")
    assert main(["prepare", "voxlingua107", str(tmp_path / "vl"), str(tmp_path / "data")]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "data" / "train_voxlingua107_lang"),
                                               str(tmp_path / "data" / "dev_voxlingua107_lang")]
    assert main(["prepare", "voxpopuli", str(tmp_path / "none"), str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.startswith("error: VoxPopuli: folder")


def test_prepare_parsers_are_light_and_shared_with_the_recipe_entry_point():
    code = ("import sys, geolid.cli.prepare, geolid.cli.main as m\n"
            "assert not [k for k in sys.modules if k.startswith('geolid.bin')]\n"
            "heavy = [k for k in ('torch', 'espnet2', 'soundfile', 'lang2vec') if k in sys.modules]\n"
            "assert not heavy, heavy\n"
            "import geolid.bin.data_prep as d\n"
            "assert d.add_prepare_subcommands is geolid.cli.prepare.add_prepare_subcommands\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
