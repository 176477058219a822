"""The checkpoint fallback of an experiment folder (issue 7 item 12)."""
from __future__ import annotations

import logging

from geolid.inference.hub import _model_file


def test_epoch_files_sort_by_number(tmp_path):
    for name in ("9epoch.pth", "20epoch.pth", "3epoch.pth", "checkpoint.pth"):
        (tmp_path / name).write_bytes(b"x")
    assert _model_file(tmp_path).name == "20epoch.pth"


def test_broken_best_link_is_skipped_with_a_message(tmp_path, caplog):
    (tmp_path / "valid.accuracy.best.pth").symlink_to("15epoch.pth")   # removed by keep_nbest_models
    (tmp_path / "4epoch.pth").write_bytes(b"x")
    (tmp_path / "12epoch.pth").write_bytes(b"x")
    with caplog.at_level(logging.WARNING):
        assert _model_file(tmp_path).name == "12epoch.pth"
    assert "valid.accuracy.best.pth" in caplog.text and "broken link" in caplog.text


def test_preferred_names_win(tmp_path):
    (tmp_path / "valid.accuracy.ave.pth").write_bytes(b"x")
    (tmp_path / "30epoch.pth").write_bytes(b"x")
    assert _model_file(tmp_path).name == "valid.accuracy.ave.pth"
