#!/usr/bin/env python3
"""Recipe stage 6: language ID (and embeddings) for a Kaldi data folder.

    python -m geolid.bin.lid_inference --output_dir DIR \
        --data_path_and_name_and_type data/SET/wav.scp,speech,sound \
        [--data_path_and_name_and_type data/SET/utt2lang,lid_labels,text] \
        --lid_train_config exp/lid_x/config.yaml --lid_model_file exp/lid_x/valid.accuracy.best.pth \
        [--valid_batch_size 8] [--ngpu 1] [--extract_embd true --save_embd_per_utt true ...]

Scores come from the same path as ``geolid predict`` (:meth:`GeoLID.classify_batch`
-> ``model.score``), for geo and baseline models alike; whole utterances, no
windowing, batched by length (outputs do not depend on the batch).

Writes into ``--output_dir`` (SET = the data folder's name, as ESPnet's
``lid_inference``, whose flags this keeps):
* ``SET_lids``: ``utt iso3`` (the argmax, as ESPnet);
* ``SET_lids_topk``: ``utt iso3:prob iso3:prob ...``, the ``--top_k`` most likely
  languages with their probabilities (softmax of the scaled cosines);
* with ``--extract_embd true``: ``SET_lang_to_embds.npz`` (L2-normalised
  embeddings by reference language, needs utt2lang), and with
  ``--save_embd_per_utt`` ``SET_utt_embds.npz``, with ``--save_embd_avg_lang``
  ``SET_lang_to_avg_embd.npz`` (normalised mean per language).
A rerun resumes: finished utterances are kept in ``.SET_progress.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from espnet2.utils.types import str2bool

logger = logging.getLogger("geolid.lid_inference")

DTYPES = ("float32", "bfloat16", "float16")


def data_triple(value: str) -> Tuple[str, str, str]:
    parts = value.split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected PATH,NAME,TYPE, got '{value}'")
    return parts[0], parts[1], parts[2]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m geolid.bin.lid_inference", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--data_path_and_name_and_type", type=data_triple, action="append", required=True,
                   help="wav.scp,speech,sound and optionally utt2lang,lid_labels,text")
    p.add_argument("--lid_train_config", required=True)
    p.add_argument("--lid_model_file", required=True)
    p.add_argument("--ngpu", type=int, default=0, help="0: CPU; >= 1: one GPU")
    p.add_argument("--valid_batch_size", type=int, default=8, help="utterances per batch")
    p.add_argument("--batch_seconds", type=float, default=240.0,
                   help="at most this much padded audio per batch (memory bound)")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="float32 (as the published evaluation), or bf16/fp16 autocast on GPU")
    p.add_argument("--top_k", type=int, default=5, help="languages per line of SET_lids_topk")
    p.add_argument("--extract_embd", type=str2bool, default=False)
    p.add_argument("--save_embd_per_utt", type=str2bool, default=False)
    p.add_argument("--save_embd_avg_lang", type=str2bool, default=False)
    p.add_argument("--fix_duration", type=str2bool, default=False,
                   help="must be false: inference uses whole utterances")
    p.add_argument("--checkpoint_interval", type=int, default=1000,
                   help="utterances between progress flushes (resume points)")
    p.add_argument("--log_level", default="INFO")
    # Accepted for command-line compatibility with ESPnet's lid_inference; no effect here.
    for flag in ("--num_workers", "--seed", "--target_duration", "--max_utt_per_lang_for_tsne",
                 "--perplexity", "--max_iter"):
        p.add_argument(flag, help=argparse.SUPPRESS)
    for flag in ("--save_tsne_plot", "--use_tensorboard", "--use_matplotlib", "--resume"):
        p.add_argument(flag, type=str2bool, help=argparse.SUPPRESS)
    return p


def read_inputs(triples: Sequence[Tuple[str, str, str]]) -> Tuple[str, Dict[str, str], Dict[str, str]]:
    """(set name, utt -> audio path, utt -> reference language or {})."""
    from geolid.utils.fileio import read_kaldi_map

    by_name = {name: path for path, name, _ in triples}
    unknown = sorted(set(by_name) - {"speech", "lid_labels"})
    if "speech" not in by_name or unknown:
        raise ValueError("--data_path_and_name_and_type: need 'wav.scp,speech,sound' and optionally "
                         f"'utt2lang,lid_labels,text' (got names {sorted(by_name)})")
    wav_scp = Path(by_name["speech"])
    set_name = wav_scp.parent.name  # ESPnet's convention: the data folder names the outputs
    audio = read_kaldi_map(wav_scp)
    for utt, value in audio.items():
        if not Path(value).is_file():
            raise ValueError(f"{wav_scp}: utterance '{utt}': '{value}' is not an audio file (piped "
                             "commands and ark entries are not read here: run the format stage first)")
    labels = read_kaldi_map(by_name["lid_labels"]) if "lid_labels" in by_name else {}
    return set_name, audio, {u: v.split()[0] for u, v in labels.items() if v}


def load_model(config: str, model_file: str, device: str, dtype: str):
    """The recipe's model as a :class:`GeoLID` (config paths relative to the cwd, as ESPnet)."""
    from geolid.inference.api import GeoLID
    from geolid.inference.hub import ModelFiles
    from geolid.languages import read_class_order
    from geolid.tasks.build import build_model_from_file

    model, args = build_model_from_file(config, model_file, device)
    lang2utt = Path(args.lang2utt)
    files = ModelFiles(Path(config), Path(model_file), Path.cwd(), lang2utt,
                       read_class_order(lang2utt), source=str(model_file))
    return GeoLID(model, files, device=device, dtype=dtype)


class Progress:
    """Finished utterances, appended as JSON lines so an interrupted job resumes.

    The first line names the model (path, size, mtime); results of another model
    (e.g. a rerun with another --inference_model) are discarded, not reused.
    """

    def __init__(self, path: Path, model_file: Optional[str] = None):
        self.path = path
        self.done: Dict[str, dict] = {}
        self.header = {"model": None}
        if model_file is not None:
            st = Path(model_file).stat()
            self.header = {"model": str(Path(model_file).resolve()), "size": st.st_size,
                           "mtime_ns": st.st_mtime_ns}
        if path.is_file():
            with path.open(encoding="utf-8") as f:
                lines = f.readlines()
            try:
                same_model = bool(lines) and json.loads(lines[0]) == self.header
            except ValueError:
                same_model = False
            if not same_model:
                logger.info("%s: from another model or run; starting afresh", path)
                lines = []
            kept = lines[:1]
            for line in lines[1:]:
                try:
                    rec = json.loads(line)
                except ValueError:
                    break  # half-written last line of an interrupted run
                self.done[rec["utt"]] = rec
                kept.append(line)
            if not kept:
                path.unlink()
            elif len(kept) < len(lines):  # drop the broken tail before appending
                path.write_text("".join(kept), encoding="utf-8")
        self._pending: List[dict] = []

    def add(self, rec: dict) -> None:
        self.done[rec["utt"]] = rec
        self._pending.append(rec)

    def flush(self) -> None:
        if not self._pending:
            return
        new_file = not self.path.is_file()
        with self.path.open("a", encoding="utf-8") as f:
            if new_file:
                f.write(json.dumps(self.header) + "\n")
            for rec in self._pending:
                f.write(json.dumps(rec) + "\n")
        self._pending.clear()


def run(lid, audio: Dict[str, str], progress: Progress, batch_size: int, batch_seconds: float,
        top_k: int, keep_embeddings: bool, checkpoint_interval: int) -> None:
    from geolid.audio import audio_info, load_audio
    from geolid.inference.batching import plan_batches

    todo = [u for u in sorted(audio) if u not in progress.done
            or (keep_embeddings and "embd" not in progress.done[u])]
    if len(todo) < len(audio):
        logger.info("resuming: %d of %d utterances already done", len(audio) - len(todo), len(audio))
    lengths = [audio_info(audio[u]).frames_16k for u in todo]
    since_flush = 0
    for batch in plan_batches(lengths, batch_size, int(batch_seconds * 16000)):
        utts = [todo[i] for i in batch]
        out = lid.classify_batch([load_audio(audio[u]) for u in utts])
        for row, utt in enumerate(utts):
            probs = out.probabilities[row]
            order = np.argsort(-probs)[:top_k]
            rec = {"utt": utt, "lang": out.languages[row],
                   "topk": [[lid.languages[i], round(float(probs[i]), 6)] for i in order]}
            if keep_embeddings:
                e = out.embeddings[row]
                rec["embd"] = (e / max(float(np.linalg.norm(e)), 1e-12)).tolist()  # as ESPnet
            progress.add(rec)
        since_flush += len(utts)
        if since_flush >= checkpoint_interval:
            progress.flush()
            since_flush = 0
    progress.flush()


def write_outputs(out_dir: Path, set_name: str, records: Dict[str, dict], labels: Dict[str, str],
                  args) -> None:
    from geolid.utils.fileio import atomic_write

    utts = sorted(records)
    with atomic_write(out_dir / f"{set_name}_lids") as f:
        f.writelines(f"{u} {records[u]['lang']}\n" for u in utts)
    with atomic_write(out_dir / f"{set_name}_lids_topk") as f:
        for u in utts:
            f.write(u + " " + " ".join(f"{lang}:{p:.6f}" for lang, p in records[u]["topk"]) + "\n")
    if not args.extract_embd:
        return
    embd = {u: np.asarray(records[u]["embd"], dtype=np.float32) for u in utts}
    if args.save_embd_per_utt:
        _save_npz(out_dir / f"{set_name}_utt_embds.npz", embd)
    by_lang: Dict[str, List[np.ndarray]] = {}
    for u in utts:
        if u in labels:
            by_lang.setdefault(labels[u], []).append(embd[u])
    stacked = {lang: np.stack(e) for lang, e in sorted(by_lang.items())}
    _save_npz(out_dir / f"{set_name}_lang_to_embds.npz", stacked)
    if args.save_embd_avg_lang:
        avg = {}
        for lang, e in stacked.items():
            m = e.mean(axis=0)
            avg[lang] = m / max(float(np.linalg.norm(m)), 1e-12)
        _save_npz(out_dir / f"{set_name}_lang_to_avg_embd.npz", avg)


def _save_npz(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    from geolid.utils.fileio import atomic_write

    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def main(cmd: Optional[List[str]] = None) -> int:
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if args.fix_duration:
        print("error: --fix_duration true is not supported: inference scores whole utterances",
              file=sys.stderr)
        return 2
    if args.valid_batch_size < 1 or args.top_k < 1:
        print("error: --valid_batch_size and --top_k must be >= 1", file=sys.stderr)
        return 2
    if args.save_tsne_plot:
        logger.warning("--save_tsne_plot is ignored: plot with python -m geolid.bin.plot_tsne (stage 8)")
    try:
        set_name, audio, labels = read_inputs(args.data_path_and_name_and_type)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    progress = Progress(out_dir / f".{set_name}_progress.jsonl", args.lid_model_file)
    device = "cuda" if args.ngpu > 0 else "cpu"
    lid = load_model(args.lid_train_config, args.lid_model_file, device, args.dtype)
    logger.info("%s: %d utterances, %s, batch size %d", set_name, len(audio), lid, args.valid_batch_size)
    run(lid, audio, progress, args.valid_batch_size, args.batch_seconds, args.top_k,
        args.extract_embd, args.checkpoint_interval)
    records = {u: progress.done[u] for u in audio}
    write_outputs(out_dir, set_name, records, labels, args)
    logger.info("wrote %s/%s_lids (%d utterances)", out_dir, set_name, len(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
