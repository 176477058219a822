import numpy as np
import pytest
import yaml

from geolid.bin.merge_inference import main as merge_main
from geolid.bin.pack_model import pack
from geolid.utils.fileio import read_kaldi_map


def write_job(d, lids, embds):
    d.mkdir(parents=True)
    (d / "s_lids").write_text("".join(f"{u} {l}\n" for u, l in lids.items()))
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


def test_merge_refuses_duplicates_and_missing(tmp_path, capsys):
    write_job(tmp_path / "j1", {"eng_0": "eng"}, {"eng_0": np.ones(2)})
    write_job(tmp_path / "j2", {"eng_0": "eng"}, {"eng_0": np.ones(2)})
    assert merge_main(["--set", "s", "--out", str(tmp_path / "o"), str(tmp_path / "j1"), str(tmp_path / "j2")]) == 2
    assert "appears in two inference jobs" in capsys.readouterr().err
    (tmp_path / "j3").mkdir()
    assert merge_main(["--set", "s", "--out", str(tmp_path / "o"), str(tmp_path / "j3")]) == 2
    assert "did not finish" in capsys.readouterr().err


def test_pack_writes_published_layout_that_loads(tmp_path, in_dir):
    from geolid.inference.api import GeoLID
    from geolid.demo.tiny import make_experiment

    recipe = tmp_path / "recipe"
    make_experiment(recipe / "exp" / "lid_tiny_raw", ["eng", "fra", "cmn"])
    with in_dir(recipe):
        pack(__import__("pathlib").Path("exp/lid_tiny_raw"), "valid.accuracy.best.pth", tmp_path / "packed")
    packed = tmp_path / "packed"
    assert (packed / "exp/lid_tiny_raw/valid.accuracy.best.pth").is_file()
    conf = yaml.safe_load((packed / "exp/lid_tiny_raw/config.yaml").read_text())
    assert (packed / conf["lang2utt"]).read_text().split() == ["eng", "fra", "cmn"]
    assert (packed / "hf_tiny_w2v2/config.json").is_file() and (packed / "README.md").is_file()
    lid = GeoLID.from_pretrained(str(packed), device="cpu")
    assert lid.languages == ["eng", "fra", "cmn"]


def test_pack_refuses_absolute_paths(tmp_path):
    with pytest.raises(ValueError, match="absolute"):
        pack(tmp_path / "exp", "m.pth", tmp_path / "out")
