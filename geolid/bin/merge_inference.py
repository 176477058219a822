#!/usr/bin/env python3
"""Merge the outputs of parallel ``lid_inference`` jobs into one set of files.

    python -m geolid.bin.merge_inference --set SET --out DIR JOBDIR [JOBDIR ...]

Each job folder holds stage 6's outputs for its share of the utterances:
``SET_lids``, ``SET_lids_topk``, ``SET_posteriors.npz`` and ``SET_model.json`` (the
model and options; every job must name the same), and with embeddings
``SET_utt_embds.npz``, ``SET_lang_to_embds.npz``.
The merged ``SET_lang_to_avg_embd.npz`` is recomputed from all embeddings (the
per-job averages cannot simply be averaged). Writes are atomic.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from geolid.utils.fileio import atomic_write, read_kaldi_map


def merge_lids(job_dirs: List[Path], set_name: str, out: Path, suffix: str = "_lids") -> int:
    """Merge the jobs' ``SET<suffix>`` files (``_lids``, and ``_lids_topk`` when the
    jobs wrote it) into one, sorted by utterance."""
    merged: Dict[str, str] = {}
    for d in job_dirs:
        path = d / f"{set_name}{suffix}"
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing: inference job {d} did not finish (see its log)")
        for utt, lid in read_kaldi_map(path).items():
            if utt in merged:
                raise ValueError(f"utterance {utt} appears in two inference jobs ({path})")
            merged[utt] = lid
    with atomic_write(out / f"{set_name}{suffix}") as f:
        for utt in sorted(merged):
            f.write(f"{utt} {merged[utt]}\n")
    return len(merged)


def _save_npz(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def merge_embeddings(job_dirs: List[Path], set_name: str, out: Path) -> None:
    utt: Dict[str, np.ndarray] = {}
    per_lang: Dict[str, List[np.ndarray]] = {}
    for d in job_dirs:
        if (d / f"{set_name}_utt_embds.npz").is_file():
            utt.update(dict(np.load(d / f"{set_name}_utt_embds.npz")))
        if (d / f"{set_name}_lang_to_embds.npz").is_file():
            for lang, embds in np.load(d / f"{set_name}_lang_to_embds.npz").items():
                if len(embds):
                    per_lang.setdefault(lang, []).extend(list(embds))
    if utt:
        _save_npz(out / f"{set_name}_utt_embds.npz", utt)
    if per_lang:
        stacked = {lang: np.stack(e) for lang, e in per_lang.items()}
        _save_npz(out / f"{set_name}_lang_to_embds.npz", stacked)
        avg = {}
        for lang, e in stacked.items():
            m = e.mean(axis=0)
            avg[lang] = m / max(np.linalg.norm(m), 1e-12)  # as ESPnet: L2-normalised mean
        _save_npz(out / f"{set_name}_lang_to_avg_embd.npz", avg)


def merge_posteriors(job_dirs: List[Path], set_name: str, out: Path) -> None:
    """One ``SET_posteriors.npz`` (sorted by utterance) and the jobs' common ``SET_model.json``."""
    import json

    utts, languages, model = [], None, None
    arrays: Dict[str, List[np.ndarray]] = {}
    for d in job_dirs:
        record = json.loads((d / f"{set_name}_model.json").read_text(encoding="utf-8"))
        if model is not None and record != model:
            raise ValueError(f"{d}: made by another model or with other options than {job_dirs[0]}")
        model = record
        with np.load(d / f"{set_name}_posteriors.npz") as z:
            if languages is not None and list(z["languages"]) != languages:
                raise ValueError(f"{d}: another class order than {job_dirs[0]}")
            languages = list(z["languages"])
            utts += [str(u) for u in z["utts"]]
            for name in z.files:
                if name not in ("utts", "languages"):
                    arrays.setdefault(name, []).append(z[name])
    order = np.argsort(np.asarray(utts))
    # per-utterance arrays follow the sorted utterances; window arrays name their utterance
    merged = {name: np.concatenate(parts) if name.startswith("window_") else np.concatenate(parts)[order]
              for name, parts in arrays.items()}
    _save_npz(out / f"{set_name}_posteriors.npz",
              {"utts": np.asarray(utts)[order], "languages": np.asarray(languages), **merged})
    with atomic_write(out / f"{set_name}_model.json") as f:
        json.dump(model, f, indent=1)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m geolid.bin.merge_inference", description=__doc__)
    ap.add_argument("--set", required=True, dest="set_name")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("job_dirs", nargs="+", type=Path)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = sorted(args.job_dirs, key=lambda p: (len(str(p)), str(p)))
    try:
        n = merge_lids(jobs, args.set_name, args.out)
        if all((d / f"{args.set_name}_lids_topk").is_file() for d in jobs):
            merge_lids(jobs, args.set_name, args.out, suffix="_lids_topk")
        merge_posteriors(jobs, args.set_name, args.out)
        merge_embeddings(jobs, args.set_name, args.out)
    except (FileNotFoundError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"merged {n} utterances from {len(jobs)} jobs into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
