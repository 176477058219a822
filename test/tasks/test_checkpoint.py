"""Weight files are read as tensors only: a pickle that carries code is refused unrun."""
import os

import pytest
import torch

from geolid_demo.tiny import make_experiment
from geolid.tasks.build import build_model_from_file
from geolid.tasks.checkpoint import (CheckpointError, UnsafeCheckpointError, load_pretrained_model,
                                     load_state_file)


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
    from geolid.model.errors import ModelError

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


def test_random_bytes_are_not_a_pytorch_file_and_a_pickle_with_objects_is_refused(tmp_path):
    """Task 6: 'not a PyTorch file' (random bytes, a cut zip) is not reported as a hostile pickle."""
    import pickle

    rand = tmp_path / "random.pth"
    rand.write_bytes(bytes(range(256))[::-1] * 64)             # starts with 0xff: not a pickle
    noise = tmp_path / "noise.pth"
    noise.write_bytes(torch.randint(0, 256, (8192,), generator=torch.Generator().manual_seed(0),
                                    dtype=torch.uint8).numpy().tobytes())
    text = tmp_path / "notes.pth"
    text.write_text("hello, these are my notes\n" * 10)
    torch.save({"w": torch.ones(1000)}, tmp_path / "whole.pth")
    cut = tmp_path / "cut.pth"
    cut.write_bytes((tmp_path / "whole.pth").read_bytes()[:2000])   # a zip cut short
    for path, kind in ((rand, "neither a PyTorch zip archive nor a pickle"), (noise, "nor a pickle"),
                       (text, "nor a pickle"), (cut, "(truncated or damaged zip archive")):
        with pytest.raises(CheckpointError) as e:
            load_state_file(path)
        assert type(e.value) is CheckpointError, (path, e.value)      # not UnsafeCheckpointError
        assert str(e.value).startswith(f"{path}: not a readable PyTorch weights file"), e.value
        assert kind in str(e.value) and "\n" not in str(e.value)
        assert "refused" not in str(e.value) and "Python objects" not in str(e.value)

    marker = tmp_path / "marker"
    # a real pickle with globals, in torch's zip format and as a plain protocol-4 pickle.dump
    zipped = hostile_checkpoint(tmp_path / "zipped.pth", marker)
    plain = tmp_path / "plain.pth"
    with plain.open("wb") as f:
        pickle.dump({"w": [1.0, 2.0], "payload": _RunsCommand(f"touch {marker}")}, f, protocol=4)
    for path in (zipped, plain):
        with pytest.raises(UnsafeCheckpointError) as e:
            load_state_file(path)
        assert str(e.value).startswith(f"{path}: refused to load: the file holds Python objects")
        assert "system" in str(e.value) and "\n" not in str(e.value)
    # a plain pickle of numbers only holds no objects: not PyTorch, not hostile either
    numbers = tmp_path / "numbers.pth"
    numbers.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    with pytest.raises(CheckpointError, match="not a readable PyTorch weights file") as e:
        load_state_file(numbers)
    assert type(e.value) is CheckpointError
    assert not marker.exists()


def test_pickle_globals_parses_without_running(tmp_path):
    import io
    import pickle

    from geolid.tasks.checkpoint import pickle_globals

    marker = tmp_path / "marker"
    for protocol in (0, 2, 4, 5):
        data = pickle.dumps([_RunsCommand(f"touch {marker}"), {1: 2}], protocol=protocol)
        names = pickle_globals(io.BytesIO(data))
        assert names is not None and len(names) == 1 and names[0].endswith("system"), (protocol, names)
    assert pickle_globals(io.BytesIO(pickle.dumps({"a": [1, 2.5]}))) == []
    assert pickle_globals(io.BytesIO(b"\xff\x00garbage")) is None
    assert pickle_globals(io.BytesIO(pickle.dumps({"a": 1})[:-3])) is None     # no STOP
    assert not marker.exists()


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


def _task_args(experiment, **overrides):
    import argparse

    import yaml

    conf = yaml.safe_load((experiment / "config.yaml").read_text())
    root = experiment.parent.parent
    encoder = conf["frontend_conf"]["frontend_conf"]
    encoder["path_or_url"] = str(root / encoder["path_or_url"])
    conf["lang2utt"] = str(root / conf["lang2utt"])
    conf.update(overrides)
    return argparse.Namespace(**conf)


def test_espnet_trainer_uses_the_safe_loader(experiment, tmp_path, monkeypatch):
    """--init_param is applied by GeoLIDTask.build_model with geolid's loader; ESPnet's
    main_worker loop then finds nothing to load, and no ESPnet function is rebound."""
    from espnet2.tasks import abs_task
    from espnet2.torch_utils import load_pretrained_model as espnet_loader

    import geolid.tasks.lid as lid

    assert abs_task.load_pretrained_model is espnet_loader.load_pretrained_model
    calls = []
    monkeypatch.setattr(lid, "load_pretrained_model",
                        lambda *a, **k: calls.append(a[0]) or load_pretrained_model(*a, **k))
    args = _task_args(experiment, init_param=[str(experiment / "valid.accuracy.best.pth")],
                      ignore_init_mismatch=False)
    lid.GeoLIDTask.build_model(args)
    assert calls == [str(experiment / "valid.accuracy.best.pth")] and args.init_param == []
    assert abs_task.load_pretrained_model is espnet_loader.load_pretrained_model

    marker = tmp_path / "marker"
    bad = hostile_checkpoint(tmp_path / "pre.pth", marker,
                             torch.load(experiment / "valid.accuracy.best.pth", weights_only=True))
    with pytest.raises(UnsafeCheckpointError, match="pre.pth"):
        lid.GeoLIDTask.build_model(_task_args(experiment, init_param=[str(bad)]))
    assert not marker.exists()


def test_init_param_in_build_model_equals_espnets_loading(experiment, tmp_path):
    """Same weights as ESPnet's own loader after main_worker's build: key syntax (file, src, dst,
    excludes), several files in order, and ignore_init_mismatch (a wrong shape is skipped)."""
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model as espnet_load

    from geolid.tasks import build
    from geolid.tasks.lid import GeoLIDTask

    trained = tmp_path / "pretrained.pth"      # another model's weights, same architecture
    torch.save({k: v + 0.5 if v.is_floating_point() else v for k, v in
                torch.load(experiment / "valid.accuracy.best.pth", weights_only=True).items()},
               trained)
    torch.manual_seed(7)
    donor = build.build_model(_task_args(experiment)).state_dict()
    enc = {"enc." + k[len("encoder."):]: v + 1 for k, v in donor.items() if k.startswith("encoder.")}
    first = next(k for k in enc if enc[k].dim() >= 2)
    enc[first] = torch.zeros(3, 3)                                       # shape mismatch: skipped
    torch.save(enc, tmp_path / "enc.pth")
    specs = [f"{trained}:::loss,projector", f"{tmp_path / 'enc.pth'}:enc:encoder"]

    torch.manual_seed(0)
    args = _task_args(experiment, init_param=list(specs), ignore_init_mismatch=True)
    ours = GeoLIDTask.build_model(args)
    assert args.init_param == []
    torch.manual_seed(0)
    theirs = GeoLIDTask.build_model(_task_args(experiment, init_param=[]))
    fresh = {k: v.clone() for k, v in theirs.state_dict().items()}
    for spec in specs:                           # what main_worker step 6 would do (trusted files)
        espnet_load(spec, theirs, ignore_init_mismatch=True, map_location="cpu")
    got, want = ours.state_dict(), theirs.state_dict()
    assert got.keys() == want.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), k
    trained_state = torch.load(trained, weights_only=True)
    changed = [k for k in want if not torch.equal(want[k], fresh[k])]
    assert any(k.startswith("frontend.") for k in changed) and any(k.startswith("encoder.") for k in changed)
    assert not any(k.startswith(("loss.", "projector.")) for k in changed)
    skipped = "encoder." + first[len("enc."):]      # from the first file; the second's is skipped
    assert torch.equal(got[skipped], trained_state[skipped])
    assert all(torch.equal(got["encoder." + k[len("enc."):]], v) for k, v in enc.items() if k != first)
    assert torch.equal(got["frontend.featurizer.weights"], trained_state["frontend.featurizer.weights"])


def test_init_param_is_left_alone_where_espnet_does_not_load_it(experiment):
    """main_worker loads --init_param neither with --collect_stats nor with --dry_run."""
    from geolid.tasks import build
    from geolid.tasks.lid import GeoLIDTask

    torch.manual_seed(0)
    fresh = build.build_model(_task_args(experiment)).state_dict()
    for flag in ("collect_stats", "dry_run"):
        args = _task_args(experiment, init_param=[str(experiment / "valid.accuracy.best.pth")],
                          **{flag: True})
        torch.manual_seed(0)
        model = GeoLIDTask.build_model(args)
        assert args.init_param == [str(experiment / "valid.accuracy.best.pth")]
        assert all(torch.equal(v, fresh[k]) for k, v in model.state_dict().items())
