"""``python -m geolid.bin.data_sets``: the combined class order from labels alone (checked
against the full format-and-merge path on fake corpora), and the stage-3 checks."""
from __future__ import annotations

from pathlib import Path

import pytest

from geolid.bin import data_sets as cli
from geolid.data import prepare
from geolid.data.corpora.babel import prepare_babel
from geolid.data.corpora.fleurs import prepare_fleurs
from geolid.data.corpora.ml_superb2 import prepare_ml_superb2
from geolid.data.corpora.voxlingua107 import prepare_voxlingua107
from geolid.data.corpora.voxpopuli import prepare_voxpopuli
from geolid.data.datadir import DataDir, write_data_dir
from geolid.data.format import format_data_dir
from geolid.data.iso import VOXPOPULI_TO_ISO3
from geolid.languages import read_class_order


def prepare_five(roots, data: Path) -> None:
    prepare_voxlingua107(roots["voxlingua107"], data)
    prepare_fleurs(roots["fleurs"], data)
    prepare_ml_superb2(roots["ml_superb2"], data)
    prepare_voxpopuli(roots["voxpopuli"], data)
    prepare_babel(roots["babel"], data)


def test_class_order_from_labels_equals_the_full_format_and_merge_path(fake_corpora, tmp_path):
    roots = fake_corpora()
    data, dump = tmp_path / "data", tmp_path / "dump" / "raw"
    prepare_five(roots, data)
    # The full path (what ./run_combined.sh stage 3 does): format the five training sets,
    # Babel's 10 s rule on the formatted samples, merge; the class order is lang2utt's.
    for name in ("train_voxlingua107_lang", "train_fleurs_lang", "train_ml_superb2_lang",
                 "train_voxpopuli_lang", "train_babel_lang"):
        format_data_dir(data / name, dump / name, progress=False)
    prepare.make_min_samples_set(dump, "train_babel_over_10s_lang")
    merged = prepare.make_combined(dump)
    full = read_class_order(merged / "lang2utt")
    # From the labels alone: no audio formatted.
    order, origin = prepare.combined_class_order(data)
    assert order == full
    assert order == sorted({"cmn", "eng", "fra", "swa", "lug", "yue", *VOXPOPULI_TO_ISO3.values()})
    assert "jav" not in order  # Babel 402's longest training segment is 9.99 s
    assert origin["train_babel_over_10s_lang"].endswith("(segments >= 160000 samples)")
    assert not (data / "train_babel_over_10s_lang").exists() and not (tmp_path / "x").exists()


def test_class_order_needs_only_ml_superb2s_training_languages(fake_corpora, tmp_path):
    """The other four corpora publish their language lists; ML-SUPERB 2.0's folders are read."""
    roots = fake_corpora()
    order, origin = prepare.combined_class_order(tmp_path / "no data", roots["ml_superb2"])
    published = set().union(*prepare.published_train_languages().values())
    assert len(published) == 132
    assert order == sorted(published | {"eng", "lug"})
    assert origin["train_fleurs_lang"] == "published language list (102 languages)"
    assert origin["train_ml_superb2_lang"].endswith("ml_superb2/train (language folders)")
    with pytest.raises(prepare.ClassOrderError, match=r"train_ml_superb2_lang: .*"
                                                      r"train_ml_superb2_lang/utt2lang not found.*"
                                                      r"--ml_superb2 ROOT"):
        prepare.combined_class_order(tmp_path / "no data")


def test_class_order_cli_writes_checks_and_refuses_another_order(fake_corpora, tmp_path, capsys):
    roots = fake_corpora()
    data = tmp_path / "data"
    prepare_five(roots, data)
    out = tmp_path / "dump/raw/train_all_no_filter_lang/lang2utt"
    assert cli.main(["class-order", "--data", str(data), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{out}: written, 20 languages (the published combined model has 157" in err
    assert out.read_text().split() == prepare.combined_class_order(data)[0]
    assert cli.main(["class-order", "--data", str(data), "--out", str(out)]) == 0
    assert f"{out}: unchanged" in capsys.readouterr().err
    out.write_text("eng\nfra\n")
    assert cli.main(["class-order", "--data", str(data), "--out", str(out)]) == 2
    assert "lists another class order (2 languages; lacking ['ces'" in capsys.readouterr().err


def _set(root: Path, name: str, langs, category=True) -> Path:
    utts = {f"{lang}_{name}{i}": lang for lang in langs for i in range(2)}
    d = write_data_dir(root / name, DataDir({u: f"/{u}.wav" for u in utts}, utts))
    if not category:
        (d / "category2utt").unlink()
    return d


def test_check_train_valid(tmp_path, capsys):
    conf = Path(__file__).parents[2] / "egs2/geolid/lid1/conf/voxlingua107_only/" \
        "mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml"  # category iterators, both
    train = _set(tmp_path, "train_x", ["eng", "fra"])
    valid = _set(tmp_path, "dev_x", ["eng"])
    argv = ["check-train-valid", "--config", str(conf), "--valid"]
    assert cli.main(argv + [str(valid), str(train)]) == 0
    (train / "category2utt").unlink()
    assert cli.main(argv + [str(valid), str(train)]) == 2
    err = capsys.readouterr().err
    assert f"{train}/category2utt not found: the config's iterator_type: category" in err
    assert f"cp {train}/lang2utt {train}/category2utt" in err
    # The parts of a merged set need none (the merge writes it).
    assert cli.main(argv + [str(valid), "--merged", str(train)]) == 0
    bad_valid = _set(tmp_path, "dev_y", ["eng", "deu", "ita"])
    assert cli.main(argv + [str(bad_valid), "--merged", str(train)]) == 2
    err = capsys.readouterr().err
    assert f"{bad_valid}/utt2lang: 2 validation language(s) not in the training set {train}: " \
           "deu ita" in err
    no_cat = _set(tmp_path, "dev_z", ["eng"], category=False)
    assert cli.main(argv + [str(no_cat), "--merged", str(train)]) == 2
    assert "valid_iterator_type: category" in capsys.readouterr().err
    # Without a config: ESPnet's default iterators (sequence) need no category2utt.
    assert cli.main(["check-train-valid", "--valid", str(no_cat), str(train)]) == 0


def test_filter_duration_as_espnet_templates(tmp_path, capsys):
    """int(min * fs) < utt2num_samples < int(max * fs) stays; the rest is listed."""
    d = _set(tmp_path, "train_x", ["eng", "fra"])  # eng_train_x0, eng_train_x1, fra_...
    lengths = {"eng_train_x0": 8000, "eng_train_x1": 16000, "fra_train_x0": 16001,
               "fra_train_x1": 40000}
    (d / "utt2num_samples").write_text("".join(f"{u} {n}\n" for u, n in lengths.items()))
    assert cli.main(["filter-duration", str(d), "--fs", "16000", "--min", "1.0",
                     "--max", "2.5"]) == 0
    assert (d / "utt2lang").read_text() == "fra_train_x0 fra\n"
    assert (d / "lang2utt").read_text() == (d / "category2utt").read_text() == "fra fra_train_x0\n"
    assert (d / "utt2num_samples").read_text() == "fra_train_x0 16001\n"
    assert (d / "removed_by_duration").read_text() == (
        "eng_train_x0 8000\neng_train_x1 16000\nfra_train_x1 40000\n")
    assert "3 utterance(s) outside (1.0, 2.5) s removed" in capsys.readouterr().err
    assert cli.main(["filter-duration", str(d), "--min", "5"]) == 2
    assert "no utterance lies within (5.0 s, inf s)" in capsys.readouterr().err


def test_stats_cost_says_and_refuses(tmp_path, tiny_hf, capsys):
    import yaml

    from geolid.utils.encoder_cost import MMS1B_S_PER_AUDIO_S

    d = _set(tmp_path, "train_x", ["eng"])
    (d / "utt2num_samples").write_text(f"eng_train_x0 {3600 * 16000}\neng_train_x1 {3600 * 16000}\n")
    published = Path(__file__).parents[2] / "egs2/geolid/lid1/conf/voxlingua107_only/" \
        "mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml"
    argv = ["stats-cost", "--config", str(published), "--nj", "8", "--cores", "2", str(d)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    per_1000 = f"{1000 * MMS1B_S_PER_AUDIO_S:,.0f} hours per 1,000 h of audio on two cores"
    assert "refused: stage 4 runs the encoder 'facebook/mms-1b' (1280 wide, 48 layers, 962 M" in err
    assert per_1000 in err and "over 2.00 h of audio" in err
    assert f"{2 * MMS1B_S_PER_AUDIO_S:,.2f} two-core hours" in err
    assert "--stats_on_cpu_ok true" in err and "--stats_with_model false" in err
    assert cli.main(argv + ["--allow", "true"]) == 0
    assert capsys.readouterr().err.startswith("WARNING: stage 4 runs the encoder")
    # A tiny MMS-layout stand-in costs seconds: said, not refused.
    conf = yaml.safe_load(published.read_text())
    conf["frontend_conf"]["frontend_conf"]["path_or_url"] = str(tiny_hf)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(conf))
    assert cli.main(["stats-cost", "--config", str(tmp_path / "tiny.yaml"), str(d)]) == 0
    assert "(32 wide, 4 layers" in capsys.readouterr().err


def test_a_broken_training_config_is_named_in_one_line(tmp_path):
    from geolid.bin.data_sets import RecipeError, training_config

    bad = tmp_path / "conf.yaml"
    bad.write_text("model_conf: {batch_invariant: true\n")
    with pytest.raises(RecipeError, match=r"conf\.yaml: invalid YAML \(line \d+"):
        training_config(bad)
    with pytest.raises(RecipeError, match="not found: check --lid_config"):
        training_config(tmp_path / "missing.yaml")
    bad.write_text("- a list\n")
    with pytest.raises(RecipeError, match="expected a mapping"):
        training_config(bad)
