"""``python -m geolid.bin.calibrate`` (stage 7) from stage-6 posteriors: the fitted
temperature goes into the model folder, calibrated top-k files and a PNG are written,
and a rerun gives the same files."""
from __future__ import annotations

import json

import numpy as np

from geolid.bin.calibrate import main
from geolid.model.head_state import CALIBRATION_FILE


def _posteriors(folder, out, utts, logp, set_name="dev"):
    """What stage 6 writes for a set (posteriors + the model record)."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"{set_name}_posteriors.npz", utts=np.asarray(utts),
             languages=np.asarray(folder.languages), log_posteriors=logp.astype(np.float32),
             window_keys=np.asarray(utts), window_logits=logp.astype(np.float32),
             window_weights=np.ones(len(utts)))     # one window an utterance
    (out / f"{set_name}_model.json").write_text(json.dumps(
        {"model": folder.identity(include_calibration=False).to_dict(), "options": {}}))
    return out / f"{set_name}_posteriors.npz"


def test_calibrate_writes_temperature_topk_and_plot(tmp_path, capsys):
    from geolid_demo.tiny import make_experiment
    from geolid.inference.calibration import log_softmax
    from geolid.model.folder import ModelFolder

    langs = ["eng", "fra", "cmn"]
    exp = make_experiment(tmp_path / "repo" / "exp" / "lid_tiny_raw", langs)
    folder = ModelFolder.open(exp)
    rng = np.random.default_rng(0)
    n = 300
    labels = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3)) * 2
    logits[np.arange(n), labels] += 3.0
    logits *= 4.0                                   # over-confident by about 4x
    utts = [f"{langs[y]}_{i:03d}" for i, y in enumerate(labels)] + ["deu_999"]
    logp = np.concatenate([log_softmax(logits), log_softmax(np.zeros((1, 3)))])
    post = _posteriors(folder, tmp_path / "inf" / "dev", utts, logp)
    ref = tmp_path / "utt2lang"
    ref.write_text("".join(f"{u} {u.split('_')[0]}\n" for u in utts))   # deu: not a model language
    png = tmp_path / "rel.png"
    assert main(["--model", str(exp), "--valid", str(post), "--valid_ref", str(ref),
                 "--eval", f"again={post}:{ref}", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "temperature" in out and "again" in out
    cal = json.loads((exp / CALIBRATION_FILE).read_text())
    assert 2.0 < cal["temperature"] < 8.0 and cal["n"] == n
    assert cal["report"]["valid"]["skipped"] == 1
    assert cal["report"]["valid"]["after"]["nll"] < cal["report"]["valid"]["before"]["nll"]
    assert png.stat().st_size > 10_000
    topk = (tmp_path / "inf" / "dev" / "dev_lids_topk_calibrated").read_text()
    first = topk.splitlines()[0].split()
    t = cal["temperature"]
    p = np.exp(log_softmax(logp[0] / t))
    assert first[0] == utts[0] and float(first[1].split(":")[1]) == round(float(p.max()), 6)
    # a rerun gives the same files (stage 7 in any order)
    assert main(["--model", str(exp), "--valid", str(post), "--valid_ref", str(ref)]) == 0
    assert json.loads((exp / CALIBRATION_FILE).read_text())["temperature"] == cal["temperature"]
    assert (tmp_path / "inf" / "dev" / "dev_lids_topk_calibrated").read_text() == topk
    assert main(["--model", str(exp), "--valid", str(tmp_path / "nowhere_posteriors.npz"),
                 "--valid_ref", str(ref)]) == 2
