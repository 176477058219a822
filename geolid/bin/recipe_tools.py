#!/usr/bin/env python3
"""Small checks and lookups the staged recipe needs, with errors that say what to do.

    python -m geolid.bin.recipe_tools lang2utt EXP/config.yaml
    python -m geolid.bin.recipe_tools check-model EXP MODEL_FILE [--hf-repo espnet/...]
    python -m geolid.bin.recipe_tools is-subset DATA_DIR LANG2UTT
    python -m geolid.bin.recipe_tools split-data DATA_DIR N OUT_DIR

Paths inside an experiment's config.yaml are relative to the recipe folder (the
working directory of lid.sh), as in the published Hugging Face repositories.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import yaml

# Published checkpoints (SPEC section 5): experiment folder -> Hugging Face repo.
PUBLISHED_REPOS = {
    "exp_voxlingua107_only/lid_mms_ecapa_upcon_32_44_it0.4_shared_trainable_raw": "espnet/geolid_vl107only_shared_trainable",
    "exp_voxlingua107_only/lid_mms_ecapa_upcon_32_44_it0.4_shared_frozen_raw": "espnet/geolid_vl107only_shared_frozen",
    "exp_voxlingua107_only/lid_mms_ecapa_upcon_32_44_it0.4_independent_trainable_raw": "espnet/geolid_vl107only_independent_trainable",
    "exp_voxlingua107_only/lid_mms_ecapa_upcon_32_44_it0.4_independent_frozen_raw": "espnet/geolid_vl107only_independent_frozen",
    "exp_combined/lid_mms_ecapa_upcon_32_44_it0.4_shared_trainable_raw": "espnet/geolid_combined_shared_trainable",
}


class RecipeError(RuntimeError):
    pass


def download_hint(exp: str) -> str:
    repo = PUBLISHED_REPOS.get(str(Path(exp)).rstrip("/"))
    if repo:
        return (f"To use the published model, run in this recipe folder: "
                f"`hf download {repo} --local-dir .` (or run stage 5 to train it).")
    return "Train it first (stage 5), or copy a trained experiment folder here."


def config_lang2utt(config: Path) -> Path:
    if not config.is_file():
        raise RecipeError(f"{config} not found. {download_hint(str(config.parent))}")
    conf = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    lang2utt = conf.get("lang2utt")
    if not lang2utt:
        raise RecipeError(f"{config} has no 'lang2utt' key: the class order of the model is unknown")
    if not Path(lang2utt).is_file():
        raise RecipeError(
            f"{config}: lang2utt '{lang2utt}' not found (relative to {Path.cwd()}). It lists the "
            f"training languages in class order; it ships with the model. {download_hint(str(config.parent))}")
    return Path(lang2utt)


def check_model(exp: Path, model: str) -> None:
    if not (exp / model).is_file():
        others = sorted(p.name for p in exp.glob("*.pth")) if exp.is_dir() else []
        raise RecipeError(
            f"model file {exp / model} not found"
            + (f" (this folder has {others}; pick one with --inference_model)" if others else "")
            + f". {download_hint(str(exp))}")
    config_lang2utt(exp / "config.yaml")


def languages_of(path: Path) -> List[str]:
    """Languages of a data dir (its utt2lang) or of a lang2utt file, in order."""
    from geolid.languages import read_class_order
    from geolid.utils.fileio import read_kaldi_lines

    if path.is_dir():
        return sorted({lang for _, _, lang in read_kaldi_lines(path / "utt2lang")})
    return read_class_order(path)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.recipe_tools", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lang2utt"); p.add_argument("config", type=Path)
    p = sub.add_parser("check-model"); p.add_argument("exp", type=Path); p.add_argument("model")
    p = sub.add_parser("is-subset"); p.add_argument("data_dir", type=Path); p.add_argument("lang2utt", type=Path)
    p = sub.add_parser("split-data"); p.add_argument("data_dir", type=Path); p.add_argument("n", type=int)
    p.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "lang2utt":
            print(config_lang2utt(args.config))
        elif args.cmd == "check-model":
            check_model(args.exp, args.model)
        elif args.cmd == "is-subset":
            extra = sorted(set(languages_of(args.data_dir)) - set(languages_of(args.lang2utt)))
            if extra:
                print(f"{args.data_dir}: languages not in training: {' '.join(extra)}", file=sys.stderr)
                return 1
        elif args.cmd == "split-data":
            from geolid.data.split import split_data_dir

            split_data_dir(args.data_dir, args.n, args.out_dir)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
