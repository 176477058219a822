"""What recipe stage 4 costs when it collects statistics through MMS-1B on the CPU.

``lid.sh --stats_with_model true`` runs ESPnet's ``--collect_stats`` (``--ngpu 0``):
every training and validation utterance goes through the frontend, i.e. the whole
wav2vec2 encoder (all hidden states, for the featurizer). This bench measures that
forward on an MMS-shaped stand-in and extrapolates to MMS-1B:

* random wav2vec2 of MMS-1B's width (hidden 1280, FFN 5120, 16 heads, 7-layer
  conv feature encoder of 512 channels, stable layer norm, positional conv 128/16)
  with ``--layers`` transformer layers (default 4; MMS-1B's 48 would take 4 GB and
  minutes per run, and the cost is linear in the layer count);
* ``inference_mode``, fp32, batch 1 (no padding), ``--seconds`` of audio per
  utterance (default 10 s);
* timed separately, interleaved, best of ``--repeats`` (the least disturbed run on a
  shared machine): the fixed part (conv feature encoder, feature projection,
  positional conv) and one transformer layer on the hidden states; MMS-1B =
  fixed + 48 layers. A whole forward of the stand-in (``output_hidden_states=True``,
  as the featurizer asks) checks the sum: it should be fixed + L layers.

It prints seconds of compute per second of audio and hours per 1,000 h of audio at
the measured thread count; the figures in :mod:`geolid.utils.encoder_cost` (which
``lid.sh`` stage 4 quotes before it starts) come from this script.

    python bench/stats_cost.py --threads 2 --seconds 10 --repeats 3
"""
from __future__ import annotations

import argparse
import platform
import time


def stand_in(num_layers: int):
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    config = Wav2Vec2Config(
        hidden_size=1280, num_hidden_layers=num_layers, num_attention_heads=16,
        intermediate_size=5120, conv_dim=[512] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2],
        conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=True, feat_extract_norm="layer",
        do_stable_layer_norm=True, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
        hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
        layerdrop=0.0, mask_time_prob=0.0)
    torch.manual_seed(0)
    return Wav2Vec2Model(config).eval()


def best_time(fn, repeats: int) -> list:
    return [fn() for _ in range(repeats)]


def timer(fn):
    def run():
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="audio per utterance")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--layers", type=int, default=4)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    model = stand_in(args.layers)
    x = torch.randn(1, int(args.seconds * 16000))
    with torch.inference_mode():
        feats = model.feature_extractor(x).transpose(1, 2)
        hidden, _ = model.feature_projection(feats)
        layer = model.encoder.layers[0]

        def fixed():
            f = model.feature_extractor(x).transpose(1, 2)
            h, _ = model.feature_projection(f)
            model.encoder.pos_conv_embed(h)

        parts = {"fixed": timer(fixed), "layer": timer(lambda: layer(hidden)),
                 "whole": timer(lambda: model(x, output_hidden_states=True))}
        for fn in parts.values():
            fn()  # warm-up
        runs = {k: [] for k in parts}
        for _ in range(args.repeats):  # interleaved: a busy spell hits every part alike
            for k, fn in parts.items():
                runs[k].append(fn())
    best = {k: min(v) for k, v in runs.items()}
    mms = best["fixed"] + 48 * best["layer"]
    rtf = mms / args.seconds
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, {args.seconds:g} s utterances, best of {args.repeats}")
    print("runs (s): " + "; ".join(f"{k} " + " ".join(f"{t:.2f}" for t in v)
                                   for k, v in runs.items()))
    print(f"fixed part (conv feature encoder, projection, positional conv): "
          f"{best['fixed'] / args.seconds:.4f} s per audio second")
    print(f"one 1280-wide transformer layer: {best['layer'] / args.seconds:.4f} s per audio second")
    print(f"check: whole {args.layers}-layer stand-in {best['whole']:.2f} s vs fixed + "
          f"{args.layers} layers {best['fixed'] + args.layers * best['layer']:.2f} s")
    print(f"MMS-1B (48 layers), extrapolated: {rtf:.3f} s per audio second "
          f"= {1000 * rtf:,.0f} hours per 1,000 h of audio at {args.threads} threads")


if __name__ == "__main__":
    main()
