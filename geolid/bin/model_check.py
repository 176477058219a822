#!/usr/bin/env python3
"""Model lookups of the staged recipe, with errors that say what to do.

    python -m geolid.bin.model_check lang2utt EXP/config.yaml      # print the class-order file
    python -m geolid.bin.model_check check-model EXP MODEL_FILE
    python -m geolid.bin.model_check inference-complete DIR SET N_UTTS EMBD(true|false)

Paths inside an experiment's config.yaml are relative to the recipe folder (the
working directory of lid.sh), as in the published Hugging Face repositories.
Published models, their class orders and the download command are owned by
:mod:`geolid.published`; set names by :mod:`geolid.data.prepare`
(``python -m geolid.bin.data_sets``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import yaml
from espnet2.utils.types import str2bool

from geolid.published import ClassOrderUnknown, class_order, download_command, published_model


class RecipeError(RuntimeError):
    pass


def model_hint(exp: Path) -> str:
    published = published_model(str(exp))
    if published is not None:
        return (f"To use the published model, run in this recipe folder: "
                f"`{download_command(published.repo_id, '.')}` "
                "(or run stage 5 to train it).")
    return "Train it first (stage 5), or copy a trained experiment folder here."


def _config(exp: Path) -> dict:
    config = exp / "config.yaml"
    if not config.is_file():
        raise RecipeError(f"{config} not found. {model_hint(exp)}")
    return yaml.safe_load(config.read_text(encoding="utf-8")) or {}


def config_lang2utt(exp: Path) -> Path:
    """The class-order file the experiment's config names; for a published model that
    ships none, it is written here from :mod:`geolid.published` (checked if present)."""
    lang2utt = _config(exp).get("lang2utt")
    if not lang2utt:
        raise RecipeError(f"{exp}/config.yaml has no 'lang2utt' key: the class order of the "
                          "model is unknown")
    path = Path(lang2utt)
    published = published_model(str(exp), lang2utt)
    if published is None:
        if not path.is_file():
            raise RecipeError(f"{exp}/config.yaml: lang2utt '{lang2utt}' not found (relative to "
                              f"{Path.cwd()}). It lists the training languages in class order; "
                              "copy it from where the model was trained")
        return path
    try:
        order = class_order(published)
    except ClassOrderUnknown as e:
        if path.is_file():
            return path
        raise RecipeError(str(e)) from None
    if path.is_file():
        from geolid.inference.hub import ModelNotFoundError, check_agrees
        from geolid.languages import LanguageListError, read_class_order

        try:
            check_agrees(read_class_order(path), order, path, published.repo_id)
        except (ModelNotFoundError, LanguageListError) as e:
            raise RecipeError(str(e)) from None
        return path
    from geolid.utils.fileio import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:  # the class order only: no utterance lists
        f.write("".join(f"{code}\n" for code in order))
    print(f"wrote {path}: class order of {published.repo_id} ({len(order)} languages)",
          file=sys.stderr)
    return path


def check_model(exp: Path, model: str) -> Path:
    if not (exp / model).is_file():
        others = sorted(p.name for p in exp.glob("*.pth")) if exp.is_dir() else []
        raise RecipeError(
            f"model file {exp / model} not found"
            + (f" (this folder has {others}; pick one with --inference_model)" if others else "")
            + f". {model_hint(exp)}")
    return config_lang2utt(exp)


def inference_complete(out_dir: Path, set_name: str, n_utts: int, embd: bool) -> bool:
    """Stage 6 finished this set: every utterance has a label (and embeddings if asked)."""
    lids = out_dir / f"{set_name}_lids"
    if not lids.is_file():
        return False
    with open(lids, encoding="utf-8") as f:
        n = sum(1 for line in f if line.strip())
    return n == n_utts and (not embd or (out_dir / f"{set_name}_lang_to_embds.npz").is_file())


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.model_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lang2utt"); p.add_argument("config", type=Path)
    p = sub.add_parser("check-model"); p.add_argument("exp", type=Path); p.add_argument("model")
    p = sub.add_parser("inference-complete"); p.add_argument("out_dir", type=Path)
    p.add_argument("set"); p.add_argument("n_utts", type=int); p.add_argument("embd", type=str2bool)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "lang2utt":
            print(config_lang2utt(args.config.parent))
        elif args.cmd == "check-model":
            check_model(args.exp, args.model)
        elif args.cmd == "inference-complete":
            return 0 if inference_complete(args.out_dir, args.set, args.n_utts, args.embd) else 1
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
