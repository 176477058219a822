"""Per-clip model outputs, computed once and cached as .npz (bench helper).

``outputs(model_dir, name, items, cache_dir)`` runs ``GeoLID.classify_batch`` on
each clip alone (no padding effects) and stores, per clip: the logits as the
API returns them (scaled cosines / calibration temperature), the embedding and
the predicted geo vector (when the model has a geo head). The cache key is the
model weight file's path, size and mtime plus the set name and its utterance ids,
so a retrained model or another clip list is recomputed.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np


def data_dir_items(data_dir) -> List[Tuple[str, str, str]]:
    """(utt, wav path, iso3) of a Kaldi data dir with a plain-path wav.scp."""
    from geolid.utils.fileio import read_kaldi_map

    wavs = read_kaldi_map(Path(data_dir) / "wav.scp")
    langs = read_kaldi_map(Path(data_dir) / "utt2lang")
    return [(u, wavs[u], langs[u]) for u in sorted(wavs)]


_MODELS: Dict[str, object] = {}


def load(model_dir):
    from geolid import GeoLID

    key = str(Path(model_dir).resolve())
    if key not in _MODELS:
        _MODELS[key] = GeoLID.from_pretrained(key, device="cpu")
    return _MODELS[key]


def model_facts(model_dir) -> Dict:
    """Class order, classifier weight (K*C, D), K, scale, temperature (1 if uncalibrated)."""
    lid = load(model_dir)
    loss = lid.model.loss
    cal = getattr(lid, "calibration", None)
    return {"languages": list(lid.languages), "weight": loss.weight.detach().float().cpu().numpy(),
            "K": int(getattr(loss, "K", 1)),
            "scale": float(getattr(loss, "scale", getattr(loss, "s", 1.0))),
            "temperature": float(cal.temperature) if cal is not None else 1.0}


def outputs(model_dir, name: str, items: Sequence[Tuple[str, str, str]], cache_dir) -> Dict[str, np.ndarray]:
    """``{"utts", "langs", "logits", "embeddings", "geo"}`` for ``items`` (cached)."""
    from geolid.audio import load_audio

    weight = Path(model_dir) / "valid.accuracy.best.pth"
    st = weight.stat() if weight.is_file() else None
    sig = f"{Path(model_dir).resolve()}|{st and (st.st_size, st.st_mtime)}|{name}|" + \
        ",".join(u for u, _, _ in items)
    key = hashlib.sha1(sig.encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"{Path(model_dir).name}_{name}_{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    lid = load(model_dir)
    logits, emb, geo = [], [], []
    for _, wav, _ in items:
        out = lid.classify_batch([load_audio(wav)])
        logits.append(out.scores[0])
        emb.append(out.embeddings[0])
        geo.append(out.geo_vectors[0] if out.geo_vectors is not None else np.zeros(0, np.float32))
    res = {"utts": np.asarray([u for u, _, _ in items]), "langs": np.asarray([lg for _, _, lg in items]),
           "logits": np.asarray(logits, np.float32), "embeddings": np.asarray(emb, np.float32),
           "geo": np.asarray(geo, np.float32)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **res)
    print(f"  cached {len(items)} clips of {name} ({Path(model_dir).name})", file=sys.stderr)
    return res
