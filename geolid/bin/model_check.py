#!/usr/bin/env python3
"""Model lookups of the staged recipe, with errors that say what to do.

    python -m geolid.bin.model_check lang2utt EXP/config.yaml      # print the class-order file
    python -m geolid.bin.model_check check-model EXP MODEL_FILE
    python -m geolid.bin.model_check inference-complete DIR SET N_UTTS EMBD(true|false) EXP/MODEL_FILE

Every lookup opens the experiment through :class:`geolid.model.folder.ModelFolder`
(the one reader of a model folder; paths inside config.yaml are relative to the
recipe folder, the working directory of lid.sh). Published models, their class
orders and the download command are owned by :mod:`geolid.published`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from espnet2.utils.types import str2bool

from geolid.bin.data_sets import RecipeError
from geolid.published import download_command, published_model

MODEL_RECORD = "{set}_model.json"   # stage 6's record of the model and options behind a set's outputs


def model_hint(exp: Path) -> str:
    published = published_model(str(exp))
    if published is not None:
        return (f"To use the published model, run in this recipe folder: "
                f"`{download_command(published.repo_id, '.')}` "
                "(or run stage 5 to train it).")
    return "Train it first (stage 5), or copy a trained experiment folder here."


def open_model(exp: Path, model: Optional[str] = None):
    """The experiment (and weights file) as a ModelFolder; RecipeError with a hint if unusable."""
    from geolid.model.errors import ModelError, ModelNotFoundError
    from geolid.model.folder import ModelFolder

    target = exp / model if model else exp
    if model and not target.is_file():
        others = sorted(p.name for p in exp.glob("*.pth")) if exp.is_dir() else []
        raise RecipeError(f"model file {target} not found"
                          + (f" (this folder has {others}; pick one with --inference_model)" if others else "")
                          + f". {model_hint(exp)}")
    if not (exp / "config.yaml").is_file():
        raise RecipeError(f"{exp / 'config.yaml'} not found. {model_hint(exp)}")
    try:
        return ModelFolder.open(target)
    except (ModelError, ModelNotFoundError) as e:
        raise RecipeError(str(e)) from None


def config_lang2utt(exp: Path) -> Path:
    """The class-order file the experiment's config names; for a published model that
    ships none, it is written there from the shipped class order."""
    folder = open_model(exp)
    named = folder.config.get("lang2utt")
    if not named:
        raise RecipeError(f"{folder.config_path} has no 'lang2utt' key: the class order of the "
                          "model is unknown")
    if folder.lang2utt is not None:
        return folder.lang2utt
    from geolid.utils.fileio import atomic_write

    path = Path(named)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:  # the class order only: no utterance lists
        f.write("".join(f"{code}\n" for code in folder.languages))
    print(f"wrote {path}: class order of {folder.exp} ({len(folder.languages)} languages)",
          file=sys.stderr)
    return path


def check_model(exp: Path, model: str) -> Path:
    open_model(exp, model)
    return config_lang2utt(exp)


def inference_complete(out_dir: Path, set_name: str, n_utts: int, embd: bool,
                       model_file: Optional[Path] = None) -> bool:
    """Stage 6 finished this set with this model: every utterance has a label (and
    embeddings if asked), and the set's model record names the same model."""
    lids = out_dir / f"{set_name}_lids"
    if not lids.is_file() or not (out_dir / f"{set_name}_posteriors.npz").is_file():
        return False
    with open(lids, encoding="utf-8") as f:
        n = sum(1 for line in f if line.strip())
    if n != n_utts or (embd and not (out_dir / f"{set_name}_lang_to_embds.npz").is_file()):
        return False
    if model_file is None:
        return True
    record = out_dir / MODEL_RECORD.format(set=set_name)
    try:
        made_by = json.loads(record.read_text(encoding="utf-8"))["model"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    folder = open_model(model_file.parent, model_file.name)
    return folder.identity(include_calibration=False).same_model(made_by)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.model_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lang2utt"); p.add_argument("config", type=Path)
    p = sub.add_parser("check-model"); p.add_argument("exp", type=Path); p.add_argument("model")
    p = sub.add_parser("inference-complete"); p.add_argument("out_dir", type=Path)
    p.add_argument("set"); p.add_argument("n_utts", type=int); p.add_argument("embd", type=str2bool)
    p.add_argument("model_file", type=Path, nargs="?")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "lang2utt":
            print(config_lang2utt(args.config.parent))
        elif args.cmd == "check-model":
            check_model(args.exp, args.model)
        elif args.cmd == "inference-complete":
            return 0 if inference_complete(args.out_dir, args.set, args.n_utts, args.embd,
                                           args.model_file) else 1
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
