#!/usr/bin/python3
"""Text-policy oracle for tests/engine/core/test_text.cpp and tests/engine/tokenizer/test_text_policy.cpp.

Independent references for the engine's core/text.h and the tokenizers' decode:
  repair       byte strings (fixed edge cases + seeded random ones) and Python's
               bytes.decode('utf-8', 'replace') (maximal subparts, as Hugging Face tokenizers' byte-level
               decode, Rust's from_utf8_lossy, does)
  per_byte     byte strings spelled as sentencepiece byte pieces (<0xNN>) and sentencepiece's decode of
               them (its own replacement rule: one U+FFFD per bad byte)
  graphemes    every line of tests/data/multilingual.jsonl with its extended grapheme cluster
               boundaries in UTF-8 byte offsets from the `regex` module's \\X (its own Unicode 15.0
               tables), plus rule GB9c of Unicode 15.1 (no break inside an Indic conjunct: consonant,
               virama, consonant in Devanagari, Bengali, Gujarati, Oriya, Telugu, Malayalam), which
               ICU 72 already applies and regex 2022.10 predates
  models       per tokenizer.model: for every corpus line the ids and decode of sp.encode, and seeded
               random id sequences (byte pieces that end inside characters, control ids, <unk>,
               prefixes of real encodings cut anywhere) with sp.decode
Imports sentencepiece and regex only (never torch: BUILD-RECIPE §4 pitfall 1).

usage: /usr/bin/python3 text_oracle.py --shared DIR --corpus tests/data/multilingual.jsonl --out FILE.json
"""
import argparse
import json
import os
import random

import unicodedata

import regex
import sentencepiece as spm

MODELS = ['models/demo-llama-7m/tokenizer.model', 'models/llama2_tokenizer/tokenizer.model']

FIXED_BYTES = [
    b'', b'abc', b'\xe2\x80', b'\xe2\x80\x0a', b'\xe2\x80\xa6', b'\xc3', b'\xc3\xa9', b'\xc0\xaf', b'\xc1\xbf',
    b'\xe0\x80\x80', b'\xe0\xa0\x80', b'\xed\xa0\x80', b'\xed\x9f\xbf', b'\xef\xbf\xbd', b'\xf0\x80\x80\x80',
    b'\xf0\x90\x80\x80', b'\xf4\x8f\xbf\xbf', b'\xf4\x90\x80\x80', b'\xf5\x80\x80\x80', b'\xff\xfe', b'\x80\x80',
    b'\xf0\x9f\x98', b'\xf0\x9f\x98\x80', b'\xf0\x9f\x98a', b'a\xf1\x80\x80', b'\xe5\x8c\x97\xe4\xba', b'\xdf',
    b'\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41', b'\x00\x7f\x80\xbf\xc0\xc1\xc2', b'\xf8\x88\x80\x80\x80',
]


def random_bytes(rng, n):
    """Byte strings biased towards UTF-8 structure: lead bytes, continuations, cut characters."""
    pool = [b'a', b' ', b'\n', b'\xc3\xa9', b'\xe5\x8c\x97', b'\xf0\x9f\x98\x80', b'\xe2\x80', b'\xf0\x9f',
            b'\xc3', b'\x80', b'\xbf', b'\xed\xa0', b'\xe0\x9f', b'\xf4\x90', b'\xc0', b'\xff', b'\xf5']
    out = []
    for _ in range(n):
        k = rng.randint(0, 10)
        s = b''.join(rng.choice(pool) if rng.random() < 0.7 else bytes([rng.randrange(256)]) for _ in range(k))
        out.append(s)
    return out


# Unicode 15.1 GB9c: \p{InCB=Consonant} [\p{InCB=Extend}\p{InCB=Linker}]* \p{InCB=Linker}
# [\p{InCB=Extend}\p{InCB=Linker}]* x \p{InCB=Consonant}, with InCB from the character names here
INCB_SCRIPTS = ('DEVANAGARI', 'BENGALI', 'GUJARATI', 'ORIYA', 'TELUGU', 'MALAYALAM')
INCB_LINKERS = {0x094D, 0x09CD, 0x0ACD, 0x0B4D, 0x0C4D, 0x0D4D}
INDEPENDENT_VOWELS = {'A', 'AA', 'I', 'II', 'U', 'UU', 'VOCALIC R', 'VOCALIC RR', 'VOCALIC L', 'VOCALIC LL',
                      'CANDRA E', 'SHORT E', 'E', 'AI', 'CANDRA O', 'SHORT O', 'O', 'AU', 'OE', 'OOE', 'AW', 'UE',
                      'UUE', 'CANDRA A'}


def incb_consonant(c):
    name = unicodedata.name(c, '')
    for script in INCB_SCRIPTS:
        if name.startswith(script + ' LETTER '):
            return name[len(script) + 8:] not in INDEPENDENT_VOWELS
    return False


def incb_extend_or_linker(c):
    return c == '\u200d' or unicodedata.category(c) in ('Mn', 'Me') or ord(c) in INCB_LINKERS


def ends_in_conjunct_linker(g):
    i, linker = len(g) - 1, False
    while i >= 0 and incb_extend_or_linker(g[i]):
        linker |= ord(g[i]) in INCB_LINKERS
        i -= 1
    return linker and i >= 0 and incb_consonant(g[i])


def grapheme_breaks(text):
    clusters = []
    for g in regex.findall(r'\X', text):
        if clusters and incb_consonant(g[0]) and ends_in_conjunct_linker(clusters[-1]):
            clusters[-1] += g  # GB9c
        else:
            clusters.append(g)
    b = [0]
    for g in clusters:
        b.append(b[-1] + len(g.encode('utf-8')))
    return b


def model_cases(sp, corpus, rng):
    byte_id = {}
    for i in range(sp.get_piece_size()):
        if sp.is_byte(i):
            byte_id[int(sp.id_to_piece(i)[3:5], 16)] = i
    encodes = []
    for t in corpus:
        ids = sp.encode(t)
        encodes.append({'ids': ids, 'decoded': sp.decode(ids)})
    decodes = []
    normal = [i for i in range(sp.get_piece_size())
              if not (sp.is_byte(i) or sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i))]
    for n in range(600):
        kind = n % 3
        if kind == 0:   # random mixture
            ids = []
            for _ in range(rng.randint(1, 12)):
                r = rng.random()
                if r < 0.45:
                    ids.append(byte_id[rng.randrange(256)])
                elif r < 0.85:
                    ids.append(rng.choice(normal))
                elif r < 0.95:
                    ids.append(rng.choice([sp.bos_id(), sp.eos_id()]))
                else:
                    ids.append(sp.unk_id())
        elif kind == 1:  # a real encoding cut anywhere (inside characters when byte-fallback)
            full = encodes[rng.randrange(len(encodes))]['ids']
            a = rng.randrange(len(full) + 1)
            b = rng.randrange(a, len(full) + 1)
            ids = full[a:b]
        else:            # bytes of text, spelled as byte pieces, cut anywhere
            t = corpus[rng.randrange(len(corpus))].encode('utf-8')
            a = rng.randrange(len(t) + 1)
            ids = [byte_id[x] for x in t[a:a + rng.randint(1, 9)]]
        decodes.append({'ids': ids, 'decoded': sp.decode(ids)})
    return {'encodes': encodes, 'decodes': decodes}, byte_id


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shared', required=True)
    ap.add_argument('--corpus', required=True)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    with open(args.corpus, 'rb') as f:
        corpus = [json.loads(line)['text'] for line in f.read().split(b'\n') if line.strip()]
    rng = random.Random(25)
    cases = FIXED_BYTES + random_bytes(rng, 2000)
    result = {
        'corpus_lines': len(corpus),
        'repair': [{'hex': b.hex(), 'text': b.decode('utf-8', 'replace')} for b in cases],
        'graphemes': [{'text': t, 'breaks': grapheme_breaks(t)} for t in corpus],
        'models': {},
    }
    byte_id = None
    for rel in MODELS:
        sp = spm.SentencePieceProcessor(model_file=os.path.join(args.shared, rel))
        result['models'][rel], byte_id_m = model_cases(sp, corpus, rng)
        if byte_id is None:
            byte_id, sp0 = byte_id_m, sp
    # sentencepiece's own replacement rule on pure byte-piece sequences (demo model)
    result['per_byte'] = [{'hex': b.hex(), 'text': sp0.decode([byte_id[x] for x in b])} for b in cases]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(result, f, ensure_ascii=False)
    os.replace(tmp, args.out)
    print('wrote %s: %d corpus lines, %d byte strings, %d models' % (args.out, len(corpus), len(cases), len(MODELS)))


if __name__ == '__main__':
    main()
