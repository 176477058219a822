"""Loading a checkpoint into a meta-device build gives exactly the eagerly built model."""
import argparse
import threading

import pytest
import torch
import yaml

from geolid_demo.tiny import make_experiment
from geolid.tasks import build
from geolid.tasks.build import (CheckpointMismatchError, build_model, build_model_from_args,
                                load_state_dict_strict)


@pytest.fixture(scope="module", params=["geo", "baseline"])
def experiment(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("recipe")
    exp = make_experiment(root / "exp" / "lid", ["eng", "fra", "cmn", "deu"],
                          geo=request.param == "geo", seed=3)
    conf = yaml.safe_load((exp / "config.yaml").read_text())
    conf["frontend_conf"]["frontend_conf"]["path_or_url"] = str(root / "hf_tiny_w2v2")
    conf["lang2utt"] = str(root / conf["lang2utt"])
    return exp, argparse.Namespace(**conf)


def old_path(args, model_file):
    """What loading did before: a randomly initialised build, then a copy of the weights."""
    model = build_model(argparse.Namespace(**vars(args)))
    model.load_state_dict(torch.load(model_file, weights_only=True))
    return model.eval()


def test_meta_build_matches_the_eager_build(experiment):
    exp, args = experiment
    model_file = exp / "valid.accuracy.best.pth"
    before = old_path(args, model_file)
    after, _ = build_model_from_args(args, model_file)
    after.eval()
    sd_before, sd_after = before.state_dict(), after.state_dict()
    assert sd_before.keys() == sd_after.keys()
    for k in sd_before:
        assert torch.equal(sd_before[k], sd_after[k]), k
    # non-persistent buffers too (they are not in the checkpoint)
    buffers_before = dict(before.named_buffers())
    for name, buf in after.named_buffers():
        assert buf.device.type == "cpu" and torch.equal(buf, buffers_before[name]), name
    assert all(p.device.type == "cpu" for p in after.parameters())
    assert [n for n, p in after.named_parameters() if p.requires_grad] == \
        [n for n, p in before.named_parameters() if p.requires_grad]
    torch.manual_seed(0)
    speech = torch.randn(3, 16000)
    lengths = torch.tensor([16000, 12000, 9000])
    with torch.inference_mode():
        a, b = before.score(speech, lengths), after.score(speech, lengths)
    for key in ("scores", "embedding") + (("lang2vec",) if "lang2vec" in a else ()):
        assert torch.equal(a[key], b[key]), key


class _Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(3, 3)
        self.b = torch.nn.Linear(3, 3)
        self.b.weight = self.a.weight
        self.register_buffer("table", torch.arange(4.0), persistent=False)
        self.register_buffer("count", torch.zeros(()))

    def reset_non_persistent_buffers(self):
        """The contract for buffers no checkpoint holds: set them after loading."""
        self.table = torch.arange(4.0, device=self.a.weight.device)


class _Untold(torch.nn.Module):
    """A non-persistent buffer, and no reset_non_persistent_buffers() to set it."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(3, 3)
        self.register_buffer("window", torch.hann_window(8), persistent=False)


def test_ties_buffers_and_dtypes_survive_assign():
    torch.manual_seed(0)
    source = _Tied()
    state = {k: v.half() if k == "a.bias" else v for k, v in source.state_dict().items()}
    with torch.device("meta"):
        model = _Tied()
    assert model.a.weight.is_meta and model.table.is_meta
    load_state_dict_strict(model, state, "tied.pth", assign=True)
    assert model.b.weight is model.a.weight
    assert model.a.bias.dtype == torch.float32
    assert torch.equal(model.table, torch.arange(4.0))
    assert model.a.weight.requires_grad


def test_missing_key_is_named_and_nothing_stays_on_meta():
    state = _Tied().state_dict()
    del state["b.bias"]
    with torch.device("meta"):
        model = _Tied()
    with pytest.raises(CheckpointMismatchError, match=r"missing keys \(1\):\n    b.bias"):
        load_state_dict_strict(model, state, "tied.pth", assign=True)


def test_a_buffer_no_module_sets_is_named():
    with torch.device("meta"):
        model = _Untold()
    with pytest.raises(CheckpointMismatchError, match=r"untold.pth: no value for \['window'\].*"
                                                      r"reset_non_persistent_buffers"):
        load_state_dict_strict(model, _Untold().state_dict(), "untold.pth", assign=True)


def test_building_on_meta_patches_nothing_process_wide(tmp_path, monkeypatch):
    """While one thread builds a model to load, another one's modules are real; nothing of
    torch.nn.Module is replaced; non-persistent buffers get values from their module."""
    register = torch.nn.Module.register_parameter
    inside, go, seen = threading.Event(), threading.Event(), {}

    class Slow(_Tied):
        def __init__(self):
            super().__init__()
            seen["register"] = torch.nn.Module.register_parameter
            inside.set()
            go.wait(30)

    torch.manual_seed(1)
    source = _Tied()
    torch.save(source.state_dict(), tmp_path / "tied.pth")
    monkeypatch.setattr(build, "build_model", lambda args: Slow())

    def load():
        seen["model"] = build_model_from_args(argparse.Namespace(), tmp_path / "tied.pth")[0]

    worker = threading.Thread(target=load)
    worker.start()
    assert inside.wait(30)
    other = torch.nn.Linear(2, 2)            # built in this thread during the other's build
    go.set()
    worker.join(30)
    assert not other.weight.is_meta and other.weight.abs().sum() > 0
    assert seen["register"] is register and torch.nn.Module.register_parameter is register
    model = seen["model"]
    assert model.b.weight is model.a.weight and torch.equal(model.a.weight, source.a.weight)
    assert not model.table.is_meta and torch.equal(model.table, torch.arange(4.0))
    assert [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_meta] == []
