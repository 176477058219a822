"""The CLI tests use the inference tests' tiny model and audio writers."""
import pytest

from inference.conftest import EXP_REL, LANGS, lid, model_root, noise, tone, write  # noqa: F401
from inference.conftest import speech_check_off  # noqa: F401


@pytest.fixture(autouse=True)
def _weights_hash_cache(tmp_path, monkeypatch):
    """Keep the weights-hash cache (geolid.model.identity) out of the home folder."""
    monkeypatch.setenv("GEOLID_CACHE", str(tmp_path / "geolid_cache"))


def make_scp(tmp_path, n: int):
    """A wav.scp of ``n`` noise clips (1.0, 1.1, ... s) named utt0.. under tmp_path."""
    lines = []
    for i in range(n):
        p = write(tmp_path / "wav" / f"u{i}.wav", noise(1.0 + 0.1 * i, seed=i))
        lines.append(f"utt{i} {p}")
    scp = tmp_path / "wav.scp"
    scp.write_text("\n".join(lines) + "\n")
    return scp
