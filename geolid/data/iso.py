"""Language-code mapping for the five corpora: everything becomes ISO 639-3.

The labels must be codes that ``lang2vec`` knows (the geo target is looked up by
label), and for the published checkpoints they must be the codes those models
were trained with. Decisions, per case:

* Two-letter codes go through ``langcodes`` *without* normalisation
  (``normalize=False``): normalising would turn ``no`` (Norwegian, the
  macrolanguage) into ``nb``/``nob`` and ``tl`` (Tagalog) into ``fil``, which is
  not what the published VoxLingua107 labels use.
* Macrolanguages stay macrolanguages where the corpus labels the macrolanguage,
  as in the published recipe (all have a lang2vec geo vector): ``ar`` -> ``ara``,
  ``fa`` -> ``fas``, ``ms`` -> ``msa``, ``ne`` -> ``nep``, ``sw`` -> ``swa``,
  ``uz`` -> ``uzb``, ``lv`` -> ``lav``, ``et`` -> ``est``, ``mn`` -> ``mon``,
  ``sq`` -> ``sqi``, ``az`` -> ``aze``, ``gn`` -> ``grn``, ``no`` -> ``nor``,
  ``ps`` -> ``pus``, ``yi`` -> ``yid``, ``or`` -> ``ori``, ``om`` -> ``orm``,
  ``ff`` -> ``ful``.
* Legacy / ambiguous VoxLingua107 folders use an explicit table:
  ``iw`` -> ``heb`` (old code of Hebrew), ``jw`` -> ``jav`` (old code of
  Javanese), ``zh`` -> ``cmn`` (VoxLingua107's Chinese is Mandarin; ``zho``
  would be the macrolanguage).
* FLEURS ids keep their 3-letter prefixes (``cmn_hans_cn`` -> ``cmn``,
  ``yue_hant_hk`` -> ``yue``, ``fil_ph`` -> ``fil``); note FLEURS Norwegian is
  ``nb`` -> ``nob`` and Filipino ``fil``, while VoxLingua107 has ``nor`` and
  ``tgl``: those FLEURS languages fall out of the VoxLingua107-only
  cross-domain test set, as in the published evaluation.
* Babel uses the individual languages given by the corpus (``khk`` Halh
  Mongolian, ``gug`` Paraguayan Guarani, ``kmr`` Kurmanji).
* ML-SUPERB 2.0 labels are ISO 639-3 already, with five remaps and three skips.
"""
from __future__ import annotations

import functools
from typing import Dict, Optional

from geolid.languages import is_iso3


class IsoCodeError(ValueError):
    """A corpus code has no ISO 639-3 mapping."""


# VoxLingua107: the 107 language folder names of the corpus.
VOXLINGUA107_CODES = tuple("""
ab af am ar as az ba be bg bn bo br bs ca ceb cs cy da de el en eo es et eu fa fi fo fr
gl gn gu gv ha haw hi hr ht hu hy ia id is it iw ja jw ka kk km kn ko la lb ln lo lt lv
mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt ro ru sa sco sd si sk sl sn so sq
sr su sv sw ta te tg th tk tl tr tt uk ur uz vi war yi yo zh
""".split())

# Folder codes that langcodes does not map the way the corpus means them.
VOXLINGUA107_OVERRIDES: Dict[str, str] = {"iw": "heb", "jw": "jav", "zh": "cmn"}

# FLEURS: the 102 configuration ids (``google/xtreme_s`` ``fleurs.<id>``).
FLEURS_IDS = tuple("""
af_za am_et ar_eg as_in ast_es az_az be_by bg_bg bn_in bs_ba ca_es ceb_ph ckb_iq
cmn_hans_cn cs_cz cy_gb da_dk de_de el_gr en_us es_419 et_ee fa_ir ff_sn fi_fi fil_ph
fr_fr ga_ie gl_es gu_in ha_ng he_il hi_in hr_hr hu_hu hy_am id_id ig_ng is_is it_it
ja_jp jv_id ka_ge kam_ke kea_cv kk_kz km_kh kn_in ko_kr ky_kg lb_lu lg_ug ln_cd lo_la
lt_lt luo_ke lv_lv mi_nz mk_mk ml_in mn_mn mr_in ms_my mt_mt my_mm nb_no ne_np nl_nl
nso_za ny_mw oc_fr om_et or_in pa_in pl_pl ps_af pt_br ro_ro ru_ru sd_in sk_sk sl_si
sn_zw so_so sr_rs sv_se sw_ke ta_in te_in tg_tj th_th tr_tr uk_ua umb_ao ur_pk uz_uz
vi_vn wo_sn xh_za yo_ng yue_hant_hk zu_za
""".split())

# ML-SUPERB 2.0: labels left out, and labels renamed to the codes the benchmark expects.
ML_SUPERB2_SKIP = frozenset({"nno", "nob", "nor"})
ML_SUPERB2_REMAP: Dict[str, str] = {
    "lga": "lug", "org_jpn": "jpn", "ory": "ori", "azj": "aze", "arb": "ara",
}
# dev_dialect: ``hin`` utterances of these languages (named in the id) are relabelled.
ML_SUPERB2_DIALECT_RELABEL = ("tam", "tel", "guj")

# VoxPopuli: the 16 languages with transcribed data.
VOXPOPULI_TO_ISO3: Dict[str, str] = {
    "cs": "ces", "de": "deu", "en": "eng", "es": "spa", "et": "est", "fi": "fin",
    "fr": "fra", "hr": "hrv", "hu": "hun", "it": "ita", "lt": "lit", "nl": "nld",
    "pl": "pol", "ro": "ron", "sk": "slk", "sl": "slv",
}

# Babel: corpus id (folder BABEL_<id>) -> ISO 639-3.
BABEL_TO_ISO3: Dict[str, str] = {
    "101": "yue", "102": "asm", "103": "ben", "104": "pus", "105": "tur", "106": "tgl",
    "107": "vie", "201": "hat", "202": "swa", "203": "lao", "204": "tam", "205": "kmr",
    "206": "zul", "207": "tpi", "301": "ceb", "302": "kaz", "303": "tel", "304": "lit",
    "305": "gug", "306": "ibo", "307": "amh", "401": "khk", "402": "jav", "403": "luo",
    "404": "kat",
}


@functools.lru_cache(maxsize=None)
def two_letter_to_iso3(code: str) -> str:
    """ISO 639-1 code -> ISO 639-3 (the 639-2/T code, which is the 639-3 code)."""
    import langcodes  # light, but only the mapping needs it

    try:
        alpha3 = langcodes.Language.get(code, normalize=False).to_alpha3()
    except (LookupError, ValueError) as exc:
        raise IsoCodeError(f"no ISO 639-3 code for {code!r} ({exc})") from None
    if not is_iso3(alpha3):
        raise IsoCodeError(f"langcodes maps {code!r} to {alpha3!r}, not an ISO 639-3 code")
    return alpha3


def voxlingua107_to_iso3(folder: str) -> str:
    """A VoxLingua107 language folder name -> ISO 639-3."""
    if folder not in VOXLINGUA107_CODES:
        raise IsoCodeError(
            f"{folder!r} is not one of the 107 VoxLingua107 language folders; remove or "
            "rename the folder")
    if folder in VOXLINGUA107_OVERRIDES:
        return VOXLINGUA107_OVERRIDES[folder]
    return folder if len(folder) == 3 else two_letter_to_iso3(folder)


def voxlingua107_map() -> Dict[str, str]:
    """Folder name -> ISO 639-3 for all 107 VoxLingua107 languages."""
    return {code: voxlingua107_to_iso3(code) for code in VOXLINGUA107_CODES}


def fleurs_to_iso3(fleurs_id: str) -> str:
    """A FLEURS id (``cmn_hans_cn``, ``en_us``...) -> ISO 639-3 of its prefix."""
    if fleurs_id not in FLEURS_IDS:
        raise IsoCodeError(f"{fleurs_id!r} is not one of the 102 FLEURS ids (e.g. 'en_us', "
                           "'cmn_hans_cn')")
    prefix = fleurs_id.split("_", 1)[0]
    return prefix if len(prefix) == 3 else two_letter_to_iso3(prefix)


def fleurs_map() -> Dict[str, str]:
    """FLEURS id -> ISO 639-3 for all 102 FLEURS languages."""
    return {fid: fleurs_to_iso3(fid) for fid in FLEURS_IDS}


def ml_superb2_label(language: str) -> Optional[str]:
    """An ML-SUPERB 2.0 ``language`` field -> label, or None for a skipped language."""
    language = language.strip()
    if language in ML_SUPERB2_SKIP:
        return None
    return ML_SUPERB2_REMAP.get(language, language)


def ml_superb2_dialect_label(label: str, original_id: str) -> str:
    """dev_dialect fix: a ``hin`` utterance whose id names tam/tel/guj gets that label.

    Checked in the order tam, tel, guj; a ``hin`` id naming none keeps ``hin``.
    """
    if label != "hin":
        return label
    for lang in ML_SUPERB2_DIALECT_RELABEL:
        if lang in original_id:
            return lang
    return label


def voxpopuli_to_iso3(code: str) -> str:
    """A VoxPopuli language folder (``de``) -> ISO 639-3."""
    try:
        return VOXPOPULI_TO_ISO3[code]
    except KeyError:
        raise IsoCodeError(f"{code!r} is not one of the 16 VoxPopuli languages "
                           f"{sorted(VOXPOPULI_TO_ISO3)}") from None


def babel_to_iso3(babel_id: str) -> str:
    """A Babel id (``101`` or ``BABEL_101``) -> ISO 639-3."""
    key = babel_id[len("BABEL_"):] if babel_id.startswith("BABEL_") else babel_id
    try:
        return BABEL_TO_ISO3[key]
    except KeyError:
        raise IsoCodeError(f"{babel_id!r} is not one of the 25 Babel languages "
                           f"{sorted(BABEL_TO_ISO3)}") from None
