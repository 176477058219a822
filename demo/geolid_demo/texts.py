"""Sentences to synthesise, per language, for the synthetic demo corpus.

Source: no text corpus can be downloaded here, so each language has small
hand-written word lists (written for this project: time/place openers, subjects,
predicates) and a template that orders them the way the language does (SVO,
SOV with Hindi ``ne``, VSO for Maori and Nahuatl, German verb-second). Every combination of
the slots is one sentence, giving hundreds of distinct sentences per language.
The sentences are simple and not always idiomatic; what matters for language ID
is that the words, and so the sounds espeak-ng makes from them, are typical of
the language. Scripts are the native ones espeak-ng reads (Devanagari, Ethiopic,
Arabic, Cyrillic, Hanzi, kana), so its own letter-to-sound rules apply.

Train, dev and test sentences are disjoint: one seeded shuffle of a language's
sentence pool is cut into consecutive, non-overlapping slices.
"""
from __future__ import annotations

import itertools
import random
import zlib
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple


@dataclass(frozen=True)
class LanguageText:
    """Word lists and sentence template of one language (labelled by ISO 639-3)."""

    iso3: str
    name: str
    continent: str
    template: str  # str.format template over the slot names
    slots: Tuple[Tuple[str, Tuple[str, ...]], ...]

    def sentences(self) -> List[str]:
        """All sentences in a fixed order (Cartesian product of the slots)."""
        names = [name for name, _ in self.slots]
        out = []
        for values in itertools.product(*(words for _, words in self.slots)):
            text = self.template.format(**dict(zip(names, values)))
            out.append(text[:1].upper() + text[1:])
        return out


def _lang(iso3: str, name: str, continent: str, template: str, **slots: Sequence[str]) -> LanguageText:
    return LanguageText(iso3, name, continent, template,
                        tuple((k, tuple(v)) for k, v in slots.items()))


_TEXTS = [
    _lang("eng", "English", "Europe", "{adv}, {subj} {pred}.",
          adv=["yesterday", "this morning", "in the evening", "on Sunday", "after lunch",
               "every winter", "near the river", "at the market"],
          subj=["my brother", "the old teacher", "our neighbour", "a young doctor", "the farmer",
                "her little sister", "the driver", "my grandmother", "a friend of mine", "the baker"],
          pred=["bought fresh bread", "painted the garden fence", "watched the boats on the lake",
                "cooked rice with vegetables", "read a long letter", "found a small black cat",
                "walked slowly to the station", "sang an old song", "carried water up the hill",
                "opened the wooden door", "wrote a short story", "fixed the broken bicycle"]),
    _lang("fra", "French", "Europe", "{adv}, {subj} {pred}.",
          adv=["hier", "ce matin", "le soir", "dimanche", "après le déjeuner", "chaque hiver",
               "près de la rivière", "au marché"],
          subj=["mon frère", "le vieux professeur", "notre voisin", "un jeune médecin", "le fermier",
                "sa petite sœur", "le chauffeur", "ma grand-mère", "mon ami", "la boulangère"],
          pred=["a acheté du pain frais", "a peint la barrière du jardin",
                "a regardé les bateaux sur le lac", "a cuisiné du riz avec des légumes",
                "a lu une longue lettre", "a trouvé un petit chat noir",
                "a marché lentement jusqu'à la gare", "a chanté une vieille chanson",
                "a porté de l'eau en haut de la colline", "a ouvert la porte en bois",
                "a écrit une courte histoire", "a réparé le vélo cassé"]),
    _lang("deu", "German", "Europe", "{adv} hat {subj} {pred}.",
          adv=["gestern", "heute Morgen", "am Abend", "am Sonntag", "nach dem Mittagessen",
               "jeden Winter", "am Fluss", "auf dem Markt"],
          subj=["mein Bruder", "der alte Lehrer", "unser Nachbar", "eine junge Ärztin", "der Bauer",
                "seine kleine Schwester", "der Fahrer", "meine Großmutter", "mein Freund", "die Bäckerin"],
          pred=["frisches Brot gekauft", "den Gartenzaun gestrichen", "die Boote auf dem See beobachtet",
                "Reis mit Gemüse gekocht", "einen langen Brief gelesen",
                "eine kleine schwarze Katze gefunden", "ein altes Lied gesungen",
                "Wasser auf den Hügel getragen", "die Holztür geöffnet",
                "eine kurze Geschichte geschrieben", "das kaputte Fahrrad repariert",
                "viele grüne Äpfel gegessen"]),
    _lang("spa", "Spanish", "Europe", "{adv}, {subj} {pred}.",
          adv=["ayer", "esta mañana", "por la tarde", "el domingo", "después del almuerzo",
               "cada invierno", "cerca del río", "en el mercado"],
          subj=["mi hermano", "el viejo maestro", "nuestro vecino", "una médica joven", "el campesino",
                "su hermana pequeña", "el conductor", "mi abuela", "mi amigo", "la panadera"],
          pred=["compró pan fresco", "pintó la cerca del jardín", "miró los barcos en el lago",
                "cocinó arroz con verduras", "leyó una carta larga", "encontró un gato negro",
                "caminó despacio hasta la estación", "cantó una canción antigua",
                "llevó agua a la colina", "abrió la puerta de madera", "escribió un cuento corto",
                "arregló la bicicleta rota"]),
    _lang("por", "Portuguese", "Europe", "{adv}, {subj} {pred}.",
          adv=["ontem", "esta manhã", "à noite", "no domingo", "depois do almoço",
               "todos os invernos", "perto do rio", "no mercado"],
          subj=["o meu irmão", "o velho professor", "o nosso vizinho", "uma médica jovem",
                "o agricultor", "a sua irmã mais nova", "o motorista", "a minha avó", "o meu amigo",
                "a padeira"],
          pred=["comprou pão fresco", "pintou a cerca do jardim", "olhou os barcos no lago",
                "cozinhou arroz com legumes", "leu uma carta comprida", "encontrou um gato preto",
                "caminhou devagar até à estação", "cantou uma canção antiga",
                "levou água para o morro", "abriu a porta de madeira",
                "escreveu uma história curta", "consertou a bicicleta partida"]),
    _lang("rus", "Russian", "Europe", "{adv} {subj} {pred}.",
          adv=["вчера", "сегодня утром", "вечером", "в воскресенье", "после обеда",
               "каждую зиму", "у реки", "на рынке"],
          subj=["мой брат", "старый учитель", "наш сосед", "молодой врач", "фермер", "водитель",
                "мой дедушка", "мой друг", "почтальон", "повар"],
          pred=["купил свежий хлеб", "покрасил забор в саду", "смотрел на лодки на озере",
                "приготовил рис с овощами", "прочитал длинное письмо",
                "нашёл маленькую чёрную кошку", "медленно шёл на вокзал", "спел старую песню",
                "принёс воду на холм", "открыл деревянную дверь", "написал короткий рассказ",
                "починил сломанный велосипед"]),
    _lang("cmn", "Mandarin Chinese", "Asia", "{adv}，{subj}{pred}。",
          adv=["昨天", "今天早上", "晚上", "星期天", "吃完午饭以后", "每年冬天", "在河边", "在市场上"],
          subj=["我哥哥", "老师", "我们的邻居", "一位年轻的医生", "那个农民", "她的妹妹", "司机",
                "我奶奶", "我的朋友", "孩子们"],
          pred=["买了新鲜的面包", "把花园的篱笆刷了", "看了湖上的小船", "做了米饭和蔬菜",
                "读了一封很长的信", "找到了一只小黑猫", "慢慢地走到车站", "唱了一首老歌",
                "把水提到山上", "打开了木门", "写了一个短故事", "修好了坏的自行车"]),
    _lang("hin", "Hindi", "Asia", "{adv} {subj} {pred}।",
          adv=["कल", "आज सुबह", "शाम को", "रविवार को", "दोपहर के खाने के बाद", "हर सर्दी में",
               "नदी के पास", "बाज़ार में"],
          subj=["मेरे भाई", "बूढ़े अध्यापक", "हमारे पड़ोसी", "एक युवा डॉक्टर", "किसान",
                "उसकी छोटी बहन", "ड्राइवर", "मेरी दादी", "मेरे दोस्त", "बच्चों"],
          pred=["ने ताज़ी रोटी खरीदी", "ने बगीचे की बाड़ रंगी", "ने झील पर नावें देखीं",
                "ने सब्ज़ियों के साथ चावल पकाए", "ने एक लंबा पत्र पढ़ा",
                "ने एक छोटी काली बिल्ली देखी", "ने एक पुराना गीत गाया",
                "ने पहाड़ी पर पानी पहुँचाया", "ने लकड़ी का दरवाज़ा खोला",
                "ने एक छोटी कहानी लिखी", "ने टूटी साइकिल ठीक की", "ने बहुत सारे आम खाए"]),
    # Kana only: espeak-ng's Japanese voice reads kana, not kanji.
    _lang("jpn", "Japanese", "Asia", "{adv} {subj} {pred}。",
          adv=["きのう", "けさ", "よるに", "にちようびに", "ひるごはんの あとで", "まいとし ふゆに",
               "かわの ちかくで", "いちばで"],
          subj=["わたしの あには", "ふるい せんせいは", "となりの ひとは", "わかい いしゃは",
                "のうかの ひとは", "かのじょの いもうとは", "うんてんしゅは", "わたしの そぼは",
                "ともだちは", "こどもたちは"],
          pred=["あたらしい パンを かいました", "にわの さくを ぬりました",
                "みずうみの ふねを みました", "やさいと ごはんを つくりました",
                "ながい てがみを よみました", "ちいさい くろい ねこを みつけました",
                "ゆっくり えきまで あるきました", "ふるい うたを うたいました",
                "やまの うえまで みずを はこびました", "きの ドアを あけました",
                "みじかい はなしを かきました", "こわれた じてんしゃを なおしました"]),
    _lang("vie", "Vietnamese", "Asia", "{adv}, {subj} {pred}.",
          adv=["hôm qua", "sáng nay", "buổi tối", "chủ nhật", "sau bữa trưa", "mỗi mùa đông",
               "gần bờ sông", "ở chợ"],
          subj=["anh trai tôi", "thầy giáo già", "hàng xóm của chúng tôi", "một bác sĩ trẻ",
                "người nông dân", "em gái của cô ấy", "bác tài xế", "bà tôi", "bạn tôi", "bọn trẻ"],
          pred=["đã mua bánh mì tươi", "đã sơn hàng rào trong vườn", "đã ngắm thuyền trên hồ",
                "đã nấu cơm với rau", "đã đọc một lá thư dài", "đã tìm thấy một con mèo đen nhỏ",
                "đã đi bộ chậm rãi đến nhà ga", "đã hát một bài hát cũ", "đã mang nước lên đồi",
                "đã mở cánh cửa gỗ", "đã viết một câu chuyện ngắn", "đã sửa chiếc xe đạp hỏng"]),
    _lang("ara", "Arabic (Standard)", "Asia", "{adv}، {subj} {pred}.",
          adv=["أمس", "هذا الصباح", "في المساء", "يوم الأحد", "بعد الغداء", "في كل شتاء",
               "قرب النهر", "في السوق"],
          subj=["أخي", "المعلم العجوز", "جارنا", "طبيب شاب", "الفلاح", "السائق", "جدي", "صديقي",
                "الطباخ", "ساعي البريد"],
          pred=["اشترى خبزا طازجا", "دهن سور الحديقة", "شاهد القوارب في البحيرة",
                "طبخ الأرز مع الخضار", "قرأ رسالة طويلة", "وجد قطة سوداء صغيرة",
                "مشى ببطء إلى المحطة", "غنى أغنية قديمة", "حمل الماء إلى التل",
                "فتح الباب الخشبي", "كتب قصة قصيرة", "أصلح الدراجة المكسورة"]),
    _lang("swa", "Swahili", "Africa", "{adv}, {subj} {pred}.",
          adv=["jana", "leo asubuhi", "jioni", "siku ya Jumapili", "baada ya chakula cha mchana",
               "kila mwaka", "karibu na mto", "sokoni"],
          subj=["kaka yangu", "mwalimu mzee", "jirani yetu", "daktari kijana", "mkulima",
                "dada yake mdogo", "dereva", "bibi yangu", "rafiki yangu", "mpishi"],
          pred=["alinunua mkate mpya", "alipaka rangi uzio wa bustani", "aliangalia mashua ziwani",
                "alipika wali na mboga", "alisoma barua ndefu", "alimwona paka mdogo mweusi",
                "alitembea polepole hadi kituoni", "aliimba wimbo wa zamani",
                "alibeba maji mpaka kilimani", "alifungua mlango wa mbao",
                "aliandika hadithi fupi", "alitengeneza baiskeli iliyovunjika"]),
    _lang("amh", "Amharic", "Africa", "{adv} {subj} {pred}።",
          adv=["ትናንት", "ዛሬ ጠዋት", "ማታ", "እሁድ", "ከምሳ በኋላ", "በየክረምቱ", "በወንዙ አጠገብ", "በገበያ"],
          subj=["ወንድሜ", "አሮጌው መምህር", "ጎረቤታችን", "ወጣቱ ሐኪም", "ገበሬው", "ሹፌሩ", "አያቴ",
                "ጓደኛዬ", "ምግብ አብሳዩ", "ልጁ"],
          pred=["ትኩስ ዳቦ ገዛ", "የአትክልቱን አጥር ቀባ", "በሐይቁ ላይ ጀልባዎችን አየ",
                "ሩዝ ከአትክልት ጋር አበሰለ", "ረጅም ደብዳቤ አነበበ", "ትንሽ ጥቁር ድመት አገኘ",
                "ቀስ ብሎ ወደ ጣቢያው ሄደ", "የድሮ ዘፈን ዘፈነ", "ውሃ ወደ ኮረብታው ተሸከመ",
                "የእንጨቱን በር ከፈተ", "አጭር ታሪክ ጻፈ", "የተሰበረውን ብስክሌት ጠገነ"]),
    _lang("que", "Quechua", "South America", "{adv} {subj} {pred}.",
          adv=["qayna punchaw", "kunan paqarin", "tutapi", "intichaw punchawpi", "mikhuyta tukuspa",
               "sapa chiraw", "mayu patapi", "qhatupi"],
          subj=["wawqiy", "machu yachachiq", "wasi masiyku", "wayna hampiq", "chakra runa", "panan",
                "carro purichiq", "hatun mamay", "masiy", "warmicha"],
          pred=["musuq t'antata rantirqan", "huerta kanchata llimp'irqan",
                "qochapi wamp'ukunata qhawarqan", "arrosta yuyuwan wayk'urqan",
                "hatun qillqata ñawirqan", "huch'uy yana michita tarirqan",
                "estacionkama allillamanta purirqan", "machu takiyta takirqan",
                "yakuta urquman apakurqan", "k'ullu punkuta kicharqan",
                "huch'uy willakuyta qillqarqan", "p'akisqa bicicletata allicharqan"]),
    _lang("gug", "Guarani (Paraguayan)", "South America", "{adv}, {subj} {pred}.",
          adv=["kuehe", "ko pyhareve", "ka'arupytũme", "arateĩme", "karu rire", "ro'yrupi",
               "ysyry rembe'ýpe", "ñemuhápe"],
          subj=["che ryke'y", "mbo'ehára tuja", "ore rapicha", "pohanohára ipyahúva", "chokokue",
                "ikypy'y", "che jarýi", "che angirũ", "mitãnguéra", "kuñataĩ"],
          pred=["ojogua mbujape pyahu", "ombopinta korapy rokẽ", "ohecha kanoakuéra ypa ári",
                "ombojy arro ha ka'avo", "olee peteĩ kuatiañe'ẽ ipukúva",
                "otopa peteĩ mbarakaja hũ michĩ", "oguata mbeguekatu estación peve",
                "opurahéi peteĩ purahéi tuja", "ogueraha y yvyty ári", "oipe'a okẽ yvyrágui",
                "ohai peteĩ mombe'u mbyky", "omyatyrõ bicicleta oñembyaíva"]),
    # Classical Nahuatl (central Mexico): North America's entry. Verb-initial
    # clauses; the verbs carry their subject and object prefixes (ni-, ti-, qui-).
    _lang("nci", "Classical Nahuatl", "North America", "{adv}, {verb} {obj} {subj}.",
          adv=["yalhua", "axcan in ihcuac tlaca", "teotlac", "ipan tonatiuh", "zatepan tlacualli",
               "cecexiuhtica", "atoyac iteuhyo", "tianquizco"],
          verb=["oquicouh", "oquitlapalli", "oquittac", "oquicuic", "oquipouh", "oquinex",
                "oquihuicac", "oquitlapo", "oquicuilo", "oquiyecti", "oquipaca", "oquitemo"],
          obj=["in yancuic tlaxcalli", "in xochicalli", "in acalli", "in etl ihuan yetl",
               "in huehca amatl", "ce tliltic mizton", "in atl tepeticpac", "in cuauhquiahuatl",
               "ce tepiton tlahtolli", "in tepoztli"],
          subj=["noteachcauh", "in huehue temachtiani", "tochanecauh", "in ticitl telpochtli",
                "in millacatl", "iicniuh", "notlahtzin", "nocihtzin", "nocniuh", "in pipiltin"]),
    # Maori is verb-initial: past marker + verb, subject, then the object.
    _lang("mri", "Maori", "Oceania", "{adv}, i {verb} {subj} {obj}.",
          adv=["inanahi", "i te ata nei", "i te ahiahi", "i te Rātapu", "i muri i te tina",
               "i ia takurua", "i te taha o te awa", "i te mākete"],
          verb=["hoko", "peita", "mātakitaki", "tunu", "pānui", "kite", "kawe", "huaki", "tuhi",
                "whakatika", "horoi", "kimi"],
          subj=["tōku tuakana", "te kaiako koroheke", "tō mātou hoa noho tata", "te tākuta rangatahi",
                "te kaiahuwhenua", "tana teina", "te kaitaraiwa", "taku kuia", "taku hoa",
                "ngā tamariki"],
          obj=["i te parāoa hou", "i te taiapa o te māra", "i ngā poti i te roto",
               "i te raihi me ngā huawhenua", "i te reta roa", "i tētahi ngeru pango iti",
               "i te wai ki runga i te puke", "i te kūaha rākau", "i tētahi kōrero poto",
               "i te pahikara pakaru", "i ngā matapihi"]),
]

TEXTS: Dict[str, LanguageText] = {t.iso3: t for t in _TEXTS}


def text_languages() -> List[str]:
    """ISO 639-3 codes that have sentence lists, in catalogue order."""
    return list(TEXTS)


def get_text(iso3: str) -> LanguageText:
    """Word lists of ``iso3``; KeyError lists the languages that exist."""
    if iso3 not in TEXTS:
        raise KeyError(f"no sentence lists for language '{iso3}'; "
                       f"available: {', '.join(TEXTS)}")
    return TEXTS[iso3]


def split_sentences(iso3: str, sizes: Mapping[str, int], seed: int = 0) -> Dict[str, List[str]]:
    """Disjoint sentence lists per split, e.g. ``{'train': 40, 'test': 15}`` -> sentences.

    Splits are cut in the order given from one shuffle of the pool; the shuffle
    depends on ``seed`` and the language (a stable CRC, not Python's salted hash).
    """
    pool = get_text(iso3).sentences()
    need = sum(sizes.values())
    if need > len(pool):
        raise ValueError(f"{iso3}: {need} sentences requested but only {len(pool)} exist")
    random.Random(seed * 1_000_003 + zlib.crc32(iso3.encode())).shuffle(pool)
    out: Dict[str, List[str]] = {}
    start = 0
    for split, n in sizes.items():
        out[split] = pool[start:start + n]
        start += n
    return out
