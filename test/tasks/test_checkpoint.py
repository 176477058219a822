"""Weight files are read as tensors only: a pickle that carries code is refused unrun."""
import os

import pytest
import torch

from geolid.demo.tiny import make_experiment
from geolid.tasks.build import build_model_from_file
from geolid.tasks.checkpoint import (CheckpointError, UnsafeCheckpointError, install_safe_init_param,
                                     load_pretrained_model, load_state_file)


class _RunsCommand:
    """Unpickling this calls os.system(command): what a hostile checkpoint does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def hostile_checkpoint(path, marker, state=None):
    state = dict(state or {"w": torch.zeros(2)})
    state["payload"] = _RunsCommand(f"touch {marker}")
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    return make_experiment(root / "exp" / "lid", ["eng", "fra", "cmn"])


def test_hostile_model_file_is_refused_and_never_runs(experiment, tmp_path, in_dir):
    marker = tmp_path / "marker"
    good = torch.load(experiment / "valid.accuracy.best.pth", weights_only=True)
    bad = hostile_checkpoint(tmp_path / "model.pth", marker, good)
    with in_dir(experiment.parent.parent), pytest.raises(UnsafeCheckpointError) as e:
        build_model_from_file(experiment / "config.yaml", bad)
    assert str(bad) in str(e.value) and "refused" in str(e.value)
    assert "posix.system" in str(e.value) or "system" in str(e.value)
    assert not marker.exists()


def test_hostile_file_refused_through_the_api_and_the_cli(experiment, tmp_path, capsys):
    """GeoLID: a one-line ModelError naming the file; geolid predict: exit 2."""
    from geolid.cli.main import main
    from geolid.inference.api import GeoLID
    from geolid.inference.model_errors import ModelError

    marker = tmp_path / "marker"
    bad = hostile_checkpoint(experiment / "hostile.pth", marker)
    wav = tmp_path / "a.wav"
    import numpy as np
    import soundfile as sf

    sf.write(str(wav), np.zeros(16000, dtype=np.float32), 16000)
    try:
        with pytest.raises(ModelError, match="hostile.pth.*refused|refused.*hostile.pth"):
            GeoLID.from_pretrained(str(bad), device="cpu")
        assert main(["predict", str(wav), "--model", str(bad), "-q"]) == 2
        assert "refused" in capsys.readouterr().err
    finally:
        bad.unlink()
    assert not marker.exists()


def test_plain_state_dict_loads_with_weights_only(experiment, in_dir):
    state = load_state_file(experiment / "valid.accuracy.best.pth")
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    with in_dir(experiment.parent.parent):
        model, _ = build_model_from_file(experiment / "config.yaml", experiment / "valid.accuracy.best.pth")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)


def test_truncated_and_wrapped_files(tmp_path):
    torch.save({"module": {"w": torch.ones(3)}}, tmp_path / "wrapped.pth")
    assert torch.equal(load_state_file(tmp_path / "wrapped.pth")["w"], torch.ones(3))
    (tmp_path / "cut.pth").write_bytes((tmp_path / "wrapped.pth").read_bytes()[:60])
    with pytest.raises(CheckpointError, match="cut.pth: not a readable PyTorch weights file"):
        load_state_file(tmp_path / "cut.pth")
    torch.save([torch.ones(1)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="expected a state dict"):
        load_state_file(tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="not found"):
        load_state_file(tmp_path / "absent.pth")


def test_init_param_reads_weights_only(tmp_path):
    marker = tmp_path / "marker"
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 3))
    bad = hostile_checkpoint(tmp_path / "pre.pth", marker, model.state_dict())
    with pytest.raises(UnsafeCheckpointError, match="pre.pth"):
        load_pretrained_model(str(bad), model, ignore_init_mismatch=False)
    assert not marker.exists()
    # ESPnet's key syntax still works: <file>:<src_key>:<dst_key>
    donor = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 3))
    torch.save({"enc." + k: v for k, v in donor[1].state_dict().items()}, tmp_path / "good.pth")
    load_pretrained_model(f"{tmp_path / 'good.pth'}:enc:1", model, ignore_init_mismatch=False)
    torch.testing.assert_close(model[1].weight, donor[1].weight)


def test_espnet_trainer_uses_the_safe_loader():
    from espnet2.tasks import abs_task

    install_safe_init_param()
    assert abs_task.load_pretrained_model is load_pretrained_model
