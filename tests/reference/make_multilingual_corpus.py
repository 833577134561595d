#!/usr/bin/python3
"""Writes tests/data/multilingual.jsonl: the multilingual text corpus of the text-policy tests.

Every phrase below was composed for this file (no downloads). One JSON object per line,
{"lang": CATEGORY, "text": TEXT}: first every phrase alone, then seeded mixtures of two to four
phrases from different categories, until there are N_LINES lines. Categories: Greek, Chinese
(simplified and traditional), Japanese, Korean, Arabic (with and without harakat), Hebrew (with
niqqud), Devanagari (Hindi, Marathi, Sanskrit conjuncts), Thai, other scripts, emoji (ZWJ
sequences, skin tones, flags, subdivision flags, keycaps), combining marks, full-width forms,
zero-width characters, control characters (NUL included), typographic punctuation, bidi mixes.
Deterministic: the same file on every run. JSON escapes what must be escaped, so a line never
holds a raw newline; U+2028/U+2029 and other controls stay inside the strings.

usage: /usr/bin/python3 tests/reference/make_multilingual_corpus.py [--out tests/data/multilingual.jsonl]
"""
import argparse
import json
import os
import random

N_LINES = 1200

PHRASES = {
    'greek': [
        'Ελληνικά γράμματα',
        'Γειά σου κόσμε!',
        'Η γλώσσα μου έδωσαν ελληνική.',
        'Τὸ φῶς τοῦ ἡλίου λάμπει ἐπὶ τῆς θαλάσσης.',
        'Ἐν ἀρχῇ ἦν ὁ λόγος.',
        'Καλημέρα, τι κάνεις σήμερα;',
        'Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.',
        'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.',
        'Ο αριθμός π ισούται περίπου με 3,14159.',
        'ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ αβγδεζηθικλμνξοπρσςτυφχψω',
        'Μαθηματικά: α² + β² = γ²',
        'Ευχαριστώ πολύ για τη βοήθεια!',
        'Ἀριστοτέλης καὶ Πλάτων ἐν τῇ Ἀκαδημίᾳ.',
        'Ποιος έφαγε όλα τα κουλουράκια;',
        'Το πλοίο φεύγει από τον Πειραιά στις 7:30.',
        'ϐ ϑ ϒ ϕ ϖ ϗ Ϙ ϙ Ϛ ϛ Ϝ ϝ',
    ],
    'chinese': [
        '北京',
        '你好，世界！',
        '我们今天去北京大学参观。',
        '机器学习模型把文本切分成词元。',
        '專家混合模型的路由器會選擇專家。',
        '春眠不觉晓，处处闻啼鸟。',
        '床前明月光，疑是地上霜。',
        '这个句子包含数字 2024 和英文 words。',
        '上海的天气今天很好，适合散步。',
        '繁體中文與简体中文並存。',
        '𠀀𠀁𠀂 是扩展B区的汉字。',
        '人工智能正在改变世界。',
        '请问，去火车站怎么走？',
        '一二三四五六七八九十百千万亿',
        '「引号」和『双引号』以及《书名号》。',
        '龍龘靐齉爩',
    ],
    'japanese': [
        '日本語のテキスト',
        'こんにちは、世界。',
        '東京都の天気は晴れです。',
        'カタカナとひらがなと漢字を混ぜて書きます。',
        '吾輩は猫である。名前はまだ無い。',
        'ｶﾀｶﾅ（半角）とカタカナ（全角）',
        '今日は2024年11月23日です。',
        'ありがとうございました！',
    ],
    'korean': [
        '안녕하세요, 세계!',
        '한국어 문장을 토큰으로 나눕니다.',
        '서울은 대한민국의 수도입니다.',
        '오늘 날씨가 정말 좋네요.',
        '훈민정음 ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ',
        '자모 분리: 한 = ᄒ ᅡ ᆫ',
    ],
    'arabic': [
        'مرحبا بالعالم',
        'اللغة العربية جميلة جداً.',
        'السَّلَامُ عَلَيْكُمْ وَرَحْمَةُ اللهِ',
        'ذهب الطالب إلى المدرسة في الصباح.',
        'الذكاء الاصطناعي يغير العالم.',
        'الرقم ١٢٣٤٥٦٧٨٩٠ بالأرقام العربية الهندية.',
        'كتبت ٣ رسائل و5 تقارير اليوم.',
        'هل تتكلم العربية؟',
        'فارسی: من به مدرسه می‌روم.',
        'اردو: یہ ایک جملہ ہے۔',
        'لا إله إلا الله',
        'ﷺ ﷲ ﻻ ﻼ',
        'بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ',
        'النموذج يختار خبيراً لكل رمز.',
    ],
    'hebrew': [
        'שלום עולם',
        'עברית נכתבת מימין לשמאל.',
        'בְּרֵאשִׁית בָּרָא אֱלֹהִים',
        'הנתב בוחר מומחה לכל אסימון.',
        'תל אביב היא עיר על חוף הים.',
        'יש לי 3 תפוחים ו־5 תפוזים.',
        'מה שלומך היום?',
        'אבגדהוזחטיכלמנסעפצקרשת ךםןףץ',
        'ײַ ױ װ — ייִדיש',
    ],
    'devanagari': [
        'नमस्ते दुनिया',
        'हिन्दी भाषा देवनागरी लिपि में लिखी जाती है।',
        'क्षत्रिय त्रिशूल ज्ञान श्री',
        'मैं आज बाज़ार जा रहा हूँ।',
        'संस्कृतम् जगतः एकतमा अतिप्राचीना भाषा अस्ति।',
        'मराठी: मी शाळेत जातो.',
        'अंक: ०१२३४५६७८९',
        'कृत्रिम बुद्धिमत्ता दुनिया बदल रही है।',
        'द्विवेदी, पृथ्वी, ह्रस्व, स्त्री',
        'ॐ नमः शिवाय',
        'र्‍य और र्य: ZWJ से आधा र',
    ],
    'thai': [
        'สวัสดีชาวโลก',
        'ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ',
        'กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย',
        'น้ำ ผู้ใหญ่ กี่ ก่อน ไม้เอก ไม้โท',
        'เลขไทย: ๑๒๓๔๕๖๗๘๙๐',
        'ปัญญาประดิษฐ์กำลังเปลี่ยนแปลงโลก',
        'ฉันชอบกินข้าวเหนียวมะม่วง',
    ],
    'other_scripts': [
        'Привет, мир! Съешь же ещё этих мягких французских булок.',
        'Українська мова: ґанок, їжак, єнот.',
        'ქართული ენა ძალიან ლამაზია.',
        'Հայերեն այբուբեն',
        'ሰላም ለዓለም',
        'தமிழ் மொழி மிகவும் பழமையானது.',
        'বাংলা ভাষায় লেখা বাক্য।',
        'ខ្ញុំចូលចិត្តភាសាខ្មែរ',
        'བོད་ཡིག་ནི་སྐད་ཡིག་ཞིག་རེད།',
        'ᚠᚢᚦᚨᚱᚲ ᚷᚹᚺᚾ',
        'Ꭰ Ꭱ Ꭲ Ꭳ Ꭴ Ꭵ',
        'Tiếng Việt có nhiều dấu: ắ ằ ẳ ẵ ặ ế ề ể ễ ệ.',
        'Zürich, Ærøskøbing, Łódź, Škoda, İstanbul, Straße',
        'ꦲꦏ꧀ꦱꦫꦗꦮ',
    ],
    'emoji': [
        '😀😃😄😁😆',
        '👩‍👩‍👧‍👦 family',
        '👨‍👩‍👧 👨‍👨‍👦 👩‍👧',
        '👍🏻👍🏼👍🏽👍🏾👍🏿',
        '🧑🏽‍💻 writes code, 👩🏿‍🔬 runs experiments',
        '🇬🇷🇨🇳🇯🇵🇰🇷🇸🇦🇮🇱🇮🇳🇹🇭',
        '🏴󠁧󠁢󠁳󠁣󠁴󠁿 🏴󠁧󠁢󠁷󠁬󠁳󠁿 🏴󠁧󠁢󠁥󠁮󠁧󠁿',
        '1️⃣ 2️⃣ #️⃣ *️⃣',
        '❤️ ❤ ♥️ ☺️ ✌🏽',
        '🏳️‍🌈 🏳️‍⚧️ 🏴‍☠️',
        '👁️‍🗨️ 🧔🏻‍♀️ 🤝🏼',
        '🦙🚀🧬🪐🫠',
        'emoji: 😀🚀🦙 and 👩‍👩‍👧',
        '🧑‍🤝‍🧑 👩🏻‍❤️‍💋‍👨🏿',
        '🐈‍⬛ 🐻‍❄️ 🌶️',
        '©️ ®️ ™️ ‼️',
    ],
    'combining': [
        'café naïve 北京',
        'cafe\u0301 nai\u0308ve (decomposed)',
        'e\u0301\u0302\u0303\u0304 stacked marks',
        'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u036b\u0357\u0364\u0366\u033d\u0367\u0303\u0350\u0305\u0346l\u0357\u0312\u0334\u0323g\u035b\u036a\u0306o',
        '\u0301 a lone combining acute at the start',
        'A\u030a vs \u00c5 vs \u212b',
        'ñ = n\u0303, ü = u\u0308, ç = c\u0327',
        'ǅ ǈ ǋ ǲ digraphs',
        'Việt Nam: Tie\u0302\u0301ng Vie\u0323\u0302t',
        'x\u20d7 + y\u20d7 = z\u20d7 (vectors)',
        '1\u20e3 keycap without the selector',
        'ḁ̥ ṩ ǻ stacked',
    ],
    'fullwidth': [
        'ＡＢＣＤＥＦ ａｂｃｄｅｆ',
        '０１２３４５６７８９',
        'ｆｕｌｌ－ｗｉｄｔｈ　ｔｅｘｔ！',
        '（全角括号）【方括号】〔龟甲〕',
        'ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ',
        '￥１００　￡５０　￠２５',
        '　ideographic　space　',
    ],
    'zero_width': [
        'zero\u200bwidth\u200bspace',
        'non\u200cjoiner and joiner\u200d here',
        'word\u2060joiner',
        'BOM\ufeffinside the text',
        'soft\u00adhyphen\u00adated',
        'mixed: a\u00a0b (non-breaking) and zero\u200bwidth',
        '\u200b\u200b\u200b only zero width at the start',
        'می\u200cخواهم (ZWNJ in Persian)',
        'left\u200eright\u200fmarks',
        'isolate \u2066LTR\u2069 \u2067\u05e9\u05dc\u05d5\u05dd\u2069 \u2068first\u2069',
        'embedding \u202bRTL\u202c and override \u202eReversed\u202c',
        'Mongolian ᠮᠣᠩᠭᠣᠯ\u180e vowel separator',
        'variation\ufe0e selector\ufe0f alone',
    ],
    'control': [
        'tab\tseparated\tvalues',
        'bell\x07 and backspace\x08',
        '\x1b[31mred ANSI\x1b[0m escape',
        'form\x0cfeed and vertical\x0btab',
        'carriage\rreturn inside',
        'NUL\x00byte inside',
        'unit\x1fseparator and record\x1eseparator',
        'DEL\x7f and C1 \x85 next line \x9b CSI',
        'line\u2028separator and paragraph\u2029separator',
        '\x01\x02\x03 start of heading',
    ],
    'typographic': [
        '“Smart quotes” and ‘single ones’',
        '— em dash – en dash - hyphen ‐ ‑ ‒ ―',
        'Ellipsis… and « guillemets » ‹ single ›',
        '„German quotes“ and ‚single‘',
        '• bullet · middle dot ‣ triangle ⁃ hyphen bullet',
        '§ 12 ¶ 3 † dagger ‡ double ‰ per mille ′ ″ ‴',
        '∀x ∃y: x ≤ y ∧ √x ≠ ∞ ∑ ∏ ∫',
        '½ ¼ ¾ ⅓ ⅞ ² ³ ¹ ⁴ ₀ ₁ ₂',
        '℃ ℉ № ℗ ℠ Ω ℮ ⅋',
        '← → ↑ ↓ ⇐ ⇒ ⇔ ↺ ↻',
        '♠ ♣ ♥ ♦ ♪ ♫ ☀ ☁ ☂ ☃',
        'Ⅰ Ⅱ Ⅲ Ⅳ Ⅴ Ⅵ Ⅶ Ⅷ Ⅸ Ⅹ',
        'ﬁ ﬂ ﬀ ﬃ ﬄ ligatures',
        '𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝔉𝔯𝔞𝔨𝔱𝔲𝔯 𝕯𝖔𝖚𝖇𝖑𝖊',
    ],
    'bidi_mix': [
        'English then עברית then English',
        'The word سلام means peace.',
        'מחיר: 42.50 ₪ (כולל מע״מ)',
        'سعر: 42.50 $ للكيلو',
        'C++ و Python في نفس السطر',
        'Numbers 123 inside שלום 456 text',
        'email: user@example.com ← כתובת',
        'Arabic comma، Hebrew maqaf־ and a dot.',
    ],
    'ascii': [
        'Hello world',
        'The quick brown fox jumps over the lazy dog.',
        'def f(x):\n    return x * 2',
        'Two plus two is four.',
        '<s> </s> <unk> <0x41> are just text here',
        '   leading and trailing spaces   ',
        'x' * 120,
    ],
}


def lines():
    out = []
    for lang, phrases in PHRASES.items():
        for p in phrases:
            out.append({'lang': lang, 'text': p})
    rng = random.Random(20251204)
    cats = sorted(PHRASES)
    seps = [' ', ' ', ' ', ', ', ' — ', '\n', ' | ', '', '\t']
    while len(out) < N_LINES:
        k = rng.randint(2, 4)
        chosen = rng.sample(cats, k)
        parts = [rng.choice(PHRASES[c]) for c in chosen]
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(seps) + p
        out.append({'lang': 'mixed:' + '+'.join(chosen), 'text': text})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(here, '..', 'data', 'multilingual.jsonl'))
    args = ap.parse_args()
    rows = lines()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w', encoding='utf-8', newline='\n') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
    print('wrote %s: %d lines, %d phrases in %d categories' %
          (args.out, len(rows), sum(len(v) for v in PHRASES.values()), len(PHRASES)))


if __name__ == '__main__':
    main()
