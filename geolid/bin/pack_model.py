#!/usr/bin/env python3
"""Pack a trained experiment in the published Hugging Face layout (recipe stage 9).

    python -m geolid.bin.pack_model --exp exp_voxlingua107_only/lid_X_raw \
        --model valid.accuracy.best.pth --out packed

``packed/`` then holds ``<exp>/config.yaml`` and ``<exp>/<model>`` at the same
relative path as in the recipe, the training ``lang2utt`` at the path the config
names (the class order), a local pretrained-encoder folder if the config points at
one, ``<exp>/RESULTS.md`` if scored, and a ``README.md`` model card. Loading the
packed folder with ``geolid.GeoLID.from_pretrained(packed)`` or running the recipe
with ``--skip_train true`` in it works like the published models.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import List, Optional

import yaml

from geolid.languages import read_class_order
from geolid.utils.fileio import atomic_write


def _relative(path: str, what: str) -> Path:
    p = Path(path)
    if p.is_absolute():
        raise ValueError(f"{what} '{path}' is absolute; the packed model needs paths relative to the "
                         "recipe folder (run the recipe from its folder)")
    return p


def pack(exp: Path, model: str, out: Path) -> Path:
    exp_rel = _relative(str(exp), "--exp")
    config = yaml.safe_load((exp / "config.yaml").read_text(encoding="utf-8"))
    if not (exp / model).is_file():
        raise FileNotFoundError(f"{exp / model} not found; train first or pick --model")
    (out / exp_rel).mkdir(parents=True, exist_ok=True)
    shutil.copy2(exp / "config.yaml", out / exp_rel / "config.yaml")
    shutil.copy2(exp / model, out / exp_rel / model)
    lang2utt = _relative(config["lang2utt"], "config lang2utt")
    (out / lang2utt).parent.mkdir(parents=True, exist_ok=True)
    # Only the first column matters (the class order); utterance lists are not shipped.
    with atomic_write(out / lang2utt) as dst:
        dst.write("".join(code + "\n" for code in read_class_order(lang2utt)))
    encoder = (config.get("frontend_conf") or {}).get("frontend_conf", {}).get("path_or_url")
    if encoder and Path(encoder).is_dir():
        shutil.copytree(encoder, out / _relative(encoder, "encoder path"), dirs_exist_ok=True)
    if (exp / "RESULTS.md").is_file():
        shutil.copy2(exp / "RESULTS.md", out / exp_rel / "RESULTS.md")
    card = (f"---\ntags: [espnet, geolid, language-identification, audio-classification]\n"
            f"library_name: espnet\n---\n\n# {exp.name}\n\n"
            f"Geolocation-aware spoken language identification model trained with the geolid "
            f"recipe (`egs2/geolid/lid1`).\n\n```python\nfrom geolid import GeoLID\n"
            f"model = GeoLID.from_pretrained('<this repo or folder>')\nprint(model.predict('audio.wav'))\n```\n\n"
            f"Files: `{exp_rel}/config.yaml`, `{exp_rel}/{model}`, `{lang2utt}` (class order).\n")
    if (exp / "RESULTS.md").is_file():
        card += "\n## Results\n\n" + (exp / "RESULTS.md").read_text(encoding="utf-8")
    with atomic_write(out / "README.md") as f:
        f.write(card)
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.pack_model", description=__doc__)
    ap.add_argument("--exp", required=True, type=Path)
    ap.add_argument("--model", default="valid.accuracy.best.pth")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    try:
        pack(args.exp, args.model, args.out)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"packed {args.exp} into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
