"""The CLI tests use the inference tests' tiny model and audio writers."""
from inference.conftest import EXP_REL, LANGS, lid, model_root, noise, tone, write  # noqa: F401
from inference.conftest import speech_check_off  # noqa: F401
