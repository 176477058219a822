"""Int8 accuracy on a trained model: top-1 agreement with fp32 and accuracy, per test set.

For each experiment folder (a trained model, e.g. the demo's ``exp/lid_tiny_geo_raw``)
and each Kaldi data dir (``wav.scp`` + ``utt2lang``), runs four ways over every
utterance (batch 1, CPU): torch fp32, ORT fp32 (``geolid export``), torch int8
(``torch.ao`` dynamic) and ORT int8 (``geolid export --quantize int8``), and prints
accuracy and top-1 agreement with torch fp32. Targets (issue 9 section 4): int8 vs
fp32 agreement >= 99%, accuracy within 1 point.

    python bench/onnx_int8_accuracy.py --exp DEMO/exp/lid_tiny_geo_raw DEMO/exp/lid_tiny_baseline_raw \
        --data DEMO/data/test DEMO/data/test_accent
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path


def predictions(lid, scp: dict) -> dict:
    return {p.key: p.language for p in lid.predict_iter(scp.items(), locate=False)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", nargs="+", type=Path, required=True, help="trained experiment folders")
    p.add_argument("--data", nargs="+", type=Path, required=True, help="Kaldi data dirs")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import torch

    from geolid.export.onnx import export_model
    from geolid.inference.api import GeoLID
    from geolid.utils.fileio import read_kaldi_map

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="geolid_int8_acc_", dir="/tmp"))
    try:
        for exp in args.exp:
            fp32_dir, int8_dir = tmp / exp.name / "fp32", tmp / exp.name / "int8"
            export_model(str(exp), fp32_dir)
            export_model(str(exp), int8_dir, quantize="int8")
            ways = {"torch fp32": GeoLID.from_pretrained(str(exp), device="cpu"),
                    "ORT fp32": GeoLID.from_pretrained(str(fp32_dir)),
                    "torch int8": GeoLID.from_pretrained(str(exp), device="cpu", quantize="int8"),
                    "ORT int8": GeoLID.from_pretrained(str(int8_dir))}
            for data in args.data:
                scp = read_kaldi_map(data / "wav.scp")
                truth = read_kaldi_map(data / "utt2lang")
                preds = {name: predictions(lid, scp) for name, lid in ways.items()}
                ref = preds["torch fp32"]
                print(f"\n{exp.name} on {data.name} ({len(scp)} utterances)")
                print(f"{'way':<11} {'accuracy':>9} {'agree w/ torch fp32':>20} {'agree w/ ORT fp32':>18}")
                for name, pred in preds.items():
                    acc = sum(pred[u] == truth[u] for u in scp) / len(scp)
                    agree = sum(pred[u] == ref[u] for u in scp) / len(scp)
                    agree_ort = sum(pred[u] == preds["ORT fp32"][u] for u in scp) / len(scp)
                    print(f"{name:<11} {100 * acc:>8.1f}% {100 * agree:>19.1f}% {100 * agree_ort:>17.1f}%")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
