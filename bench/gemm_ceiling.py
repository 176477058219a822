"""What the CPU allows: one encoder layer's GEMMs alone, torch fp32 vs ONNX Runtime fp32 / int8.

A wav2vec2 layer's six weight GEMMs with their biases (q, k, v, out: hidden x
hidden; the feed-forward: hidden x ffn and back) on ``--frames`` frames (200 = 4 s of
audio), side by side in one run, interleaved over ``--repeats`` rounds:

* torch fp32: ``F.linear`` (MKL / oneDNN);
* ORT fp32: the same MatMuls as an ONNX graph (MLAS), threads not spinning
  when idle (``--spin`` spins, ONNX Runtime's own default);
* ORT int8: that graph through ``quantize_dynamic`` (int8 weights, dynamic
  uint8 activations: what ``geolid export --quantize int8`` does to the encoder).

At the MMS-1B shape these GEMMs are most of the model's time, so their
speed-ups bound what bench/onnx_speed.py can show for the whole model.

    python bench/gemm_ceiling.py --sizes base large mms-1b
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

SHAPES = {"base": (768, 3072), "large": (1024, 4096), "mms-1b": (1280, 5120)}  # hidden, ffn


def layer_graph(hidden: int, ffn: int, path: Path, seed: int = 0) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    shapes = [(hidden, hidden)] * 4 + [(hidden, ffn), (ffn, hidden)]
    inits = [numpy_helper.from_array((0.02 * rng.standard_normal(s)).astype(np.float32), f"w{i}")
             for i, s in enumerate(shapes)]
    inits += [numpy_helper.from_array((0.02 * rng.standard_normal(s[1])).astype(np.float32), f"b{i}")
              for i, s in enumerate(shapes)]
    nodes = []
    for i, (src, dst) in enumerate([("x", "y0"), ("x", "y1"), ("x", "y2"), ("x", "y3"), ("x", "h"), ("h", "y5")]):
        nodes += [helper.make_node("MatMul", [src, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [dst])]
    outputs = [helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None) for i in (0, 1, 2, 3, 5)]
    graph = helper.make_graph(nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", hidden])],
                              outputs, inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def bench_shape(size: str, args) -> dict:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    hidden, ffn = SHAPES[size]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    if not args.spin:  # as geolid's OnnxScorer does by default
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    with tempfile.TemporaryDirectory(prefix="geolid_gemm_") as tmp:  # sessions hold the weights
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        layer_graph(hidden, ffn, fp32)
        quantize_dynamic(str(fp32), str(int8), op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
        sessions = {p: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
                    for p in (fp32, int8)}
        arrays = {i.name: onnx.numpy_helper.to_array(i) for i in onnx.load(str(fp32)).graph.initializer}
    weights = [(torch.from_numpy(arrays[f"w{i}"].T.copy()), torch.from_numpy(arrays[f"b{i}"].copy()))
               for i in range(6)]
    x = np.random.default_rng(1).standard_normal((args.frames, hidden)).astype(np.float32)
    xt = torch.from_numpy(x)

    def torch_layer():
        with torch.inference_mode():
            for w, b in weights[:4]:
                torch.nn.functional.linear(xt, w, b)
            torch.nn.functional.linear(torch.nn.functional.linear(xt, *weights[4]), *weights[5])

    ways = {"torch fp32": torch_layer,
            "ORT fp32": lambda: sessions[fp32].run(None, {"x": x}),
            "ORT int8": lambda: sessions[int8].run(None, {"x": x})}
    times = {name: [] for name in ways}
    for f in ways.values():
        f()
    for _ in range(args.repeats):
        for name, f in ways.items():
            t = time.perf_counter()
            for _ in range(5):
                f()
            times[name].append((time.perf_counter() - t) / 5)
    flops = 2 * args.frames * (4 * hidden * hidden + 2 * hidden * ffn)
    return {name: (statistics.median(t), flops) for name, t in times.items()}


def main() -> None:
    # Idle OpenMP threads of torch sleep, so they do not take the cores from the
    # ONNX Runtime call that follows them in this interleaved run (costs torch nothing
    # measurable here).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", choices=sorted(SHAPES), default=["mms-1b"])
    p.add_argument("--frames", type=int, default=200, help="frames per call (200 = 4 s)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--spin", action="store_true",
                   help="let ONNX Runtime's idle threads spin (its default; geolid turns it off)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    for size in args.sizes:
        r = bench_shape(size, args)
        base = r["torch fp32"][0]
        print(f"\n{size} layer GEMMs, {args.frames} frames, {args.threads} threads")
        print(f"{'way':<11} {'ms':>7} {'GFLOP/s':>8} {'speed-up':>9}")
        for name, (s, flops) in r.items():
            print(f"{name:<11} {1e3 * s:>7.2f} {flops / s / 1e9:>8.0f} {base / s:>8.2f}x")


if __name__ == "__main__":
    main()
