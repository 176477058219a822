"""The published geolid models: one table, their class orders, and how to fetch them.

ESPnet's ``pack lid`` ships only ``config.yaml`` and the weights, so the published
Hugging Face repos hold no training ``lang2utt``. The class index of a model is
the line number of that file, and it follows from the published label rules:

* ``lang2utt`` is made from the sorted ``utt2lang`` (utterance ids start with the
  ISO 639-3 label), so languages appear sorted by code;
* VoxLingua107-only models: the 107 VoxLingua107 folder codes mapped to ISO 639-3
  (the published recipe looks each language name up with ``pycountry``; our
  :mod:`geolid.data.iso` mapping gives the same 107 codes, checked in the tests).

The combined model was trained on the union of five corpora (157 languages by
the published README). ML-SUPERB 2.0's training languages are not listed in any
public file we know, so its class order cannot be established from public facts
alone: :func:`class_order` then names the one file needed and the command that makes
it from ML-SUPERB 2.0's training folders (``python -m geolid.bin.data_sets class-order``).

This module imports nothing heavy; it is the only place that knows the published
repositories, experiment folders and the download command.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

# The published ``hf download`` command excludes the repo's own README, meta.yaml and
# .gitattributes, so downloading into the recipe folder does not overwrite its README.
HF_DOWNLOAD_EXCLUDES = ("README.md", "meta.yaml", ".gitattributes")

# The 107 VoxLingua107 languages as ISO 639-3, sorted: the class order of the four
# VoxLingua107-only models (index = position).
VL107_CLASS_ORDER: Tuple[str, ...] = tuple("""
abk afr amh ara asm aze bak bel ben bod bos bre bul cat ceb ces cmn cym dan deu ell eng epo
est eus fao fas fin fra glg glv grn guj hat hau haw heb hin hrv hun hye ina ind isl ita jav
jpn kan kat kaz khm kor lao lat lav lin lit ltz mal mar mkd mlg mlt mon mri msa mya nep nld
nno nor oci pan pol por pus ron rus san sco sin slk slv sna snd som spa sqi srp sun swa swe
tam tat tel tgk tgl tha tuk tur ukr urd uzb vie war yid yor
""".split())

COMBINED_TRAIN_SET = "train_all_no_filter_lang"
COMBINED_N_LANGUAGES = 157  # "157 languages", published README


@dataclass(frozen=True)
class PublishedModel:
    repo_id: str
    exp_dir: str                      # experiment folder inside the repo (and the recipe)
    config: str                       # recipe config it was trained with (lid1/conf/...)
    run_script: str                   # lid1 run script that evaluates it
    train_set: str                    # data dir whose lang2utt is the class order
    languages: Optional[Tuple[str, ...]]  # class order, None where not public

    @property
    def lang2utt(self) -> str:
        """Where the recipe (and the model's config.yaml) keeps the class order."""
        return f"dump/raw/{self.train_set}/lang2utt"


def _vl107(variant: str) -> PublishedModel:
    name = f"mms_ecapa_upcon_32_44_it0.4_{variant}"
    return PublishedModel(f"espnet/geolid_vl107only_{variant}",
                          f"exp_voxlingua107_only/lid_{name}_raw",
                          f"conf/voxlingua107_only/{name}.yaml", "run_voxlingua107_only.sh",
                          "train_voxlingua107_lang", VL107_CLASS_ORDER)


PUBLISHED_MODELS: Dict[str, PublishedModel] = {m.repo_id: m for m in (
    _vl107("shared_trainable"),
    _vl107("shared_frozen"),
    _vl107("independent_trainable"),
    _vl107("independent_frozen"),
    PublishedModel("espnet/geolid_combined_shared_trainable",
                   "exp_combined/lid_mms_ecapa_upcon_32_44_it0.4_shared_trainable_raw",
                   "conf/combined/mms_ecapa_upcon_32_44_it0.4_shared_trainable.yaml",
                   "run_combined.sh", COMBINED_TRAIN_SET, None),
)}
DEFAULT_MODEL = "espnet/geolid_combined_shared_trainable"


class ClassOrderUnknown(LookupError):
    """A published model whose class order is not public; the message says what to get."""


def published_model(repo_id_or_exp: str, lang2utt: Optional[str] = None) -> Optional[PublishedModel]:
    """The published model with this repo id or experiment folder.

    An experiment folder matches by its last two parts (``exp_*/lid_*_raw``), or, when
    the recipe ran with another ``--expdir``, by its name plus the ``lang2utt`` path its
    config names (the name alone is shared by a VoxLingua107-only and the combined model).
    """
    key = str(repo_id_or_exp).rstrip("/")
    if key in PUBLISHED_MODELS:
        return PUBLISHED_MODELS[key]
    parts = Path(key).parts
    for model in PUBLISHED_MODELS.values():
        exp = Path(model.exp_dir).parts
        if tuple(parts[-len(exp):]) == exp:
            return model
        if lang2utt is not None and parts and parts[-1] == exp[-1] \
                and Path(lang2utt) == Path(model.lang2utt):
            return model
    return None


def class_order(model: PublishedModel) -> Tuple[str, ...]:
    """The shipped class order, or :class:`ClassOrderUnknown` naming the file to make."""
    if model.languages is not None:
        return model.languages
    raise ClassOrderUnknown(
        f"the class order of {model.repo_id} is not published: it is the line order of the "
        f"training lang2utt of {model.train_set} ({COMBINED_N_LANGUAGES} languages of "
        "VoxLingua107, FLEURS, ML-SUPERB 2.0, VoxPopuli and Babel), and ML-SUPERB 2.0's "
        "training languages cannot be established from public facts. The one file needed is "
        f"{model.lang2utt} (the path its config.yaml names, relative to egs2/geolid/lid1). "
        "Make it there from labels alone, no audio formatted: `python -m geolid.bin.data_sets "
        f"class-order --ml_superb2 <ML-SUPERB 2.0 copy> --out {model.lang2utt}` (reads only "
        "ML-SUPERB 2.0's train/<language>/ folders; the other four corpora's languages are "
        f"published), or `./{model.run_script} --stage 1 --stop_stage 1` (stage 1 writes it), "
        "or copy it from a machine that has it")


def download_command(repo_id: str, local_dir: str = ".") -> str:
    """The ``hf download`` command, as published (its excludes keep a recipe README)."""
    excludes = " ".join(HF_DOWNLOAD_EXCLUDES)
    return f"hf download {repo_id} --local-dir {local_dir} --exclude {excludes}"


def download_hint(repo_id: str, local_dir: Optional[str] = None,
                  then: str = "pass that folder as the model") -> str:
    """The one sentence saying how to get ``repo_id`` onto this machine.

    ``local_dir`` given (e.g. ``.`` in a recipe folder): where it must go. Else the
    user picks a folder and does ``then`` with it.
    """
    if local_dir is not None:
        return f"To get it, run where there is network access: `{download_command(repo_id, local_dir)}`."
    return (f"Download it where there is network access: `{download_command(repo_id, '<dir>')}`, "
            f"then {then}; or set HF_HOME to a Hugging Face cache that holds it.")


def hub_offline() -> bool:
    """huggingface_hub's own offline switch (HF_HUB_OFFLINE, read when it is imported)."""
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - a declared dependency
        return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    is_offline = getattr(constants, "is_offline_mode", None)
    return bool(is_offline() if is_offline is not None else constants.HF_HUB_OFFLINE)
