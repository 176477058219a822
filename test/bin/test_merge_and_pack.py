from pathlib import Path

import numpy as np
import pytest
import yaml

from geolid.bin.merge_inference import main as merge_main
from geolid.bin.pack_model import pack
from geolid.utils.fileio import read_kaldi_map


def write_job(d, lids, embds, model=None):
    import json

    d.mkdir(parents=True)
    (d / "s_lids").write_text("".join(f"{u} {l}\n" for u, l in lids.items()))
    utts = sorted(lids)
    np.savez(d / "s_posteriors.npz", utts=np.asarray(utts), languages=np.asarray(["eng", "fra"]),
             log_posteriors=np.log(np.full((len(utts), 2), 0.5, "float32")))
    (d / "s_model.json").write_text(json.dumps(model or {"model": {"sha256": "a"}, "options": {}}))
    np.savez(d / "s_utt_embds.npz", **embds)
    per_lang = {}
    for u, e in embds.items():
        per_lang.setdefault(u[:3], []).append(e)
    np.savez(d / "s_lang_to_embds.npz", **{k: np.stack(v) for k, v in per_lang.items()})


def test_merge_recomputes_language_averages(tmp_path):
    e = {f"eng_{i}": np.eye(3)[i % 3] for i in range(3)}
    f = {"fra_0": np.array([0.0, 0.0, 1.0])}
    write_job(tmp_path / "j1", {"eng_0": "eng", "eng_1": "fra"}, {k: e[k] for k in ("eng_0", "eng_1")})
    write_job(tmp_path / "j2", {"eng_2": "eng", "fra_0": "fra"}, {"eng_2": e["eng_2"], **f})
    assert merge_main(["--set", "s", "--out", str(tmp_path / "out"), str(tmp_path / "j1"), str(tmp_path / "j2")]) == 0
    lids = read_kaldi_map(tmp_path / "out/s_lids")
    assert list(lids) == ["eng_0", "eng_1", "eng_2", "fra_0"]
    per_lang = np.load(tmp_path / "out/s_lang_to_embds.npz")
    assert per_lang["eng"].shape == (3, 3)
    avg = np.load(tmp_path / "out/s_lang_to_avg_embd.npz")["eng"]
    np.testing.assert_allclose(avg, np.ones(3) / np.sqrt(3))  # mean of all three, L2-normalised
    post = np.load(tmp_path / "out/s_posteriors.npz")
    assert list(post["utts"]) == ["eng_0", "eng_1", "eng_2", "fra_0"] and post["log_posteriors"].shape == (4, 2)


def test_merge_refuses_jobs_of_different_models(tmp_path, capsys):
    write_job(tmp_path / "j1", {"eng_0": "eng"}, {"eng_0": np.ones(2)})
    write_job(tmp_path / "j2", {"eng_1": "eng"}, {"eng_1": np.ones(2)}, model={"model": {"sha256": "b"}})
    assert merge_main(["--set", "s", "--out", str(tmp_path / "o"), str(tmp_path / "j1"), str(tmp_path / "j2")]) == 2
    assert "another model" in capsys.readouterr().err


def test_merge_refuses_duplicates_and_missing(tmp_path, capsys):
    write_job(tmp_path / "j1", {"eng_0": "eng"}, {"eng_0": np.ones(2)})
    write_job(tmp_path / "j2", {"eng_0": "eng"}, {"eng_0": np.ones(2)})
    assert merge_main(["--set", "s", "--out", str(tmp_path / "o"), str(tmp_path / "j1"), str(tmp_path / "j2")]) == 2
    assert "appears in two inference jobs" in capsys.readouterr().err
    (tmp_path / "j3").mkdir()
    assert merge_main(["--set", "s", "--out", str(tmp_path / "o"), str(tmp_path / "j3")]) == 2
    assert "did not finish" in capsys.readouterr().err


def test_pack_is_espnets_pack_lid_plus_class_order(tmp_path, in_dir):
    """Stage 9: ESPnet's `pack lid` layout (meta.yaml, config, model, images) plus the
    class order at the path the config names; the unpacked folder loads like a
    published repo."""
    import zipfile

    from geolid.bin.pack_model import unpack
    from geolid.inference.api import GeoLID
    from geolid_demo.tiny import make_experiment

    recipe = tmp_path / "recipe"
    make_experiment(recipe / "exp" / "lid_tiny_raw", ["eng", "fra", "cmn"])
    (recipe / "exp/lid_tiny_raw/images").mkdir()
    (recipe / "exp/lid_tiny_raw/images/loss.png").write_bytes(b"png")
    (recipe / "data/lang2utt").write_text("eng eng_1 eng_2\nfra fra_1\ncmn cmn_1\n")
    (recipe / "exp/lid_tiny_raw/calibration.json").write_text('{"temperature": 1.7}')
    out = recipe / "exp/lid_tiny_raw/lid_tiny_raw_valid.accuracy.best.zip"
    with in_dir(recipe):
        pack(Path("exp/lid_tiny_raw"), "valid.accuracy.best.pth", Path(out.name))
    names = set(zipfile.ZipFile(recipe / out.name).namelist())
    assert {"meta.yaml", "exp/lid_tiny_raw/config.yaml", "exp/lid_tiny_raw/valid.accuracy.best.pth",
            "exp/lid_tiny_raw/images/loss.png", "data/lang2utt",
            "exp/lid_tiny_raw/calibration.json", "hf_tiny_w2v2/config.json"} <= names
    packed = unpack(recipe / out.name, tmp_path / "packed")
    meta = yaml.safe_load((packed / "meta.yaml").read_text())
    assert meta["files"] == {"model_file": "exp/lid_tiny_raw/valid.accuracy.best.pth"}
    assert meta["yaml_files"] == {"train_config": "exp/lid_tiny_raw/config.yaml"}
    assert (packed / "data/lang2utt").read_text() == "eng\nfra\ncmn\n"  # class order only
    lid = GeoLID.from_pretrained(str(packed), device="cpu")
    assert lid.languages == ["eng", "fra", "cmn"]
    assert lid.folder.head.temperature == 1.7          # what changes the outputs travels with it


def test_upload_uses_huggingface_hub_api(tmp_path, in_dir):
    """Stage 10 against a fake huggingface_hub API: no network."""
    from geolid.bin.pack_model import upload
    from geolid_demo.tiny import make_experiment

    recipe = tmp_path / "recipe"
    make_experiment(recipe / "exp" / "lid_tiny_raw", ["eng", "fra", "cmn"])
    with in_dir(recipe):
        pack(Path("exp/lid_tiny_raw"), "valid.accuracy.best.pth", Path("m.zip"))

    class FakeApi:
        calls = []

        def create_repo(self, repo_id, **kw):
            self.calls.append(("create_repo", repo_id, kw))

        def upload_folder(self, folder_path, repo_id, **kw):
            files = sorted(str(p.relative_to(folder_path)) for p in Path(folder_path).rglob("*")
                           if p.is_file())
            self.calls.append(("upload_folder", repo_id, files, kw["repo_type"]))
            return type("Info", (), {"commit_url": f"https://hf.co/{repo_id}/commit/1"})()

    url = upload(recipe / "m.zip", "me/geolid_tiny", tmp_path / "hf_me_geolid_tiny", api=FakeApi())
    assert url == "https://hf.co/me/geolid_tiny/commit/1"
    (create, repo, kw), (upload_call, repo2, files, kind) = FakeApi.calls
    assert (create, repo, kw["exist_ok"], upload_call, repo2, kind) == (
        "create_repo", "me/geolid_tiny", True, "upload_folder", "me/geolid_tiny", "model")
    assert {"README.md", "meta.yaml", "exp/lid_tiny_raw/config.yaml", "data/lang2utt",
            "exp/lid_tiny_raw/valid.accuracy.best.pth"} <= set(files)
    card = (tmp_path / "hf_me_geolid_tiny/README.md").read_text()
    assert "GeoLID.from_pretrained('me/geolid_tiny')" in card


def test_pack_refuses_files_outside_the_recipe_folder(tmp_path, in_dir):
    from geolid_demo.tiny import make_experiment

    make_experiment(tmp_path / "recipe" / "exp" / "lid_tiny_raw", ["eng", "fra", "cmn"])
    (tmp_path / "elsewhere").mkdir()
    with in_dir(tmp_path / "elsewhere"), pytest.raises(ValueError, match="outside the recipe folder"):
        pack(tmp_path / "recipe" / "exp" / "lid_tiny_raw", "valid.accuracy.best.pth", Path("out.zip"))
    with pytest.raises(FileNotFoundError, match="train first"):
        pack(tmp_path / "exp", "m.pth", tmp_path / "out")
