"""The CPU share is what every door runs under: the CLI and an ONNX Runtime session."""
from __future__ import annotations

import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))


def test_active_share_is_the_innermost(tmp_path):
    from geolid.utils.threads import CoreShare

    assert CoreShare.active() is None
    with CoreShare(threads=2, folder=tmp_path) as outer:
        assert CoreShare.active() is outer
        with CoreShare(threads=1, folder=tmp_path) as inner:
            assert CoreShare.active() is inner
        assert CoreShare.active() is outer
    assert CoreShare.active() is None


def test_cli_predict_runs_under_a_share_with_threads(tmp_path, monkeypatch, capsys):
    import torch

    from geolid.cli.main import main
    from geolid_demo.tiny import make_experiment
    from geolid.utils.threads import CoreShare
    from inference.conftest import noise, write

    monkeypatch.setenv("GEOLID_SPEECH_DETECTOR", "none")
    make_experiment(tmp_path / "exp" / "lid", ["eng", "fra", "deu"])
    wav = write(tmp_path / "a.wav", noise(1.0))
    seen = []
    real = CoreShare.refresh

    def spy(self):
        n = real(self)
        seen.append((n, torch.get_num_threads()))
        return n

    monkeypatch.setattr(CoreShare, "refresh", spy)
    before = torch.get_num_threads()
    assert main(["predict", str(wav), "--model", str(tmp_path / "exp" / "lid"), "--threads", "1", "-q"]) == 0
    assert seen and all(n == 1 and t == 1 for n, t in seen[1:])   # the model ran on 1 thread
    assert torch.get_num_threads() == before                      # given back afterwards
    assert main(["predict", str(wav), "--model", str(tmp_path / "exp" / "lid"), "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err
