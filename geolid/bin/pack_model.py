#!/usr/bin/env python3
"""Pack a trained experiment (recipe stage 9) and upload it (stage 10).

    python -m geolid.bin.pack_model pack --exp exp/lid_X_raw --model valid.accuracy.best.pth \
        --outpath exp/lid_X_raw/lid_X_raw_valid.accuracy.best.zip
    python -m geolid.bin.pack_model upload --packed ZIP --hf_repo owner/name [--workdir DIR]

``pack`` is ESPnet's ``pack lid`` (``espnet2.main_funcs.pack_funcs.pack``: ``meta.yaml``,
the config, the weights and ``<exp>/images``, at their paths relative to the recipe
folder, i.e. the layout of the published repos) plus what a model needs that ESPnet
leaves out: the class order (the training ``lang2utt``'s first column, at the path the
config names) and a local pretrained-encoder folder if the config points at one.

``upload`` unpacks into ``--workdir``, adds a model card and uploads the folder with
``huggingface_hub`` (``create_repo`` + ``upload_folder``), instead of the template's
``git clone``/``git push``.
"""
from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path
from typing import List, Optional

import yaml


def _relative(path: Path, root: Path, what: str) -> Path:
    try:
        return Path(path).resolve().relative_to(root.resolve())
    except ValueError:
        raise ValueError(f"{what} {path} lies outside the recipe folder {root}; the packed model "
                         "needs paths relative to it (run the recipe from its folder)") from None


def pack(exp: Path, model: str, outpath: Path) -> Path:
    """Write ``outpath`` (a zip in ESPnet's packed layout); run from the recipe folder.

    What goes in is what :class:`~geolid.model.folder.ModelFolder` says makes the model:
    config, weights, the head's side files (calibration, enrolled centres: they change
    the outputs, so they travel with it), the class order and a local encoder folder.
    """
    from espnet2.main_funcs.pack_funcs import pack as espnet_pack

    from geolid.model.folder import ModelFolder

    exp = Path(exp)
    if not (exp / model).is_file():
        raise FileNotFoundError(f"{exp / model} not found; train first or pick --model")
    folder = ModelFolder.open(exp / model)
    root = Path.cwd()
    options = [exp / "images"] if (exp / "images").is_dir() else []
    encoder = folder.local_encoder()
    if encoder is not None:
        options.append(_relative(encoder, root, "encoder path"))
    side = [p for p in folder.files() if p not in (folder.config_path, folder.weights, folder.lang2utt)]
    options += [_relative(p, root, "model file") for p in side]
    if (exp / "RESULTS.md").is_file():
        options.append(exp / "RESULTS.md")
    espnet_pack(files={"model_file": _relative(folder.weights, root, "weights")},
                yaml_files={"train_config": _relative(folder.config_path, root, "config")},
                outpath=outpath, option=options)
    # Only the class order matters from lang2utt; utterance lists are not shipped.
    lang2utt = Path(str(folder.config["lang2utt"]))
    if lang2utt.is_absolute():
        lang2utt = _relative(lang2utt, root, "config lang2utt")
    with zipfile.ZipFile(outpath, "a") as z:
        z.writestr(str(lang2utt), "".join(code + "\n" for code in folder.languages))
    return outpath


def unpack(packed: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(packed) as z:
        for name in z.namelist():
            if name.startswith("/") or ".." in Path(name).parts:
                raise ValueError(f"{packed}: unsafe member path {name!r}")
        z.extractall(folder)
    return folder


def model_card(folder: Path, repo_id: str) -> str:
    meta = yaml.safe_load((folder / "meta.yaml").read_text(encoding="utf-8"))
    config = meta["yaml_files"]["train_config"]
    model = meta["files"]["model_file"]
    card = (f"---\ntags: [espnet, geolid, language-identification, audio-classification]\n"
            f"library_name: espnet\n---\n\n# {repo_id}\n\n"
            "Geolocation-aware spoken language identification model trained with the geolid "
            "recipe (`egs2/geolid/lid1`).\n\n```python\nfrom geolid import GeoLID\n"
            f"model = GeoLID.from_pretrained('{repo_id}')\nprint(model.predict('audio.wav'))\n```\n\n"
            f"Files: `{config}`, `{model}`, `meta.yaml` (ESPnet's pack) and the class order "
            "(the training `lang2utt` named in the config).\n")
    results = folder / Path(config).parent / "RESULTS.md"
    if results.is_file():
        card += "\n## Results\n\n" + results.read_text(encoding="utf-8")
    return card


def upload(packed: Path, repo_id: str, workdir: Path, api=None, private: bool = False) -> str:
    """Unpack ``packed`` into ``workdir`` and upload it to ``repo_id``; returns the commit URL.

    ``api``: an object with huggingface_hub's ``create_repo`` and ``upload_folder``
    (default ``huggingface_hub.HfApi()``); tests pass a fake one.
    """
    folder = unpack(packed, workdir)
    (folder / "README.md").write_text(model_card(folder, repo_id), encoding="utf-8")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                             commit_message=f"Upload {packed.name}")
    return str(getattr(info, "commit_url", info))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.pack_model", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="stage 9: ESPnet's pack lid + class order")
    p.add_argument("--exp", required=True, type=Path)
    p.add_argument("--model", default="valid.accuracy.best.pth")
    p.add_argument("--outpath", required=True, type=Path)
    p = sub.add_parser("upload", help="stage 10: upload a packed model with huggingface_hub")
    p.add_argument("--packed", required=True, type=Path)
    p.add_argument("--hf_repo", required=True)
    p.add_argument("--workdir", type=Path, default=None, help="where to unpack (default: next to the zip)")
    p.add_argument("--private", action="store_true")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "pack":
            pack(args.exp, args.model, args.outpath)
            print(f"packed {args.exp} into {args.outpath}")
        else:
            workdir = args.workdir or args.packed.with_suffix("")
            url = upload(args.packed, args.hf_repo, workdir, private=args.private)
            print(f"uploaded {args.packed} to {args.hf_repo}: {url}")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
