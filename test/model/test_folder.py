"""The model folder: layouts, the checkpoint fallback, confinement, side files, writing."""
from __future__ import annotations

import json
import logging
import shutil

import pytest
import yaml

from geolid.model.errors import ModelError, ModelNotFoundError
from geolid.model.folder import ModelFolder, check_output_folder, pick_weights, write_folder

from .conftest import EXP_REL, LANGS


def test_epoch_files_sort_by_number(tmp_path):
    for name in ("9epoch.pth", "20epoch.pth", "3epoch.pth", "checkpoint.pth"):
        (tmp_path / name).write_bytes(b"x")
    assert pick_weights(tmp_path).name == "20epoch.pth"


def test_broken_best_link_is_skipped_with_a_message(tmp_path, caplog):
    (tmp_path / "valid.accuracy.best.pth").symlink_to("15epoch.pth")   # removed by keep_nbest_models
    (tmp_path / "4epoch.pth").write_bytes(b"x")
    (tmp_path / "12epoch.pth").write_bytes(b"x")
    with caplog.at_level(logging.WARNING):
        assert pick_weights(tmp_path).name == "12epoch.pth"
    assert "valid.accuracy.best.pth" in caplog.text and "broken link" in caplog.text


def test_preferred_names_win(tmp_path):
    (tmp_path / "valid.accuracy.ave.pth").write_bytes(b"x")
    (tmp_path / "30epoch.pth").write_bytes(b"x")
    assert pick_weights(tmp_path).name == "valid.accuracy.ave.pth"


def test_three_ways_to_name_one_model(model_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative config paths do not depend on the cwd
    a = ModelFolder.open(model_root)
    b = ModelFolder.open(model_root / EXP_REL)
    c = ModelFolder.open(model_root / EXP_REL / "valid.accuracy.best.pth")
    assert a.exp == b.exp == c.exp and a.weights == b.weights == c.weights
    assert list(a.languages) == LANGS and a.root == model_root and a.is_published_layout
    assert a.identity().sha256 == c.identity().sha256 and a.identity().head == ""
    assert set(a.files()) == {a.config_path, a.weights, model_root / "data" / "lang2utt"}


def _copy(model_root, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(model_root, root)
    return root, root / EXP_REL / "config.yaml"


def _edit(config, **changes):
    conf = yaml.safe_load(config.read_text())
    for key, value in changes.items():
        if key == "encoder":
            conf["frontend_conf"]["frontend_conf"]["path_or_url"] = value
        else:
            conf[key] = value
    config.write_text(yaml.safe_dump(conf))


def test_config_paths_outside_the_folder_are_refused(model_root, tmp_path):
    root, config = _copy(model_root, tmp_path)
    outside = tmp_path / "elsewhere" / "lang2utt"
    outside.parent.mkdir()
    outside.write_text("".join(f"{c} u\n" for c in LANGS))
    for path in (str(outside), "../elsewhere/lang2utt"):
        _edit(config, lang2utt=path)
        with pytest.raises(ModelError, match="key 'lang2utt' points outside the model folder"):
            ModelFolder.open(root)
        assert ModelFolder.open(root, allow_outside=True).lang2utt == outside.resolve()
    _edit(config, lang2utt="/etc/passwd")
    with pytest.raises(ModelError, match="outside the model folder"):
        ModelFolder.open(root)
    _edit(config, lang2utt="data/lang2utt", encoder="/etc")
    folder = ModelFolder.open(root)          # nothing resolved yet: the config is only read
    with pytest.raises(ModelError, match="path_or_url' points outside"):
        folder.resolved_config()


def test_side_files_are_validated_on_open(model_root, tmp_path):
    root, config = _copy(model_root, tmp_path)
    exp = config.parent
    for text, match in (('{"temperature": 1e300}', "outside \\[0.05, 20"),
                        ('{"temperature": 1e-300}', "outside"),
                        ('{"temperature": "x"}', "must be a number"),
                        ('[1, 2]', "expected a mapping"),
                        ('{"temp": 2}', "no 'temperature' key"),
                        ("not json", "not valid JSON")):
        (exp / "calibration.json").write_text(text)
        with pytest.raises(ModelError, match=match):
            ModelFolder.open(root)
    (exp / "calibration.json").write_text('{"temperature": 2.5}')
    assert ModelFolder.open(root).head.temperature == 2.5
    for doc, match in (([1], "expected a mapping"),
                       ({"extra_centres": {"xyz": [[1.0] * 8]}}, "not in the model's class order"),
                       ({"extra_centres": {"eng": [[1.0] * 8, [1.0] * 3]}}, "one length"),
                       ({"extra_centres": {"eng": [["a"] * 8]}}, "lists of numbers"),
                       ({"extra_centres": {"eng": [[0.0] * 8]}}, "zero vector"),
                       ({"offsets": {"eng": 1e9}}, "not a logit offset"),
                       ({"languages": {"amh": {"location": ["north", 3]}}}, "location")):
        (exp / "enrolled.json").write_text(json.dumps(doc))
        with pytest.raises(ModelError, match=match):
            ModelFolder.open(root)


def test_extra_centres_of_another_model_are_refused_at_load(model_root, tmp_path):
    from geolid.inference.api import GeoLID

    root, config = _copy(model_root, tmp_path)
    (config.parent / "enrolled.json").write_text(json.dumps({"extra_centres": {"eng": [[1.0] * 5]}}))
    with pytest.raises(ModelError, match="dimension 5 but the model's language embedding has 8"):
        GeoLID.from_pretrained(str(root), device="cpu")


def test_identity_covers_the_head(model_root, tmp_path):
    root, config = _copy(model_root, tmp_path)
    plain = ModelFolder.open(root).identity()
    (config.parent / "calibration.json").write_text('{"temperature": 2.0}')
    calibrated = ModelFolder.open(root)
    assert calibrated.identity().sha256 == plain.sha256
    assert calibrated.identity().head != plain.head
    assert not calibrated.identity().same_model(plain.to_dict())
    assert calibrated.identity(include_calibration=False).same_model(plain.to_dict())


def test_output_folder_rules(model_root, tmp_path):
    folder = ModelFolder.open(model_root)
    assert check_output_folder(tmp_path / "new") == tmp_path / "new"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("x")
    with pytest.raises(ModelError, match="not empty"):
        check_output_folder(tmp_path / "full")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ModelError, match="is a file"):
        check_output_folder(tmp_path / "afile")
    for inside in (folder.exp, folder.exp / "sub", folder.exp.parent):
        with pytest.raises(ModelError, match="source model"):
            check_output_folder(inside, [folder.exp], overwrite=True)

    def boom(tmp):
        (tmp / "half").write_text("x")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_folder(tmp_path / "full", boom, overwrite=True)
    assert (tmp_path / "full" / "keep").read_text() == "x"            # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "full"]   # no scratch left


def test_unwritable_parent_is_one_line(tmp_path, monkeypatch):
    import geolid.model.folder as folder_module

    # root ignores file permissions, so the permission check itself is what is tested
    monkeypatch.setattr(folder_module.os, "access", lambda path, mode: False)
    with pytest.raises(ModelError, match="permission denied"):
        check_output_folder(tmp_path / "ro" / "out")


def test_missing_things_are_named(tmp_path):
    (tmp_path / "exp").mkdir()
    with pytest.raises(ModelNotFoundError, match="no model found"):
        ModelFolder.open(tmp_path)
    (tmp_path / "x.bin").write_text("x")
    with pytest.raises(ModelNotFoundError, match="expected a model folder or a .pth"):
        ModelFolder.open(tmp_path / "x.bin")
