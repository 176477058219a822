"""``python -m geolid.bin.calibrate`` on a tiny model: writes calibration.json and a PNG."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from geolid.bin.calibrate import main
from geolid.inference.calibration import CALIBRATION_FILE


def test_calibrate_writes_temperature_and_plot(tmp_path, capsys):
    from geolid.demo.tiny import make_experiment

    langs = ["eng", "fra", "cmn"]
    exp = make_experiment(tmp_path / "repo" / "exp" / "lid_tiny_raw", langs)
    data = tmp_path / "dev"
    data.mkdir()
    rng = np.random.default_rng(0)
    scp, u2l = [], []
    for i in range(12):
        lang = langs[i % 3]
        # each "language" a different loudness/colour of noise, so the model is not uniform
        x = rng.standard_normal(12000) * (0.02 + 0.1 * (i % 3))
        path = data / f"{lang}_{i:02d}.wav"
        sf.write(str(path), x.astype("float32"), 16000)
        scp.append(f"{lang}_{i:02d} {path}\n")
        u2l.append(f"{lang}_{i:02d} {lang}\n")
    scp.append("deu_99 /nonexistent.wav\n")       # a language the model lacks: skipped
    u2l.append("deu_99 deu\n")
    (data / "wav.scp").write_text("".join(scp))
    (data / "utt2lang").write_text("".join(u2l))
    png = tmp_path / "rel.png"
    assert main(["--model", str(exp), "--data", str(data), "--eval", f"again={data}",
                 "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "temperature" in out and "again" in out
    cal = json.loads((exp / CALIBRATION_FILE).read_text())
    assert cal["temperature"] > 0 and cal["n"] == 12
    assert cal["report"]["valid"]["skipped"] == 1
    assert cal["report"]["valid"]["after"]["nll"] <= cal["report"]["valid"]["before"]["nll"] + 1e-6
    assert png.stat().st_size > 10_000
    assert main(["--model", str(exp), "--data", str(tmp_path / "nowhere")]) == 2
