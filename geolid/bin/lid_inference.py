#!/usr/bin/env python3
"""Recipe stage 6: the model's posteriors (and embeddings) for a Kaldi data folder.

    python -m geolid.bin.lid_inference --output_dir DIR \\
        --data_path_and_name_and_type data/SET/wav.scp,speech,sound \\
        [--data_path_and_name_and_type data/SET/utt2lang,lid_labels,text] \\
        --lid_train_config exp/lid_x/config.yaml --lid_model_file exp/lid_x/valid.accuracy.best.pth \\
        [--valid_batch_size 8] [--ngpu 1] [--published_batching true] [--extract_embd true ...]

Utterances are scored by the one rule ``geolid predict`` uses
(:mod:`geolid.inference.utterance`: 30 s windows for longer utterances, speech-weighted
mean of the windows' probabilities), with the model *as trained*: its calibration
temperature (stage 7 writes it) is not applied, so this stage's outputs do not depend
on whether stage 7 ran before. Decisions that ``geolid predict`` adds on top (``zxx``,
``unknown``, a minimum duration) are not taken: every utterance gets the model's argmax.

``--published_batching true`` reproduces the published stage 6 bit for bit instead:
batches of ``--valid_batch_size`` (4 in the published run scripts) consecutive
``wav.scp`` utterances, zero-padded to the longest, whole utterances, through the
model with ``batch_invariant: false`` (each utterance's output then depends on its
batch-mates; docs/batching.md).

Writes into ``--output_dir`` (SET = the data folder's name, as ESPnet's ``lid_inference``):

* ``SET_lids``: ``utt iso3`` (the argmax, as ESPnet);
* ``SET_lids_topk``: ``utt iso3:prob iso3:prob ...``, the ``--top_k`` most likely languages;
* ``SET_posteriors.npz``: ``utts`` (N,), ``languages`` (C,), ``log_posteriors`` (N, C),
  ``logits`` (N, C, the weighted mean of the windows' logits) and ``embedding_norms``
  (N,), and every window's ``window_logits`` (M, C), ``window_weights`` (M,) and
  ``window_keys`` (M,, its utterance): the full posteriors, from which stage 7
  calibrates (and fits the unknown-language score) without another pass;
* ``SET_model.json``: the model (weights sha256, head fingerprint) and options behind them;
* with ``--extract_embd true``: ``SET_lang_to_embds.npz`` (L2-normalised embeddings by
  reference language, needs utt2lang), and with ``--save_embd_per_utt`` ``SET_utt_embds.npz``,
  with ``--save_embd_avg_lang`` ``SET_lang_to_avg_embd.npz`` (normalised mean per language).

A rerun resumes from ``.SET_progress.jsonl`` (the same resumable store as ``geolid predict
--out``): records of the same model and options are kept, anything else is started afresh.
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

from geolid.inference.scorer import DTYPES as SCORER_DTYPES

logger = logging.getLogger("geolid.lid_inference")

DTYPES = tuple(d for d in SCORER_DTYPES if d != "auto")   # the recipe names its dtype
PUBLISHED_BATCH_SIZE = 4


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
    p.add_argument("--lid_train_config", required=True,
                   help="the experiment's config.yaml (must lie beside --lid_model_file)")
    p.add_argument("--lid_model_file", required=True)
    p.add_argument("--ngpu", type=int, default=0, help="0: CPU; >= 1: one GPU")
    p.add_argument("--valid_batch_size", type=int, default=8, help="utterances (windows) per batch")
    p.add_argument("--batch_seconds", type=float, default=240.0,
                   help="at most this much padded audio per batch (memory bound)")
    p.add_argument("--published_batching", type=str2bool, default=False,
                   help="reproduce the published stage 6: consecutive batches of --valid_batch_size "
                        "whole utterances, zero-padded, batch_invariant false")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="float32 (as the published evaluation), or bf16/fp16 autocast on GPU")
    p.add_argument("--top_k", type=int, default=5, help="languages per line of SET_lids_topk")
    p.add_argument("--extract_embd", type=str2bool, default=False)
    p.add_argument("--save_embd_per_utt", type=str2bool, default=False)
    p.add_argument("--save_embd_avg_lang", type=str2bool, default=False)
    p.add_argument("--fix_duration", type=str2bool, default=False,
                   help="must be false: inference uses whole utterances")
    p.add_argument("--log_level", default="INFO")
    return p


def read_inputs(triples: Sequence[Tuple[str, str, str]]) -> Tuple[str, Dict[str, str], Dict[str, str]]:
    """(set name, utt -> audio path (wav.scp order), utt -> reference language or {})."""
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


def recipe_options(args, top_k: int):
    """The options of the recipe's scoring (the utterance rule of ``geolid predict``, no
    minimum duration: every utterance of a recipe set is scored)."""
    from geolid.inference.options import PredictOptions

    if args.published_batching:
        return PredictOptions(window=None, speech_detector="none", min_duration=0.0, top_k=top_k,
                              locate=False)
    return PredictOptions(min_duration=0.0, top_k=top_k, locate=False,
                          batch_size=args.valid_batch_size, batch_seconds=args.batch_seconds)


def load_model(config: str, model_file: str, device: str, dtype: str, published: bool):
    """The recipe's model, uncalibrated (the posteriors as trained), as a GeoLID."""
    from geolid.inference.api import GeoLID
    from geolid.inference.scorer import TorchScorer
    from geolid.model.folder import ModelFolder
    from geolid.model.loading import load_torch_model

    folder = ModelFolder.open(model_file)
    if Path(config).resolve() != folder.config_path.resolve():
        raise ValueError(f"--lid_train_config {config}: the config of {model_file} is "
                         f"{folder.config_path}; pass that one")
    model = load_torch_model(folder, calibrated=False)
    model.batch_invariant = not published
    scorer = TorchScorer(model.to(device), folder.languages, device, dtype, folder.geo_type)
    return GeoLID(scorer, folder.with_head(folder.head.uncalibrated()))


def run_key(lid, options, published: bool) -> Dict:
    return {"model": lid.folder.identity(include_calibration=False).to_dict(),
            "options": dict(options.result_key(), published_batching=published)}


def score_set(lid, audio: Dict[str, str], store_path: Path, key: Dict, pipeline) -> Dict[str, dict]:
    """Score every utterance not yet in the resumable store; all records by utterance."""
    from geolid.cli.output_store import OutputStore
    from geolid.model.identity import ModelIdentity

    identity = ModelIdentity(**{k: key["model"][k] for k in ("name", "sha256", "head")})
    store = OutputStore(store_path, "jsonl", identity, overwrite=True, options=key["options"])
    done = store.open()
    records = {u: r for u, r in read_store(store_path).items() if u in done} if done else {}
    todo = [(u, p) for u, p in audio.items() if u not in done]
    if done:
        logger.info("resuming: %d of %d utterances already done", len(audio) - len(todo), len(audio))
    try:
        out = store.stream()
        for utts in lid.utterances(todo, pipeline=pipeline):
            for u in utts:
                rec = utterance_record(u, lid.languages, key)
                records[u.key] = rec
                out.write(json.dumps(rec) + "\n")
            store.flush()
    except BaseException:
        store.close(failed=True)
        raise
    store.close()
    return records


def utterance_record(u, languages: Sequence[str], key: Dict) -> dict:
    """A resumable-store record: the result schema plus the full posteriors, the windows'
    logits and weights (stage 7 calibrates them) and the embedding."""
    from geolid.inference.results import SCHEMA_VERSION

    rec = {"schema_version": SCHEMA_VERSION, "key": u.key, "path": u.path, "language": None,
           "probability": None, "top_k": [], "error": u.error, "model": key["model"],
           "options": key["options"]}
    if u.ok:
        from geolid.inference.utterance import weights_of

        p = np.asarray(u.probabilities, dtype=np.float64)
        best = int(np.argmax(p))
        rec.update(language=languages[best], probability=round(float(p[best]), 6),
                   duration=u.duration, num_windows=u.n_windows, speech_fraction=u.speech_fraction,
                   probabilities=[float(v) for v in p], logits=[float(v) for v in u.logits],
                   embedding=[float(v) for v in u.embedding],
                   window_logits=[[float(v) for v in w.logits] for w in u.windows],
                   window_weights=[float(v) for v in weights_of(u.windows)])
    return rec


def read_store(path: Path) -> Dict[str, dict]:
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            out[rec["key"]] = rec
    return out


def write_outputs(out_dir: Path, set_name: str, records: Dict[str, dict], languages: Sequence[str],
                  labels: Dict[str, str], key: Dict, args) -> None:
    from geolid.bin.model_check import MODEL_RECORD
    from geolid.utils.fileio import atomic_write

    utts = sorted(records)
    logits = np.asarray([records[u]["logits"] for u in utts], dtype=np.float64)
    probs = np.asarray([records[u]["probabilities"] for u in utts], dtype=np.float64)
    logp = np.log(np.maximum(probs, 1e-38)).astype(np.float32)
    window_keys = [u for u in utts for _ in records[u]["window_logits"]]
    window_logits = np.asarray([w for u in utts for w in records[u]["window_logits"]], dtype=np.float32)
    window_weights = np.asarray([w for u in utts for w in records[u]["window_weights"]], dtype=np.float64)
    norms = np.asarray([np.linalg.norm(records[u]["embedding"]) for u in utts], dtype=np.float32)
    with atomic_write(out_dir / f"{set_name}_lids") as f:
        f.writelines(f"{u} {records[u]['language']}\n" for u in utts)
    write_topk(out_dir / f"{set_name}_lids_topk", utts, logp, languages, args.top_k)
    _save_npz(out_dir / f"{set_name}_posteriors.npz",
              {"utts": np.asarray(utts), "languages": np.asarray(languages), "log_posteriors": logp,
               "logits": logits.astype(np.float32), "embedding_norms": norms,
               "window_keys": np.asarray(window_keys), "window_logits": window_logits,
               "window_weights": window_weights})
    with atomic_write(out_dir / MODEL_RECORD.format(set=set_name)) as f:
        json.dump(key, f, indent=1)
    if not args.extract_embd:
        return
    embd = {}
    for u in utts:
        e = np.asarray(records[u]["embedding"], dtype=np.float32)
        embd[u] = e / max(float(np.linalg.norm(e)), 1e-12)  # as ESPnet: L2-normalised
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


def write_topk(path: Path, utts: Sequence[str], log_posteriors: np.ndarray, languages: Sequence[str],
               top_k: int) -> None:
    """``utt iso3:prob ...`` lines of the ``top_k`` most likely languages."""
    from geolid.utils.fileio import atomic_write

    probs = np.exp(np.asarray(log_posteriors, dtype=np.float64))
    with atomic_write(path) as f:
        for u, p in zip(utts, probs):
            order = np.argsort(-p, kind="stable")[:top_k]
            f.write(u + " " + " ".join(f"{languages[i]}:{p[i]:.6f}" for i in order) + "\n")


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
    from geolid.model.errors import ModelError, ModelNotFoundError

    try:
        set_name, audio, labels = read_inputs(args.data_path_and_name_and_type)
        out_dir = Path(args.output_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        device = "cuda" if args.ngpu > 0 else "cpu"
        lid = load_model(args.lid_train_config, args.lid_model_file, device, args.dtype,
                         args.published_batching)
    except (OSError, ValueError, ModelError, ModelNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from geolid.inference.pipeline import BatchPolicy, Pipeline

    options = recipe_options(args, args.top_k)
    policy = (BatchPolicy(size=args.valid_batch_size, consecutive=True) if args.published_batching
              else None)
    pipeline = Pipeline(lid.scorer, options, policy, keep_windows=True)   # stage 7 calibrates them
    key = run_key(lid, options, args.published_batching)
    logger.info("%s: %d utterances, %s, %s", set_name, len(audio), lid,
                "published batching" if args.published_batching else "batch-invariant")
    records = score_set(lid, audio, out_dir / f".{set_name}_progress.jsonl", key, pipeline)
    failed = {u: r["error"] for u, r in records.items() if r.get("error")}
    if failed:
        print(f"error: {len(failed)} of {len(audio)} utterances of {set_name} could not be scored:\n  "
              + "\n  ".join(f"{u}: {e}" for u, e in list(failed.items())[:20]), file=sys.stderr)
        return 2
    write_outputs(out_dir, set_name, {u: records[u] for u in audio}, lid.languages, labels, key, args)
    logger.info("wrote %s/%s_lids (%d utterances)", out_dir, set_name, len(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
