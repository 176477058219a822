"""Synthetic speech in languages the demo model was never trained on (bench helper).

Shared by ``bench/unknown_languages.py``, ``bench/enroll_curve.py`` and
``bench/candidate_languages.py``. Made the way the demo corpus is made
(:mod:`geolid_demo.corpus`): espeak-ng, one sentence template a language, the
demo's speaker variants, rates and pitches drawn per utterance from a seeded RNG.
What differs from the demo's training data: the *language* (its espeak-ng voice
and its sentences were never seen by the model).

Twelve unseen languages: the five the demo catalogue has but does not train on
(German, Japanese, Arabic, Amharic, Guarani; sentences from :mod:`geolid_demo.texts`)
and seven written here (Italian, Turkish, Indonesian, Finnish, Polish, Dutch,
Korean; same kind of hand-written word lists: time/place opener, subject,
predicate). Splits ``enrol`` and ``test`` have disjoint sentences.

``known_new_voices``: the demo's own languages spoken by espeak-ng speaker
variants the demo never uses (m5-m8, f5), on sentences the demo corpus never
used (the slice after the demo's train/dev/test/test_accent slices): a control
that an unknown-language score does not merely flag a new speaker.
"""
from __future__ import annotations

import random
import zlib
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from geolid_demo.texts import LanguageText

# The demo's speaker variants / ranges (geolid_demo.corpus), repeated so that a
# change there does not silently change these benches' data.
SPEAKER_VARIANTS = ("", "m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4")
NEW_SPEAKER_VARIANTS = ("m5", "m6", "m7", "m8", "f5")
RATE_RANGE = (130, 200)
PITCH_RANGE = (30, 70)
PITCH_SPREAD_RANGE = (20, 80)


def _text(iso3, name, template, **slots) -> LanguageText:
    return LanguageText(iso3, name, "", template, tuple((k, tuple(v)) for k, v in slots.items()))


EXTRA_TEXTS: Dict[str, LanguageText] = {t.iso3: t for t in [
    _text("ita", "Italian", "{adv}, {subj} {pred}.",
          adv=["ieri", "stamattina", "di sera", "la domenica", "dopo pranzo", "ogni inverno",
               "vicino al fiume", "al mercato"],
          subj=["mio fratello", "il vecchio maestro", "la nostra vicina", "un giovane medico",
                "il contadino", "sua sorella minore", "l'autista", "mia nonna"],
          pred=["ha comprato il pane fresco", "ha dipinto il cancello del giardino",
                "ha guardato le barche sul lago", "ha cucinato il riso con le verdure",
                "ha letto una lunga lettera", "ha trovato un piccolo gatto nero",
                "ha camminato piano fino alla stazione", "ha cantato una vecchia canzone",
                "ha portato l'acqua sulla collina", "ha aperto la porta di legno"]),
    _text("tur", "Turkish", "{adv} {subj} {pred}.",
          adv=["dün", "bu sabah", "akşamleyin", "pazar günü", "öğle yemeğinden sonra", "her kış",
               "nehrin yanında", "pazarda"],
          subj=["kardeşim", "yaşlı öğretmen", "komşumuz", "genç bir doktor", "çiftçi",
                "küçük kız kardeşi", "şoför", "büyükannem"],
          pred=["taze ekmek aldı", "bahçe çitini boyadı", "göldeki tekneleri izledi",
                "sebzeli pilav pişirdi", "uzun bir mektup okudu", "küçük siyah bir kedi buldu",
                "istasyona yavaşça yürüdü", "eski bir şarkı söyledi", "tepeye su taşıdı",
                "tahta kapıyı açtı"]),
    _text("ind", "Indonesian", "{adv}, {subj} {pred}.",
          adv=["kemarin", "tadi pagi", "pada malam hari", "pada hari Minggu", "setelah makan siang",
               "setiap musim hujan", "dekat sungai", "di pasar"],
          subj=["kakak saya", "guru tua itu", "tetangga kami", "seorang dokter muda", "petani itu",
                "adik perempuannya", "sopir itu", "nenek saya"],
          pred=["membeli roti segar", "mengecat pagar kebun", "melihat perahu di danau",
                "memasak nasi dengan sayur", "membaca surat yang panjang",
                "menemukan seekor kucing hitam kecil", "berjalan pelan ke stasiun",
                "menyanyikan lagu lama", "membawa air ke atas bukit", "membuka pintu kayu"]),
    _text("fin", "Finnish", "{adv} {subj} {pred}.",
          adv=["eilen", "tänä aamuna", "illalla", "sunnuntaina", "lounaan jälkeen", "joka talvi",
               "joen lähellä", "torilla"],
          subj=["veljeni", "vanha opettaja", "naapurimme", "nuori lääkäri", "maanviljelijä",
                "hänen pikkusiskonsa", "kuljettaja", "isoäitini"],
          pred=["osti tuoretta leipää", "maalasi puutarhan aidan", "katseli veneitä järvellä",
                "keitti riisiä ja vihanneksia", "luki pitkän kirjeen", "löysi pienen mustan kissan",
                "käveli hitaasti asemalle", "lauloi vanhan laulun", "kantoi vettä mäelle",
                "avasi puisen oven"]),
    _text("pol", "Polish", "{adv} {subj} {pred}.",
          adv=["wczoraj", "dziś rano", "wieczorem", "w niedzielę", "po obiedzie", "każdej zimy",
               "nad rzeką", "na targu"],
          subj=["mój brat", "stary nauczyciel", "nasz sąsiad", "młody lekarz", "rolnik",
                "mój dziadek", "kierowca", "mój przyjaciel"],
          pred=["kupił świeży chleb", "pomalował płot w ogrodzie", "oglądał łodzie na jeziorze",
                "ugotował ryż z warzywami", "przeczytał długi list", "znalazł małego czarnego kota",
                "szedł powoli na dworzec", "zaśpiewał starą piosenkę", "niósł wodę na górę",
                "otworzył drewniane drzwi"]),
    _text("nld", "Dutch", "{adv} heeft {subj} {pred}.",
          adv=["gisteren", "vanochtend", "'s avonds", "op zondag", "na de lunch", "elke winter",
               "bij de rivier", "op de markt"],
          subj=["mijn broer", "de oude leraar", "onze buurman", "een jonge dokter", "de boer",
                "haar kleine zus", "de chauffeur", "mijn oma"],
          pred=["vers brood gekocht", "het tuinhek geverfd", "naar de boten op het meer gekeken",
                "rijst met groenten gekookt", "een lange brief gelezen",
                "een kleine zwarte kat gevonden", "een oud lied gezongen",
                "water naar de heuvel gedragen", "de houten deur geopend",
                "een kort verhaal geschreven"]),
    _text("kor", "Korean", "{adv} {subj} {pred}.",
          adv=["어제", "오늘 아침에", "저녁에", "일요일에", "점심 후에", "매년 겨울에", "강 근처에서",
               "시장에서"],
          subj=["제 형은", "나이 많은 선생님은", "우리 이웃은", "젊은 의사는", "농부는",
                "그녀의 여동생은", "운전기사는", "우리 할머니는"],
          pred=["신선한 빵을 샀습니다", "정원 울타리를 칠했습니다", "호수의 배를 보았습니다",
                "야채와 밥을 요리했습니다", "긴 편지를 읽었습니다", "작은 검은 고양이를 찾았습니다",
                "천천히 역까지 걸었습니다", "옛 노래를 불렀습니다", "언덕 위로 물을 날랐습니다",
                "나무 문을 열었습니다"]),
]}

# espeak-ng voice of each unseen language
VOICES = {"deu": "de", "jpn": "ja", "ara": "ar", "amh": "am", "gug": "gn", "ita": "it",
          "tur": "tr", "ind": "id", "fin": "fi", "pol": "pl", "nld": "nl", "kor": "ko"}
UNSEEN = tuple(VOICES)


def language_text(iso3: str) -> LanguageText:
    from geolid_demo.texts import TEXTS

    return EXTRA_TEXTS[iso3] if iso3 in EXTRA_TEXTS else TEXTS[iso3]


def _sentences(iso3: str, sizes: Dict[str, int], seed: int) -> Dict[str, List[str]]:
    """Disjoint slices of one seeded shuffle of the language's sentence pool."""
    pool = language_text(iso3).sentences()
    if sum(sizes.values()) > len(pool):
        raise ValueError(f"{iso3}: {sum(sizes.values())} sentences asked, {len(pool)} exist")
    random.Random(seed * 1_000_003 + zlib.crc32(iso3.encode())).shuffle(pool)
    out, start = {}, 0
    for split, n in sizes.items():
        out[split], start = pool[start:start + n], start + n
    return out


def _params(seed: int, utt: str, variants: Sequence[str]) -> Tuple[str, int, int, int]:
    rng = random.Random(f"{seed}/{utt}")
    return (rng.choice(variants), rng.randint(*RATE_RANGE), rng.randint(*PITCH_RANGE),
            rng.randint(*PITCH_SPREAD_RANGE))


def _synth_all(out_dir: Path, plans) -> List[Tuple[str, str, str]]:
    from geolid.audio import write_pcm16
    from geolid_demo.espeak import synthesize

    rows = []
    for utt, lang, text, voice, rate, pitch, spread in plans:
        path = out_dir / lang / f"{utt}.wav"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            audio = synthesize(text, voice, rate=rate, pitch=pitch, pitch_range=spread)
            write_pcm16(path, audio, 16000)
        rows.append((utt, str(path), lang))
    return rows


def unseen_corpus(work, languages: Sequence[str] = UNSEEN, n_enrol: int = 24, n_test: int = 40,
                  seed: int = 7) -> Dict[str, List[Tuple[str, str, str]]]:
    """``{"enrol": [(utt, wav path, iso3)], "test": [...]}``; wavs reused when present."""
    work = Path(work)
    out: Dict[str, list] = {"enrol": [], "test": []}
    for lang in languages:
        sent = _sentences(lang, {"enrol": n_enrol, "test": n_test}, seed)
        for split, texts in sent.items():
            plans = []
            for i, text in enumerate(texts):
                utt = f"{lang}_{split}_{i:04d}"
                variant, rate, pitch, spread = _params(seed, utt, SPEAKER_VARIANTS)
                voice = VOICES[lang] + (f"+{variant}" if variant else "")
                plans.append((utt, lang, text, voice, rate, pitch, spread))
            out[split] += _synth_all(work / "wav" / split, plans)
    return out


def known_new_voices(work, n: int = 10, seed: int = 0) -> List[Tuple[str, str, str]]:
    """The demo's 12 languages, ``n`` clips each, unseen speaker variants and sentences."""
    from geolid_demo.corpus import DEMO_LANGUAGES, VOICE_PLANS
    from geolid_demo.texts import split_sentences

    rows = []
    for lang in DEMO_LANGUAGES:
        vp = VOICE_PLANS[lang]
        # the demo corpus's own slices (seed 0: 60/10/20/20), then ours
        sizes = {"train": 60, "dev": 10, "test": 20, "test_accent": 20 if vp.accent_voices else 0,
                 "newvoice": n}
        texts = split_sentences(lang, sizes, seed=seed)["newvoice"]
        plans = []
        for i, text in enumerate(texts):
            utt = f"{lang}_newvoice_{i:04d}"
            variant, rate, pitch, spread = _params(seed, utt, NEW_SPEAKER_VARIANTS)
            plans.append((utt, lang, text, f"{vp.train_voice}+{variant}", rate, pitch, spread))
        rows += _synth_all(Path(work) / "wav" / "newvoice", plans)
    return rows
