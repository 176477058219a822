"""The tiny published-layout model of the inference tests, for the model-folder tests."""
from inference.conftest import EXP_REL, LANGS, lid, model_root, noise, speech_check_off, write  # noqa: F401
