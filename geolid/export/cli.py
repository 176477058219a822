"""``geolid export MODEL --out DIR [--quantize int8|int8-transformer]``."""
from __future__ import annotations

import sys


def add_export_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="export a model to ONNX (fast CPU inference with ONNX Runtime)",
        description="Write MODEL as an ONNX graph of the whole model (dynamic batch and time) with "
                    "its config and class order into DIR; `geolid predict --model DIR` then runs it "
                    "with ONNX Runtime on CPU. See docs/export.md.")
    p.add_argument("model", help="repo id, published-layout folder, experiment folder or .pth")
    p.add_argument("--out", required=True, help="new (or empty) folder to write the export into; "
                                                "never the source model's folder")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    p.add_argument("--quantize", choices=["none", "int8", "int8-transformer"], default="none",
                   help="int8: dynamic int8 MatMuls of the transformer layers and the conv feature "
                        "encoder (fastest); int8-transformer: the transformer layers only (a little "
                        "closer to float). Measured trade-off in docs/export.md")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    from geolid.export.onnx import export_model

    out = export_model(args.model, args.out, quantize=args.quantize, overwrite=args.overwrite)
    print(out)
    print(f"geolid export: wrote {out} ({args.quantize if args.quantize != 'none' else 'float32'}); "
          f"run it with: geolid predict --model {out} FILES", file=sys.stderr)
    return 0
