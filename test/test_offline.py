"""The test suite runs offline: the Hugging Face switches are on before the libraries load."""
import os


def test_hugging_face_offline_mode_is_on():
    import huggingface_hub.constants

    assert huggingface_hub.constants.HF_HUB_OFFLINE is True
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1" and os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_hub_download_fails_fast_without_network(tmp_path):
    """An uncached download raises at once instead of trying the network."""
    import time

    import pytest
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    t0 = time.perf_counter()
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download("espnet/geolid_combined_shared_trainable", "config.yaml",
                        cache_dir=tmp_path)
    assert time.perf_counter() - t0 < 2.0
