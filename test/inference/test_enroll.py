"""Enrolment on a tiny random model: new classes, extra centres, saving, CLI, code checks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from geolid.inference.enroll import EnrollError, centres_from_embeddings, check_code, collect_clips
from geolid.model.errors import ModelError
from geolid.model.head_state import ENROLLED_FILE

from .conftest import LANGS, noise, write


def _clips(kind: str, n: int, seed: int = 0):
    """Clips of one 'language': a tone family (amh) or coloured noise (eng dialect)."""
    out = []
    for i in range(n):
        rng = np.random.default_rng(seed + i)
        t = np.arange(16000) / 16000
        if kind == "tone":
            f = 300 + 15 * i
            x = 0.3 * np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2.7 * f * t)
        else:
            x = np.cumsum(rng.standard_normal(16000)) * 0.01
        out.append(((x + 0.01 * rng.standard_normal(16000)).astype("float32"), 16000))
    return out


@pytest.fixture
def fresh(model_root):
    from geolid.inference.api import GeoLID

    return GeoLID.from_pretrained(str(model_root), device="cpu")


def test_centres_kmeans_and_mean():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=8), rng.normal(size=8)
    emb = np.concatenate([a + 0.01 * rng.normal(size=(5, 8)), b + 0.01 * rng.normal(size=(5, 8))])
    km = centres_from_embeddings(emb, 3, "kmeans")
    assert km.shape == (3, 8) and np.allclose(np.linalg.norm(km, axis=1), 1, atol=1e-5)
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    best = lambda c: max(float(r @ unit(c)) for r in km)  # noqa: E731
    assert best(a) > 0.99 and best(b) > 0.99          # both clusters have a centre
    mean = centres_from_embeddings(emb, 3, "mean")
    assert np.allclose(mean[0], mean[1]) and np.allclose(mean[0], mean[2])
    one = centres_from_embeddings(emb[:2], 3, "kmeans")  # fewer clips than K: clips repeated
    assert np.allclose(one[0], one[2]) and np.allclose(one[0], unit(emb[0]), atol=1e-6)


def test_check_code():
    assert check_code("amh") == "amh" and check_code("deu") == "deu"
    with pytest.raises(EnrollError, match="'deu'"):
        check_code("de")
    with pytest.raises(EnrollError, match="not an ISO 639-3"):
        check_code("xx1")


def test_enrol_new_language_classifies_its_clips(fresh, tmp_path):
    from geolid.inference.api import GeoLID

    train, held = _clips("tone", 6), _clips("tone", 3, seed=100)
    w0 = fresh.model.loss.weight.detach().clone()
    summary = fresh.enroll({"amh": train})
    assert summary["amh"]["new"] and summary["amh"]["centres"] == 3
    assert summary["amh"]["location"] is not None           # URIEL locates Amharic
    assert fresh.languages == LANGS + ["amh"]
    assert fresh.model.loss.weight.shape[0] == 3 * 5
    assert np.allclose(fresh.model.loss.weight[:12].detach(), w0)   # old classes untouched
    for p in fresh.predict(train + held):
        assert p.language == "amh"
    out = fresh.save(tmp_path / "enrolled")
    again = GeoLID.from_pretrained(str(out), device="cpu")
    assert again.languages == LANGS + ["amh"]
    meta = json.loads(next(out.glob(f"*/*/{ENROLLED_FILE}")).read_text())
    assert meta["languages"]["amh"]["clips"] == 6 and meta["languages"]["amh"]["uriel_geo"]
    a = fresh.predict(held, top_k=5)
    b = again.predict(held, top_k=5)
    for x, y in zip(a, b):
        assert x.language == y.language
        assert x.top_k[0].probability == pytest.approx(y.top_k[0].probability, abs=1e-5)


def test_enrol_known_language_adds_extra_centres(fresh, tmp_path):
    from geolid.inference.api import GeoLID

    dialect = _clips("brown", 4)
    base = fresh.predict(dialect, top_k=4)
    fresh.enroll({"fra": dialect}, method="kmeans")
    assert fresh.languages == LANGS and fresh.model.loss.weight.shape[0] == 12
    head = fresh.model.head
    assert head.extra_classes.numel() == 3 and set(head.extra_classes.tolist()) == {1}
    fresh.enroll({"fra": dialect[:2]})                  # default "mean": one more centre
    assert fresh.model.head.extra_classes.numel() == 4 and len(fresh.folder.head.extra_classes) == 4
    after = fresh.predict(dialect, top_k=4)
    for b, a in zip(base, after):
        assert a.language == "fra"
        p_fra = {s.code: s.probability for s in b.top_k}["fra"]
        assert a.probability >= p_fra
    out = fresh.save(tmp_path / "dialect")
    again = GeoLID.from_pretrained(str(out), device="cpu")
    assert [p.language for p in again.predict(dialect)] == ["fra"] * 4
    # the weight file alone is a plain checkpoint: dropping enrolled.json gives the base model
    next(out.glob(f"*/*/{ENROLLED_FILE}")).unlink()
    plain = GeoLID.from_pretrained(str(out), device="cpu")
    assert not plain.model.head.has_extra_centres and not plain.identity().head
    for b, p in zip(base, plain.predict(dialect, top_k=4)):
        assert p.top_k[0].probability == pytest.approx(b.top_k[0].probability, abs=1e-5)


def test_collect_clips_errors(tmp_path):
    write(tmp_path / "ok" / "amh" / "a.wav", noise(0.5))
    assert list(collect_clips(tmp_path / "ok")) == ["amh"]
    write(tmp_path / "bad" / "german" / "a.wav", noise(0.5))
    (tmp_path / "bad" / "swh").mkdir()
    with pytest.raises(EnrollError) as e:
        collect_clips(tmp_path / "bad")
    assert "german" in str(e.value) and "swh" in str(e.value) and "no audio" in str(e.value)
    with pytest.raises(EnrollError, match="not a folder"):
        collect_clips(tmp_path / "missing")


def test_save_refuses_non_empty_out(fresh, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("keep")
    with pytest.raises(ModelError, match="not empty"):
        fresh.save(tmp_path / "x")
    assert (tmp_path / "x" / "f").read_text() == "keep"
    (tmp_path / "file").write_text("keep")
    with pytest.raises(ModelError, match="is a file"):
        fresh.save(tmp_path / "file")
    with pytest.raises(ModelError, match="source model"):
        fresh.save(fresh.folder.exp)
    with pytest.raises(ModelError, match="source model"):
        fresh.save(fresh.folder.exp / "inside")
    assert (tmp_path / "file").read_text() == "keep"
    out = fresh.save(tmp_path / "x", overwrite=True)
    assert not (out / "f").exists() and next(out.glob("*/*/config.yaml")).is_file()


def test_cli_enroll_then_languages_and_predict(model_root, tmp_path, capsys):
    from geolid.cli.main import main

    for i, (x, sr) in enumerate(_clips("tone", 3)):
        write(tmp_path / "clips" / "amh" / f"{i}.wav", x, sr)
    out = tmp_path / "enrolled"
    assert main(["enroll", "--model", str(model_root), "--out", str(out), "--device", "cpu",
                 str(tmp_path / "clips")]) == 0
    capsys.readouterr()
    assert main(["languages", "--model", str(out), "--format", "tsv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[-1] == "4\tamh\tAmharic"
    assert main(["predict", "--model", str(out), "--format", "tsv", "-q", "--device", "cpu",
                 str(tmp_path / "clips" / "amh" / "0.wav")]) == 0
    assert "\tamh\t" in capsys.readouterr().out
    (tmp_path / "bad" / "xx1").mkdir(parents=True)
    assert main(["enroll", "--model", str(model_root), "--out", str(tmp_path / "o2"),
                 str(tmp_path / "bad")]) == 2
    assert "not an ISO 639-3" in capsys.readouterr().err


def test_offset_method_writes_offsets_that_the_head_applies(fresh, tmp_path):
    """method="offset": mean centres plus a logit offset per new language, capped by
    reference clips of a known language; saved in enrolled.json, applied by the head after
    loading, and part of the model's identity."""
    from geolid.inference.api import GeoLID
    from geolid.inference.enroll import embedding_logits

    train = _clips("tone", 6)
    reference = {"eng": _clips("brown", 4, seed=7)}
    summary = fresh.enroll({"amh": train}, method="offset", reference=reference)
    assert "offset" in summary["amh"] and summary["amh"]["offset"] <= 0.0
    offsets = fresh.folder.head.offsets
    assert offsets.shape == (5,) and list(offsets[:4]) == [0.0] * 4
    assert fresh.model.head.offsets.numel() == 5
    out = fresh.save(tmp_path / "offset")
    again = GeoLID.from_pretrained(str(out), device="cpu")
    np.testing.assert_allclose(again.model.head.offsets.numpy(), offsets, atol=1e-6)
    assert again.identity().head and again.identity().head == fresh.folder.identity().head
    emb = fresh.embed(train[0])[None]
    with_offsets = embedding_logits(again, emb, calibrated=False)
    again.model.head.install()                   # identity head: no offsets
    plain = embedding_logits(again, emb, calibrated=False)
    np.testing.assert_allclose(with_offsets - plain, offsets[None], atol=1e-5)
    with pytest.raises(EnrollError, match="must be of the model's languages"):
        fresh.enroll({"tir": train}, method="offset", reference={"xho": train})
