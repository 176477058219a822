"""The stage-4 cost model: MMS-1B's figure is the measurement, other shapes scale by FLOPs."""
import pytest

from geolid.utils import encoder_cost as ec


def test_mms_1b_is_the_measured_figure():
    assert ec.MMS1B_S_PER_AUDIO_S == pytest.approx(ec.MEASURED_FIXED_S + 48 * ec.MEASURED_LAYER_S)
    assert ec.hours_per_1000h(ec.MMS_1B) == pytest.approx(1000 * ec.MMS1B_S_PER_AUDIO_S)
    assert 900e6 < ec.MMS_1B.params < 1e9  # "MMS-1B": 965 M parameters
    assert ec.MMS_1B.frames(10.0) == 499  # 320x stride, 400-sample receptive field


def test_other_shapes_scale_by_flops(tiny_hf):
    import json

    small = ec.KNOWN_SHAPES["facebook/mms-300m"]
    assert 0.25 < ec.hours_per_1000h(small) / ec.hours_per_1000h(ec.MMS_1B) < 0.5
    tiny = ec.shape_from_config(json.loads((tiny_hf / "config.json").read_text()))
    assert (tiny.hidden, tiny.layers, tiny.conv_dim) == (32, 4, (32,) * 7)
    assert ec.hours_per_1000h(tiny) < 0.01 * ec.hours_per_1000h(ec.MMS_1B)
    est = ec.stats_cost(ec.MMS_1B, 6628 * 3600, cores=16, jobs=8)
    assert est["two_core_hours"] == pytest.approx(6.628 * ec.hours_per_1000h(ec.MMS_1B))
    assert est["wall_hours"] == pytest.approx(est["two_core_hours"] * 2 / 16)
    assert est["memory_gb"] == pytest.approx(8 * 4 * ec.MMS_1B.params / 1e9)


def test_encoder_of_a_config(tiny_hf):
    conf = {"frontend": "s3prl_condition",
            "frontend_conf": {"frontend_conf": {"path_or_url": "facebook/mms-1b"}}}
    assert ec.encoder_of(conf) == ("facebook/mms-1b", ec.MMS_1B)
    conf["frontend_conf"]["frontend_conf"]["path_or_url"] = str(tiny_hf)
    assert ec.encoder_of(conf)[1].hidden == 32
    conf["frontend_conf"]["frontend_conf"]["path_or_url"] = "someone/unknown"
    assert ec.encoder_of(conf) == ("someone/unknown", None)
    assert ec.encoder_of({"frontend": "default"}) == (None, None)
