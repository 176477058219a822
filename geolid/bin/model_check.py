#!/usr/bin/env python3
"""Checks on a trained experiment folder before inference, with errors that say what to do.

    python -m geolid.bin.model_check lang2utt EXP/config.yaml     # print the class-order file
    python -m geolid.bin.model_check check-model EXP MODEL_FILE

Paths inside an experiment's config.yaml are relative to the recipe folder (the
working directory of lid.sh), as in the published Hugging Face repositories.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import yaml

# Published checkpoints (docs/architecture.md#checkpoint-layout): experiment folder -> Hugging Face repo.
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


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.model_check", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lang2utt"); p.add_argument("config", type=Path)
    p = sub.add_parser("check-model"); p.add_argument("exp", type=Path); p.add_argument("model")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "lang2utt":
            print(config_lang2utt(args.config))
        elif args.cmd == "check-model":
            check_model(args.exp, args.model)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
