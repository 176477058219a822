"""The command-line options that choose and run a model, shared by ``geolid predict`` and
``geolid serve`` so that both doors read the same flags with the same defaults (and so
give the same answers for the same command line)."""
from __future__ import annotations

import argparse
import os

from geolid.inference.options import SPEECH_DETECTOR_ENV, default_speech_detector
from geolid.inference.scorer import DTYPES
from geolid.inference.vad import DETECTORS

MODEL_ENV = "GEOLID_MODEL"


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--revision``, ``--allow-outside-paths``."""
    from geolid.published import DEFAULT_MODEL

    p.add_argument("--model", default=os.environ.get(MODEL_ENV, DEFAULT_MODEL),
                   help="Hugging Face repo id, published-layout folder, experiment folder, .pth "
                        f"or ONNX export folder (default: ${MODEL_ENV} or %(default)s)")
    p.add_argument("--revision", help="Hub revision of --model")
    p.add_argument("--allow-outside-paths", action="store_true",
                   help="let the model's config.yaml name files outside its folder (refused by "
                        "default: a downloaded model must not make geolid read other files)")


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    """``--device``, ``--dtype``, ``--threads``, ``--speech-detector``."""
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    p.add_argument("--dtype", default="auto", choices=DTYPES,
                   help="autocast dtype (auto: fp32 on CPU; bf16 on a GPU with bf16 support once a probe "
                        "agrees with fp32, else fp32; never fp16. See docs/cli.md)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads (default: this machine's cores shared among the geolid "
                        "processes running at once, re-counted between batches; or $GEOLID_THREADS)")
    p.add_argument("--speech-detector", choices=DETECTORS, default=default_speech_detector(),
                   help="speech detector: inputs without speech are labelled zxx, every record "
                        f"has speech_fraction (default: ${SPEECH_DETECTOR_ENV} or %(default)s)")
