"""The static list of top-level config keys matches what lid_train accepts (issue 7 item 10)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from geolid.model.errors import ESPNET_WRITES, TRAIN_CONFIG_KEYS, ModelError, check_config_keys


def test_static_key_list_equals_the_training_parser():
    from geolid.tasks.lid import GeoLIDTask  # espnet2.tasks: slow, so only here

    parser_keys = {a.dest for a in GeoLIDTask.get_parser()._actions if a.dest != "help"}
    assert TRAIN_CONFIG_KEYS == parser_keys | ESPNET_WRITES


def test_published_config_passes():
    cfg = Path(__file__).resolve().parents[1] / "fixtures/upstream_parity/a_shared_trainable/config.yaml"
    check_config_keys(yaml.safe_load(cfg.read_text()), cfg)


def test_unknown_keys_are_named_with_a_suggestion():
    with pytest.raises(ModelError, match=r"config.yaml: unknown top-level key\(s\) \['lang_nmu'\].*lang_num"):
        check_config_keys({"lang_num": 3, "lang_nmu": 3}, "config.yaml")
