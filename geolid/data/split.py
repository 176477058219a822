"""Split a data directory into per-job data directories for parallel inference.

ESPnet's ``lid_inference`` names its outputs after the folder holding the data
(``<set>_lids``), so every part keeps the set's name:
``OUT_DIR/<k>/<set>/{wav.scp, utt2lang}`` for k = 1..N.
"""
from __future__ import annotations

from pathlib import Path
from typing import List

# The package's one Kaldi-file reader/writer rather than espnet2.fileio's: errors name
# file:line, blank lines are allowed, and writes are atomic (DatadirWriter writes in place).
from geolid.utils.fileio import read_kaldi_map, write_kaldi_map
from geolid.utils.jobs import split_scp

SPLIT_FILES = ("utt2lang", "utt2num_samples")


def split_data_dir(data_dir, n: int, out_dir) -> List[Path]:
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    parts = split_scp(data_dir / "wav.scp", n, out_dir)
    extra = {name: read_kaldi_map(data_dir / name) for name in SPLIT_FILES if (data_dir / name).is_file()}
    written = []
    for k, keys_file in enumerate(parts, 1):
        part_dir = out_dir / str(k) / data_dir.name
        wav = read_kaldi_map(keys_file)
        write_kaldi_map(part_dir / "wav.scp", wav)
        for name, mapping in extra.items():
            write_kaldi_map(part_dir / name, {u: mapping[u] for u in wav if u in mapping})
        written.append(part_dir)
    return written
