"""geolid.integrations.lhotse on CutSets that Lhotse itself builds (a Kaldi data folder like
the demo's, Shar shards): lazy annotation, records equal to GeoLID.predict, the predicted
language on the supervisions, and a Shar field written beside the shards, read back by
CutSet.from_shar, resumed and refused as the CLI's outputs are."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import soundfile as sf

from integrations.conftest import close, tone, write

lhotse = pytest.importorskip("lhotse")

from geolid.inference.options import PredictOptions  # noqa: E402
from geolid.integrations.lhotse import annotate_cuts, records, whole_file, write_shar_field  # noqa: E402


def kaldi_dir(tmp_path, clips):
    """wav.scp / utt2spk / utt2lang / reco2dur of five utterances (one broken file)."""
    d = tmp_path / "data" / "test"
    d.mkdir(parents=True)
    utts = {"eng_a": clips["noise1"], "fra_b": clips["noise2"], "deu_c": clips["tone"],
            "cmn_d": clips["stereo44k"], "eng_e": clips["broken"]}
    (d / "wav.scp").write_text("".join(f"{u} {p}\n" for u, p in utts.items()))
    (d / "utt2spk").write_text("".join(f"{u} {u}\n" for u in utts))
    (d / "utt2lang").write_text("".join(f"{u} {u[:3]}\n" for u in utts))
    def duration(path):
        try:
            return sf.info(path).duration
        except Exception:   # the broken file: a duration as a reco2dur would claim
            return 1.0

    durs = {u: duration(p) for u, p in utts.items()}
    (d / "reco2dur").write_text("".join(f"{u} {v}\n" for u, v in durs.items()))
    return d, utts


def kaldi_cuts(d, sampling_rate=16000):
    from lhotse import CutSet
    from lhotse.kaldi import load_kaldi_data_dir

    recs, sups, _ = load_kaldi_data_dir(d, sampling_rate=sampling_rate)
    return CutSet.from_manifests(recordings=recs, supervisions=sups)


def same(record, p):
    assert record["error"] == p.error
    if p.error:
        return
    assert record["language"] == p.language
    assert abs(record["probability"] - p.probability) <= 1e-5
    assert [s["code"] for s in record["top_k"]] == [s.code for s in p.top_k]
    assert close([s["probability"] for s in record["top_k"]], [s.probability for s in p.top_k])
    assert close(record["speech_fraction"], p.speech_fraction)
    assert close([record["location"]["lat"], record["location"]["lon"]],
                 [p.location.lat, p.location.lon])


class Spy:
    """Counts the inputs a GeoLID is asked to score."""

    def __init__(self, lid):
        self.lid, self.scored = lid, 0

    def __getattr__(self, name):
        return getattr(self.lid, name)

    def predict_iter(self, keyed, *a, **kw):
        keyed = list(keyed)
        self.scored += len(keyed)
        return self.lid.predict_iter(keyed, *a, **kw)


def test_annotate_a_kaldi_cutset_lazily(lid, clips, tmp_path, monkeypatch):
    import geolid.integrations.lhotse as lh

    d, utts = kaldi_dir(tmp_path, clips)
    cuts = kaldi_cuts(d)
    assert [c.supervisions[0].language for c in cuts] == ["eng", "fra", "deu", "cmn", "eng"]
    spy = Spy(lid)
    monkeypatch.setattr(lh, "_load_model", lambda model, name: (spy, lid.identity(name)))
    opts = PredictOptions(top_k=3)
    annotated = annotate_cuts(cuts, lid, opts, chunk=2)
    assert annotated.is_lazy and spy.scored == 0          # nothing scored before iteration
    out = list(annotated)
    assert spy.scored == 5                                # every cut, the broken file too (by path)
    want = {p.key: p for p in lid.predict(list(utts.values()), options=opts)}
    for cut, (utt, path) in zip(out, utts.items()):
        assert whole_file(cut) == path                    # read as `geolid predict` reads it
        rec = cut.custom["geolid"]
        assert rec["key"] == cut.id and rec["model"]["sha256"] == lid.identity().sha256
        assert rec["options"] == opts.result_key()
        same(rec, want[path])
        if rec["error"]:
            assert cut.supervisions[0].language == "eng"  # label kept where no answer
        else:
            assert cut.supervisions[0].language == rec["language"]
    assert out[4].custom["geolid"]["error"] == want[utts["eng_e"]].error
    kept = list(annotate_cuts(cuts, lid, opts, set_language=False))
    assert [c.supervisions[0].language for c in kept] == ["eng", "fra", "deu", "cmn", "eng"]


def test_segment_cuts_are_scored_from_their_samples(lid, clips, tmp_path):
    """A cut that is part of a recording: scored from cut.load_audio(), equal to
    GeoLID.predict on the same samples."""
    from lhotse import CutSet, Recording

    x = tone(3.0, 330.0)
    path = write(tmp_path / "long.wav", x)
    cut = Recording.from_file(str(path)).to_cut().truncate(offset=0.5, duration=1.5)
    assert whole_file(cut) is None
    (out,) = list(annotate_cuts(CutSet.from_cuts([cut]), lid))
    samples, sr = sf.read(str(path), dtype="float32")      # as stored (16-bit PCM)
    p = lid.predict(samples[8000:32000], sample_rate=sr)
    same(out.custom["geolid"], p)
    assert out.custom["geolid"]["duration"] == pytest.approx(1.5)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shar_field_beside_the_shards(lid, clips, tmp_path):
    """geolid.NNNNNN.jsonl.gz per shard, the cuts and audio tars untouched; from_shar reads
    the field; a rerun skips done shards; other options are refused unless overwrite."""
    from lhotse import CutSet

    # Shar stores audio at the declared rate: 16 kHz files only, all readable
    d, utts = kaldi_dir(tmp_path, {**clips, "stereo44k": clips["flac"],
                                   "broken": clips.get("speech", clips["noise2"])})
    shar = tmp_path / "shar"
    shar.mkdir()
    kaldi_cuts(d).to_shar(shar, fields={"recording": "wav"}, shard_size=2)
    before = {p.name: _digest(p) for p in shar.iterdir()}
    assert len([n for n in before if n.startswith("cuts.")]) == 3
    written = write_shar_field(shar, lid)
    assert [p.name for p in written] == [f"geolid.{i:06d}.jsonl.gz" for i in range(3)]
    assert {p.name: _digest(p) for p in shar.iterdir() if p.name in before} == before
    assert not list(tmp_path.glob(".shar.geolid-*"))      # the temp folders are gone
    back = list(CutSet.from_shar(in_dir=shar))
    assert [c.id for c in back] == [c.id for c in kaldi_cuts(d)]
    want = {p.key: p for p in lid.predict(list(utts.values()))}
    for cut, path in zip(back, utts.values()):
        same(cut.geolid, want[path])
    # only the field, from another folder (Lhotse's fields= form)
    only = CutSet.from_shar(fields={"cuts": sorted(map(str, shar.glob("cuts.*"))),
                                    "geolid": sorted(map(str, shar.glob("geolid.*")))})
    assert [r["language"] for r in records(only, "geolid")] == [c.geolid["language"] for c in back]
    # a rerun: nothing is written again
    stamps = {p: p.stat().st_mtime_ns for p in written}
    assert write_shar_field(shar, lid) == written
    assert {p: p.stat().st_mtime_ns for p in written} == stamps
    # a lost field file is redone, alone
    written[1].unlink()
    write_shar_field(shar, lid)
    assert written[1].exists() and {p: p.stat().st_mtime_ns for p in (written[0], written[2])} == \
        {p: stamps[p] for p in (written[0], written[2])}
    # other options: refused, then replaced on request
    with pytest.raises(ValueError, match="other options"):
        write_shar_field(shar, lid, PredictOptions(top_k=2))
    write_shar_field(shar, lid, top_k=2, overwrite=True)           # options as keywords
    assert all(len(c.geolid["top_k"]) == 2 for c in CutSet.from_shar(in_dir=shar))


def test_shar_field_in_its_own_folder_and_errors(lid, clips, tmp_path):
    from lhotse import CutSet, Recording

    shar, field_dir = tmp_path / "shar", tmp_path / "lid_fields"
    shar.mkdir()
    cuts = CutSet.from_cuts(Recording.from_file(clips[k]).to_cut() for k in ("noise1", "tone"))
    cuts.to_shar(shar, fields={"recording": "flac"}, shard_size=5)
    write_shar_field(shar, lid, out_dir=field_dir, field="lid")
    back = CutSet.from_shar(fields={"cuts": [str(shar / "cuts.000000.jsonl.gz")],
                                    "lid": [str(field_dir / "lid.000000.jsonl.gz")]})
    assert [c.lid["key"] for c in back] == [c.id for c in cuts]
    with pytest.raises(ValueError, match="no Shar shards"):
        write_shar_field(tmp_path / "lid_fields", lid)
    with pytest.raises(ValueError, match="one of Lhotse's own"):
        write_shar_field(shar, lid, field="recording")
