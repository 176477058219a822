import argparse
from pathlib import Path

import pytest
import torch
import yaml

from geolid.tasks.lid import CheckpointMismatchError, ConfigError, GeoLIDTask
from geolid_demo.tiny import make_experiment

CONF_DIR = Path(__file__).resolve().parents[2] / "egs2" / "geolid" / "lid1" / "conf"
CONFIGS = sorted(CONF_DIR.glob("*/*.yaml"))
L = (32, 36, 40, 44)
UP = "frontend.upstream.upstream.model."


def build_on_meta(path, lang_num=107):
    conf = yaml.safe_load(path.read_text())
    conf["lang_num"] = lang_num
    conf["frontend_conf"]["load_pretrained_weights"] = False  # no download: random MMS-1B
    with torch.device("meta"):
        return GeoLIDTask.build_model(argparse.Namespace(**conf)), conf


def test_all_five_published_configs_exist():
    names = [f"{p.parent.name}/{p.stem}" for p in CONFIGS]
    assert len(names) == 5
    assert "combined/mms_ecapa_upcon_32_44_it0.4_shared_trainable" in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_published_config_builds_mms1b_with_published_layout(path):
    model, conf = build_on_meta(path)
    shared = conf["model_conf"]["shared_conditioning_proj"]
    sd = model.state_dict()
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert shapes[f"{UP}encoder.layers.47.final_layer_norm.weight"] == (1280,)
    assert f"{UP}encoder.layers.48.final_layer_norm.weight" not in shapes
    assert shapes["frontend.featurizer.weights"] == (49,)
    for layer in L:
        assert shapes[f"{UP}encoder.pooling.{layer}.attention.0.weight"] == (128, 3840, 1)
        assert shapes[f"{UP}encoder.projector.{layer}.fc.weight"] == (192, 2560)
        assert shapes[f"{UP}encoder.lang2vec_head.{layer}.0.weight"] == (299, 192)
        if not shared:
            assert shapes[f"{UP}encoder.lang2vec_conditioning_projs.{layer}.0.weight"] == (1280, 299)
    if shared:
        assert shapes[f"{UP}encoder.lang2vec_conditioning_projs.weight"] == (1280, 299)
    assert shapes["loss.weight"] == (3 * 107, 192)
    assert shapes["loss.lang2vec_head.0.weight"] == (299, 192)
    assert shapes["projector.fc.weight"] == (192, 3072)
    assert shapes["encoder.layer4.weight"][0] == 1536
    new = sum(v.numel() for k, v in sd.items() if k.startswith(UP + "encoder.")
              and not k.startswith(UP + "encoder.layers.") and not k.startswith(UP + "encoder.pos_conv")
              and not k.startswith(UP + "encoder.layer_norm") and not k.endswith("num_batches_tracked")
              and "running_" not in k)
    assert new == (5_230_252 if shared else 6_382_252)
    cond = model.frontend.hf.conditioning
    assert cond.layers == list(L) and cond.cutoff_before_condproj
    assert cond.cutoff_from_backbone == ("frozen" in path.stem)
    assert model.loss.weighting == "published"


def test_parity_checkpoint_loads_strictly_and_aliases_fold(parity_dir, in_dir):
    with in_dir(parity_dir):
        model, args = GeoLIDTask.build_model_from_file("config.yaml", "model.pth")
    state = torch.load(parity_dir / "model.pth")
    for key in ("weight", "lang2vec_head.0.weight", "lang2vec_head.0.bias"):
        torch.testing.assert_close(model.state_dict()[f"loss.{key}"], state[f"loss.{key}"])
    assert not any("aamsoftmax_loss" in k for k in model.state_dict())


def test_inconsistent_alias_is_an_error(parity_dir, in_dir, tmp_path):
    state = torch.load(parity_dir / "model.pth")
    state[UP + "encoder.aamsoftmax_loss.weight"] = state["loss.weight"] + 1
    torch.save(state, tmp_path / "bad.pth")
    with in_dir(parity_dir), pytest.raises(RuntimeError, match="should alias 'loss.weight'"):
        GeoLIDTask.build_model_from_file("config.yaml", str(tmp_path / "bad.pth"))


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    make_experiment(root / "exp" / "shared", ["eng", "fra", "cmn"], shared=True)
    make_experiment(root / "exp" / "indep", ["eng", "fra", "cmn"], shared=False,
                    encoder_path="hf_tiny_w2v2")
    return root


def test_mismatched_checkpoint_names_keys(experiment, in_dir):
    with in_dir(experiment), pytest.raises(CheckpointMismatchError) as e:
        GeoLIDTask.build_model_from_file("exp/shared/config.yaml", "exp/indep/valid.accuracy.best.pth")
    msg = str(e.value)
    assert "lang2vec_conditioning_projs.weight" in msg and "missing keys" in msg
    assert "lang2vec_conditioning_projs.1.0.weight" in msg and "unexpected keys" in msg
    assert "shared_conditioning_proj" in msg


def test_shape_mismatch_is_explained(experiment, in_dir, tmp_path):
    conf = yaml.safe_load((experiment / "exp/shared/config.yaml").read_text())
    conf["lang_num"] = 5
    conf["loss_conf"]["k_top"] = 2
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(conf))
    with in_dir(experiment), pytest.raises(CheckpointMismatchError, match=r"loss.weight: checkpoint \(9, 8\) vs model \(15, 8\)"):
        GeoLIDTask.build_model_from_file(str(tmp_path / "c.yaml"), "exp/shared/valid.accuracy.best.pth")


@pytest.mark.parametrize("group,key", [("loss_conf", "lang2vec_wieght"), ("encoder_conf", "ndimm"),
                                       ("model_conf", "shared_conditioning_projs"),
                                       ("projector_condition_conf", "output_sise")])
def test_config_key_typo_names_key_and_allowed(experiment, in_dir, tmp_path, group, key):
    conf = yaml.safe_load((experiment / "exp/shared/config.yaml").read_text())
    conf.setdefault(group, {})[key] = 1
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(conf))
    with in_dir(experiment), pytest.raises(ConfigError) as e:
        GeoLIDTask.build_model_from_file(str(tmp_path / "c.yaml"), "exp/shared/valid.accuracy.best.pth")
    msg = str(e.value)
    assert f"{group} has unknown key(s) ['{key}']" in msg and "allowed keys" in msg and "c.yaml" in msg


def test_conditioning_layer_beyond_depth(experiment, in_dir, tmp_path):
    conf = yaml.safe_load((experiment / "exp/shared/config.yaml").read_text())
    conf["model_conf"]["lang2vec_conditioning_layers"] = [1, 4]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(conf))
    with in_dir(experiment), pytest.raises(ValueError, match=r"\[4\] out of range: the encoder has 4 layers"):
        GeoLIDTask.build_model_from_file(str(tmp_path / "c.yaml"))


def test_unknown_choice_lists_valid_names(experiment, in_dir, tmp_path):
    conf = yaml.safe_load((experiment / "exp/shared/config.yaml").read_text())
    conf["loss"] = "aamsoftmax_lang2vec"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(conf))
    with in_dir(experiment), pytest.raises(ValueError, match="aamsoftmax_sc_topk_lang2vec"):
        GeoLIDTask.build_model_from_file(str(tmp_path / "c.yaml"))


def test_cli_parser_knows_geolid_choices():
    parser = GeoLIDTask.get_parser()
    args = parser.parse_args(["--output_dir", "x", "--model", "upstream_condition", "--frontend",
                              "s3prl_condition", "--loss", "aamsoftmax_sc_topk_lang2vec",
                              "--encoder_condition", "identity"])
    assert args.model == "upstream_condition" and args.encoder_condition == "identity"


def test_light_registries_offer_every_released_choice():
    from espnet2.tasks import lid as released

    from geolid.tasks import choices

    for name in ("model", "frontend", "specaug", "normalize", "encoder", "pooling", "projector",
                 "encoder_condition", "pooling_condition", "projector_condition", "loss"):
        ours = getattr(choices, f"{name}_choices").classes
        theirs = getattr(released, f"{name}_choices").classes
        assert set(theirs) <= set(ours), name
        # ESPnet's class or a subclass keeping its parameters (the masked ecapa_tdnn
        # and the batch-invariant espnet model)
        assert all(issubclass(ours[k], v) for k, v in theirs.items()), name
    assert choices.encoder_choices.classes["ecapa_tdnn"] is not released.encoder_choices.classes["ecapa_tdnn"]


def test_building_does_not_import_espnet_tasks():
    import subprocess
    import sys

    code = ("import sys, geolid.tasks.build, geolid_demo.tiny;"
            "print(any(m.startswith('espnet2.tasks') or m == 'espnet2.train.preprocessor' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
