"""The published models: one table, their class orders, the download command, and
using a downloaded repo that ships no lang2utt."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geolid import published
from geolid.data import iso
from geolid.published import PUBLISHED_MODELS, VL107_CLASS_ORDER

VL107 = PUBLISHED_MODELS["espnet/geolid_vl107only_shared_trainable"]
COMBINED = PUBLISHED_MODELS["espnet/geolid_combined_shared_trainable"]
REPO = Path(__file__).resolve().parents[1]


def test_vl107_class_order_follows_the_published_label_rules():
    # The 107 VoxLingua107 folder codes mapped to ISO 639-3 (the published recipe looked
    # the names up with pycountry; the same 107 codes), sorted as the sorted utt2lang gives.
    assert len(VL107_CLASS_ORDER) == 107 == len(set(VL107_CLASS_ORDER))
    assert list(VL107_CLASS_ORDER) == sorted(set(iso.voxlingua107_map().values()))
    assert VL107_CLASS_ORDER.index("abk") == 0 and VL107_CLASS_ORDER[-1] == "yor"
    for variant in ("shared_trainable", "shared_frozen", "independent_trainable", "independent_frozen"):
        assert published.class_order(PUBLISHED_MODELS[f"espnet/geolid_vl107only_{variant}"]) == VL107_CLASS_ORDER


def test_combined_class_order_names_the_file_and_command():
    with pytest.raises(published.ClassOrderUnknown) as e:
        published.class_order(COMBINED)
    msg = str(e.value)
    assert "cannot be established from public facts" in msg
    assert "dump/raw/train_all_no_filter_lang/lang2utt" in msg
    assert "`python -m geolid.bin.data_sets class-order --ml_superb2 <ML-SUPERB 2.0 copy> --out dump/raw/train_all_no_filter_lang/lang2utt`" in msg


def test_one_download_command():
    assert published.download_command("espnet/geolid_vl107only_shared_trainable") == (
        "hf download espnet/geolid_vl107only_shared_trainable --local-dir . "
        "--exclude README.md meta.yaml .gitattributes")
    assert "--local-dir <dir> --exclude" in published.download_hint("a/b")
    # Nothing else in the package or the recipes spells the command out.
    hits = subprocess.run(["grep", "-rln", "hf download", "geolid", "egs2/geolid/lid1"],
                          cwd=REPO, capture_output=True, text=True).stdout.split()
    assert sorted(hits) == ["egs2/geolid/lid1/README.md", "egs2/geolid/lid1/run_combined.sh",
                            "egs2/geolid/lid1/run_voxlingua107_only.sh", "geolid/published.py"]
    for path in (h for h in hits if h.startswith("egs2")):
        for line in (REPO / path).read_text().splitlines():
            if "hf download" in line and "espnet/geolid_" in line:
                assert line.rstrip().endswith("--exclude README.md meta.yaml .gitattributes"), line


def test_published_model_lookup():
    assert published.published_model(VL107.repo_id) is VL107
    assert published.published_model("/x/recipe/" + COMBINED.exp_dir + "/") is COMBINED
    name = Path(VL107.exp_dir).name  # the same folder name as the combined model's
    assert published.published_model(f"my exp/{name}") is None
    assert published.published_model(f"my exp/{name}", VL107.lang2utt) is VL107
    assert published.published_model(f"my exp/{name}", COMBINED.lang2utt) is COMBINED


def _published_layout(root: Path, languages=VL107_CLASS_ORDER) -> Path:
    """What the hf download puts in a folder: the experiment, no lang2utt."""
    from geolid_demo.tiny import make_experiment

    make_experiment(root / VL107.exp_dir, list(languages), lang2utt_relpath=VL107.lang2utt)
    (root / VL107.lang2utt).unlink()
    return root


def test_downloaded_repo_without_lang2utt_loads(tmp_path):
    from geolid.inference.api import GeoLID
    from geolid.model.folder import ModelFolder

    root = _published_layout(tmp_path / "dl")
    folder = ModelFolder.open(str(root))
    assert folder.lang2utt is None and list(folder.languages) == list(VL107_CLASS_ORDER)
    lid = GeoLID.from_pretrained(str(root), device="cpu")
    assert lid.languages == list(VL107_CLASS_ORDER)


def test_lang2utt_must_agree_with_the_published_order(tmp_path):
    from geolid.model.errors import ModelNotFoundError
    from geolid.model.folder import ModelFolder

    root = _published_layout(tmp_path / "dl")
    (root / VL107.lang2utt).write_text("".join(f"{c} u\n" for c in reversed(VL107_CLASS_ORDER)))
    with pytest.raises(ModelNotFoundError, match="disagrees with the class order of "
                                                 "espnet/geolid_vl107only_shared_trainable"):
        ModelFolder.open(str(root))
    (root / VL107.lang2utt).write_text("".join(f"{c} u\n" for c in VL107_CLASS_ORDER))
    assert list(ModelFolder.open(str(root)).languages) == list(VL107_CLASS_ORDER)


def _geolid(args, tmp_path, **env):
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-m", "geolid.cli.main", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_languages_of_a_published_model_offline(tmp_path):
    proc = _geolid(["languages", "--model", VL107.repo_id, "--format", "json"], tmp_path,
                   HF_HUB_OFFLINE="1")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [x["code"] for x in out["languages"]] == list(VL107_CLASS_ORDER)
    assert [x["index"] for x in out["languages"]] == list(range(107))
    assert not (tmp_path / "hf").exists()  # nothing downloaded, no cache made
    proc = _geolid(["languages", "--model", COMBINED.repo_id], tmp_path, HF_HUB_OFFLINE="1")
    assert proc.returncode == 2 and "dump/raw/train_all_no_filter_lang/lang2utt" in proc.stderr


def test_offline_detection_is_huggingface_hubs(tmp_path):
    code = "from geolid.published import hub_offline; print(hub_offline())"
    for value, expected in (("1", "True"), ("0", "False")):
        env = dict(os.environ, HF_HUB_OFFLINE=value, PYTHONPATH=str(REPO))
        env.pop("TRANSFORMERS_OFFLINE", None)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.stdout.strip() == expected
