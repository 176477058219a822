"""Every YAML config of every recipe builds a model; the lid1 configs hold the published
values; the published YAML files themselves train unchanged (SpeechBrain-style checks)."""
import argparse
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from geolid.tasks.build import build_model

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "egs2" / "geolid").glob("*/conf/**/*.yaml"))
CONF = REPO / "egs2/geolid/lid1/conf"
PUBLISHED = Path(__file__).parent / "published"
VL107 = CONF / "voxlingua107_only/mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml"
COMBINED = CONF / "combined/mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml"
# Keys our configs add, which change nothing (see the comments in the configs).
ADDITIONS = {"min_batch_size"}


def load(path):
    return yaml.safe_load(Path(path).read_text())


def test_configs_found():
    assert len(CONFIGS) >= 7  # 5 published + 2 demo


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "egs2" / "geolid")))
def test_config_builds(path, tiny_hf):
    conf = load(path)
    conf.setdefault("lang_num", 16)
    fconf = conf["frontend_conf"]
    if fconf["frontend_conf"]["path_or_url"].startswith("facebook/"):
        fconf["load_pretrained_weights"] = False  # MMS-1B shape, random weights, on meta
        device = torch.device("meta")
    else:
        fconf["frontend_conf"]["path_or_url"] = str(tiny_hf)  # the demo's local stand-in
        device = torch.device("cpu")
    with device:
        model = build_model(argparse.Namespace(**conf))
    n_lang = model.loss.weight.shape[0] // model.loss.K
    assert n_lang == 16
    geo = conf["model"] == "upstream_condition"
    assert hasattr(model, "score")  # one scoring path, geo and baseline
    assert hasattr(model.loss, "predict_lang2vec") == geo
    if geo:
        assert model.frontend.hf.conditioning.layers == conf["model_conf"]["lang2vec_conditioning_layers"]
    assert conf["best_model_criterion"] == [["valid", "accuracy", "max"]]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "egs2" / "geolid")))
def test_config_keys_are_lid_train_options(path):
    """ESPnet's config parser rejects keys lid_train does not know."""
    from geolid.tasks.lid import GeoLIDTask

    args = GeoLIDTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    for key, value in load(path).items():
        assert getattr(args, key) == value, key


def _without(conf, keys, loss_keys=("weighting",)):
    conf = copy.deepcopy(conf)
    for k in keys:
        conf.pop(k, None)
    for k in loss_keys:
        conf["loss_conf"].pop(k, None)
    return conf


def test_vl107_config_equals_published():
    ours, published = load(VL107), load(PUBLISHED / "vl107_shared_trainable.yaml")
    assert _without(ours, ADDITIONS) == published
    assert ours["loss_conf"]["weighting"] == "published"  # the released code's weighting
    # The published schedule, slip included: 30 x 1000 / 2 = 15000 updates = warmup + hold.
    sched = ours["scheduler_conf"]
    assert sched["max_steps"] == 30000
    updates = ours["max_epoch"] * ours["num_iters_per_epoch"] // ours["accum_grad"]
    assert updates == 15000 == sched["max_steps"] * (sched["warmup_ratio"] + sched["hold_ratio"])
    assert '--lid_args "--scheduler_conf max_steps=15000"' in VL107.read_text()


@pytest.mark.parametrize("variant,frozen,shared", [
    ("shared_frozen", True, True), ("independent_trainable", False, False),
    ("independent_frozen", True, False)])
def test_vl107_variants_differ_only_in_condproj(variant, frozen, shared):
    ours = load(CONF / f"voxlingua107_only/mms_ecapa_upcon_32_44_it0.4_{variant}.yaml")
    ref = load(VL107)
    ref["model_conf"].update(cutoff_gradient_from_backbone=frozen, shared_conditioning_proj=shared)
    assert ours == ref


def published_args(path):
    """A published YAML as lid_train reads it (aliases resolved, repeated keys: last wins)."""
    from geolid.tasks.lid import GeoLIDTask, resolve_published_aliases

    args = GeoLIDTask.get_parser().parse_args(["--config", str(path), "--output_dir", "x"])
    return resolve_published_aliases(args)


def test_combined_config_equals_published_as_read():
    ours = load(COMBINED)
    published = load(PUBLISHED / "combined_shared_trainable.yaml")  # YAML: last key wins
    assert published["projector_condition"] == "rawnet3"
    published["category_upsampling_factor"] = published.pop("language_upsampling_factor")
    # Ours spells out what the published file leaves to the defaults (its repeated
    # projector_condition hid pooling_condition; projector_condition_conf is the default 192).
    additions = ADDITIONS | {"pooling_condition", "projector_condition_conf"}
    assert _without(ours, additions) == published
    args = published_args(PUBLISHED / "combined_shared_trainable.yaml")
    assert args.category_upsampling_factor == 0.5 and not hasattr(args, "language_upsampling_factor")
    assert (args.scheduler_conf["max_steps"], args.scheduler_conf["warmup_ratio"],
            args.scheduler_conf["hold_ratio"]) == (12500, 0.1, 0.4)
    assert '--lid_args "--scheduler_conf max_steps=16500"' in COMBINED.read_text()


def _build(args_or_conf, tiny_hf):
    conf = copy.deepcopy(vars(args_or_conf) if isinstance(args_or_conf, argparse.Namespace)
                         else args_or_conf)
    conf["lang_num"] = 12
    conf["frontend_conf"]["frontend_conf"]["path_or_url"] = str(tiny_hf)
    conf["model_conf"]["lang2vec_conditioning_layers"] = [1, 2]  # the tiny encoder has 4 layers
    torch.manual_seed(0)
    return build_model(argparse.Namespace(**conf))


def test_model_from_published_combined_yaml_equals_ours(tiny_hf):
    """Same modules, same parameter names, shapes and (same seed) values."""
    theirs = _build(published_args(PUBLISHED / "combined_shared_trainable.yaml"), tiny_hf)
    ours = _build(published_args(COMBINED), tiny_hf)
    a, b = theirs.state_dict(), ours.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert repr(theirs) == repr(ours)


@pytest.mark.parametrize("name", ["vl107_shared_trainable.yaml", "combined_shared_trainable.yaml"])
def test_published_yaml_passes_lid_train(name):
    proc = subprocess.run([sys.executable, "-m", "geolid.bin.lid_train", "--config",
                           str(PUBLISHED / name), "--print_config"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    notices = [line for line in proc.stderr.splitlines() if line.startswith("notice:")]
    if name.startswith("combined"):
        assert notices == ["notice: language_upsampling_factor: 0.5 (published config spelling) "
                           "is ESPnet's category_upsampling_factor; using category_upsampling_factor: 0.5"]
    else:
        assert notices == []


def test_rir_scp_at_probability_zero_is_not_opened(tmp_path):
    """The published configs name dump/raw/rirs.scp at rir_apply_prob 0; ESPnet would open it."""
    from geolid.tasks.lid import GeoLIDTask

    lang2utt = tmp_path / "lang2utt"
    lang2utt.write_text("eng eng_1\nfra fra_1\n")
    args = published_args(PUBLISHED / "vl107_shared_trainable.yaml")
    args.lang2utt, args.use_preprocessor = str(lang2utt), True
    assert not Path(args.preprocessor_conf["rir_scp"]).exists()
    fn = GeoLIDTask.build_preprocess_fn(args, train=True)
    assert fn.rirs is None
    args.preprocessor_conf = dict(args.preprocessor_conf, rir_apply_prob=0.5)
    with pytest.raises(FileNotFoundError, match="rirs.scp"):
        GeoLIDTask.build_preprocess_fn(args, train=True)
