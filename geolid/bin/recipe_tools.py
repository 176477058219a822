#!/usr/bin/env python3
"""Small checks and lookups the staged recipe needs, with errors that say what to do.

    python -m geolid.bin.recipe_tools lang2utt EXP/config.yaml
    python -m geolid.bin.recipe_tools check-model EXP MODEL_FILE
    python -m geolid.bin.recipe_tools check-labels --config CONF DATA_DIR...
    python -m geolid.bin.recipe_tools eval-set TEST TRAIN [--cross true|false]
    python -m geolid.bin.recipe_tools format-source SET
    python -m geolid.bin.recipe_tools min-samples-set DATA_FEATS SET
    python -m geolid.bin.recipe_tools combine OUT_DIR DATA_DIR SET...
    python -m geolid.bin.recipe_tools single-dataset DATA_DIR
    python -m geolid.bin.recipe_tools cross-sets DATA_FEATS TRAIN LANG2UTT TEST...
    python -m geolid.bin.recipe_tools split-data DATA_DIR N OUT_DIR
    python -m geolid.bin.recipe_tools subset-per-lang DATA_DIR N OUT_DIR
    python -m geolid.bin.recipe_tools results SCORE_DIR RESULTS_FILE
    python -m geolid.bin.recipe_tools inference-complete DIR SET N_UTTS EMBD(true|false)

Paths inside an experiment's config.yaml are relative to the recipe folder (the
working directory of lid.sh), as in the published Hugging Face repositories.
Set names and derived sets are owned by :mod:`geolid.data.prepare`; published
models, their class orders and the download command by :mod:`geolid.published`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import yaml

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
        from geolid.inference.hub import ModelNotFoundError, check_agrees, read_languages

        try:
            check_agrees(read_languages(path), order, path, published.repo_id)
        except ModelNotFoundError as e:
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


def check_labels(config: Path, dirs: Sequence[Path]) -> None:
    """Every label of the training/validation sets must have the config's lang2vec vector.

    Run in stage 3, so an unknown code fails there and on the console, not in the
    stats jobs' logs of stage 4.
    """
    from geolid.data.datadir import read_data_dir
    from geolid.geo.lang2vec_targets import UnknownLanguageError, lang2vec_table

    conf = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    pre = conf.get("preprocessor_conf") or {}
    if not pre.get("use_lang2vec", False):
        return
    aliases = pre.get("lang2vec_aliases") or {}
    kind = pre.get("lang2vec_type", "geo")
    for d in dirs:
        langs = read_data_dir(d).languages
        try:
            lang2vec_table([aliases.get(x, x) for x in langs], kind)
        except UnknownLanguageError as e:
            raise RecipeError(
                f"{d}/utt2lang: languages without a URIEL '{kind}' vector (the geo target):\n"
                f"{e}\nFix the labels in the data preparation, or map them with "
                f"preprocessor_conf.lang2vec_aliases {{label: code}} in {config}") from None


def subset_per_lang(data_dir: Path, n: int, out_dir: Path) -> Path:
    """The first ``n`` utterances of each language (sorted ids), for the t-SNE plot."""
    from geolid.data.datadir import read_data_dir, write_data_dir
    from geolid.utils.fileio import read_kaldi_map, write_kaldi_map

    data = read_data_dir(data_dir)
    keep = [u for utts in data.lang2utt().values() for u in sorted(utts)[:n]]
    out = write_data_dir(out_dir, data.subset(keep))
    if (data_dir / "utt2num_samples").is_file():
        kept = set(keep)
        write_kaldi_map(out / "utt2num_samples", {u: v for u, v in read_kaldi_map(
            data_dir / "utt2num_samples").items() if u in kept})
    return out


def write_results(score_dir: Path, results: Path) -> Path:
    """The ``results`` summary of ESPnet's ``lid1`` scoring, from our ``score.json``.

    Same lines as upstream (overall and macro accuracy / precision / recall / F1,
    per-language metrics, error frequencies), so tools that grep it keep working.
    """
    from geolid.utils.fileio import atomic_write

    score = json.loads((score_dir / "score.json").read_text(encoding="utf-8"))
    pct = lambda x: f"{100 * x:.2f}%"  # noqa: E731
    lines = [f"Overall Accuracy: {pct(score['accuracy'])}",
             f"Overall Precision: {pct(score['micro']['precision'])}",
             f"Overall Recall: {pct(score['micro']['recall'])}",
             f"Overall F1: {pct(score['micro']['f1'])}",
             "",
             f"Macro Accuracy across Languages: {pct(score['macro_accuracy'])}",
             f"Macro Precision across Languages: {pct(score['macro']['precision'])}",
             f"Macro Recall across Languages: {pct(score['macro']['recall'])}",
             f"Macro F1 across Languages: {pct(score['macro']['f1'])}",
             "", "Per-Language Metrics:"]
    for lang in score["ref_labels"]:
        row = score["per_language"][lang]
        lines += [f"{lang}:", f"  Accuracy: {pct(row['recall'])}",
                  f"  Precision: {pct(row['precision'])}", f"  Recall: {pct(row['recall'])}",
                  f"  F1: {pct(row['f1'])}"]
    if score["confusions"]:
        lines += ["", "Error Frequency (Target->Prediction):"]
        lines += [f"{ref}->{hyp}: {count}" for ref, hyp, count in score["confusions"]]
    results.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(results) as f:
        f.write("\n".join(lines) + "\n")
    return results


def inference_complete(out_dir: Path, set_name: str, n_utts: int, embd: bool) -> bool:
    """Stage 6 finished this set: every utterance has a label (and embeddings if asked)."""
    lids = out_dir / f"{set_name}_lids"
    if not lids.is_file():
        return False
    with open(lids, encoding="utf-8") as f:
        n = sum(1 for line in f if line.strip())
    return n == n_utts and (not embd or (out_dir / f"{set_name}_lang_to_embds.npz").is_file())


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text == "true"


def main(argv: Optional[List[str]] = None) -> int:
    from geolid.data import prepare

    ap = argparse.ArgumentParser(prog="python -m geolid.bin.recipe_tools", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lang2utt"); p.add_argument("config", type=Path)
    p = sub.add_parser("check-model"); p.add_argument("exp", type=Path); p.add_argument("model")
    p = sub.add_parser("check-labels"); p.add_argument("--config", type=Path, required=True)
    p.add_argument("dirs", type=Path, nargs="+")
    p = sub.add_parser("eval-set"); p.add_argument("test"); p.add_argument("train")
    p.add_argument("--cross", type=_bool, default=True)
    p = sub.add_parser("format-source"); p.add_argument("set")
    p = sub.add_parser("min-samples-set"); p.add_argument("data_feats"); p.add_argument("set")
    p = sub.add_parser("combine"); p.add_argument("out"); p.add_argument("data_dir")
    p.add_argument("sets", nargs="*", default=list(prepare.TRAIN_SETS))
    p = sub.add_parser("single-dataset"); p.add_argument("data_dir", type=Path)
    p = sub.add_parser("cross-sets"); p.add_argument("data_feats"); p.add_argument("train")
    p.add_argument("train_lang2utt"); p.add_argument("tests", nargs="+")
    p = sub.add_parser("split-data"); p.add_argument("data_dir", type=Path)
    p.add_argument("n", type=int); p.add_argument("out_dir", type=Path)
    p = sub.add_parser("subset-per-lang"); p.add_argument("data_dir", type=Path)
    p.add_argument("n", type=int); p.add_argument("out_dir", type=Path)
    p = sub.add_parser("results"); p.add_argument("score_dir", type=Path)
    p.add_argument("results", type=Path)
    p = sub.add_parser("inference-complete"); p.add_argument("out_dir", type=Path)
    p.add_argument("set"); p.add_argument("n_utts", type=int); p.add_argument("embd", type=_bool)
    args = ap.parse_args(argv)
    from geolid.data.datadir import DataPrepError

    try:
        if args.cmd == "lang2utt":
            print(config_lang2utt(args.config.parent))
        elif args.cmd == "check-model":
            check_model(args.exp, args.model)
        elif args.cmd == "check-labels":
            check_labels(args.config, args.dirs)
        elif args.cmd == "eval-set":
            print(prepare.eval_set_name(args.test, args.train, args.cross))
        elif args.cmd == "format-source":
            print(prepare.format_source(args.set))
        elif args.cmd == "min-samples-set":
            prepare.make_min_samples_set(args.data_feats, args.set)
        elif args.cmd == "combine":
            prepare.make_combined(args.data_dir, args.out, args.sets)
        elif args.cmd == "single-dataset":
            prepare.write_single_dataset(args.data_dir)
        elif args.cmd == "cross-sets":
            prepare.make_cross_sets(args.data_feats, args.train, args.tests, args.train_lang2utt)
        elif args.cmd == "split-data":
            from geolid.data.split import split_data_dir

            split_data_dir(args.data_dir, args.n, args.out_dir)
        elif args.cmd == "subset-per-lang":
            subset_per_lang(args.data_dir, args.n, args.out_dir)
        elif args.cmd == "results":
            write_results(args.score_dir, args.results)
        elif args.cmd == "inference-complete":
            return 0 if inference_complete(args.out_dir, args.set, args.n_utts, args.embd) else 1
    except (RecipeError, DataPrepError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
