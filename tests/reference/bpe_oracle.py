#!/usr/bin/python3
"""Byte-level BPE oracle for tests/engine/tokenizer/test_bpe_tokenizer.cpp (Qwen2/Qwen3 vocabulary).

Two independent peers of engine/tokenizer/bpe_tokenizer.cpp, chosen with --impl:
  python  this file's own implementation: GPT-2's algorithm (openai/gpt-2 encoder.py: bytes_to_unicode,
          bpe() by lowest merge rank), the pre-tokenizer regex with the `regex` module, NFC with
          unicodedata, added tokens split out of the raw text first (leftmost, longest), decode with
          bytes.decode('utf-8', 'replace') (one U+FFFD per maximal subpart), special tokens skipped.
          Needs only Debian's /usr/bin/python3 + python3-regex.
  hf      Hugging Face `tokenizers` (PyPI, pinned in tests.cmake), its Tokenizer built from vocab.json +
          merges.txt with the README's normalizer / pre-tokenizer / decoder; also saves that Tokenizer as
          tokenizer.json (--save-json) so the engine's tokenizer.json reader is checked on the real format;
          --variant gpt2 builds it with GPT-2's pre-tokenizer instead (ByteLevel's regex, no NFC).
Both encode the same texts: fixed edge cases, added tokens inside text, the first --per-domain records of
every shared domain's test.jsonl.gz (python code included) and every line of tests/data/multilingual.jsonl,
and decode a list of id sequences that cut characters apart. Writes
    {"impl", "tokenizer", "cases": [{"text", "ids", "decoded"}], "decode_cases": [{"ids", "decoded"}]}

usage: /usr/bin/python3 bpe_oracle.py --impl python --shared /work/shared \\
           --multilingual tests/data/multilingual.jsonl --out build/oracle/bpe_oracle.json
With --corpus-only it writes {"texts": [...]} instead (bench/bench_bpe.cpp encodes the same texts); with
--bench it encodes the corpus once to warm the caches, then times one more pass and prints
{"impl", "seconds", "tokens", "texts"} (single thread) instead of writing --out.
"""
import argparse, gzip, json, os, random, sys, unicodedata

QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
                 r"""\s*[\r\n]+|\s+(?!\S)|\s+""")

FIXED = [
    '',
    'Hello world',
    'Hello world!',
    ' leading space',
    'trailing space ',
    'multiple    spaces   inside',
    '   ',
    ' ',
    'line one\nline two\n\nline four\n',
    '\n', '\n\n\n', '\r\n', ' \r\n  \n\t\n',
    'tab\tseparated\tvalues\t',
    'Numbers: 0 1 12 123 3.14159 1,000,000 2024-11-23 ٣٤٥ ⅷ ²',
    'def f(x):\n    if x > 0:\n        return x * 2\n    return -x\n',
    'for (int i = 0; i < n; ++i) { sum += a[i]; }  // done\r\n',
    "I'm sure you'll see they've said it's 'quoted' and I'D SAY IT'S OK, we'Re fine",
    "long s: 'ſ and kelvin: 'K",
    'Ünïcödé façade naïve café Straße',
    'Cafe\u0301 vs Café: NFC composes e + U+0301; A\u030a \u212b \u0041\u0308\u0304',
    'Hangul jamo \u1112\u1161\u11ab\u1100\u1173\u11af composes to 한글',
    'Привет, мир! Γειά σου κόσμε',
    '日本語のテキストと中文文本',
    'emoji: 😀🚀🦙 and 👩‍👩‍👧 flags 🇺🇳🇩🇪 skin 👍🏽',
    'rare: \u2603 \u0fd0 \U0001f9ec \u2e3b \U00010348 \U0001d11e',
    'spaces: a\u00a0b nbsp, zero\u200bwidth, \u3000ideographic, \u2028line sep, \u0085nel, \x0bvt, \x0cff, \x1cfs',
    '"quotes" and \'apostrophes\' — dashes – and … ellipsis',
    'private \ue000 and noncharacter \ufdd0 and replacement \ufffd',
    'x' * 300,
    'ab' * 200 + ' ' + '1234567890' * 20,
    ' ' * 40 + 'indented',
    '\t\t\tdeep',
    'The quick brown fox jumps over the lazy dog.',
    'URL https://example.com/path?q=1&r=two#frag and mail a.b@c.de',
    '$$\\frac{a}{b}$$ and `code` and <html attr="v">x</html>',
    # added tokens inside text
    '<|endoftext|>',
    'Hello<|endoftext|>world',
    '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
    'no space<|im_end|>directly after',
    ' <|im_start|> spaced <|im_end|> ',
    '<|im_start|><|im_end|><|endoftext|>',
    '<|im_start|', '<|im_start|>>', '<<|im_end|>', '<|endoftext|>\u0338 combining after a token',
    'a>\u0338b (NFC composes > + U+0338 into \u226f)',
    '<|unknown|> is plain text, <s> </s> too',
]

DECODE_IDS = [  # id sequences (pieces of the Qwen2 vocabulary) that cut characters apart
    [151644, 151645, 151643],
]


def bytes_to_unicode():
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class GPT2BPE:
    """openai/gpt-2 src/encoder.py's Encoder, with Qwen2's regex, NFC and added tokens."""

    def __init__(self, folder):
        import regex
        with open(os.path.join(folder, 'vocab.json'), encoding='utf-8') as f:
            self.encoder = json.load(f)
        with open(os.path.join(folder, 'merges.txt'), encoding='utf-8') as f:
            lines = f.read().split('\n')
        merges = [tuple(l.split(' ')) for l in lines if l and not l.startswith('#version')]
        self.bpe_ranks = {m: i for i, m in enumerate(merges)}
        with open(os.path.join(folder, 'added_tokens.json'), encoding='utf-8') as f:
            self.added = json.load(f)
        with open(os.path.join(folder, 'tokenizer_config.json'), encoding='utf-8') as f:
            cfg = json.load(f)
        self.special = {int(k) for k, v in cfg['added_tokens_decoder'].items() if v['special']}
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.decoder.update({v: k for k, v in self.added.items()})
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.pat = regex.compile(QWEN2_PATTERN)
        alts = sorted(self.added, key=len, reverse=True)  # leftmost, then longest
        self.added_pat = regex.compile('|'.join(regex.escape(a) for a in alts))
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        while pairs:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float('inf')))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
        self.cache[token] = word
        return word

    def encode_plain(self, text):
        ids = []
        for tok in self.pat.findall(unicodedata.normalize('NFC', text)):
            u = ''.join(self.byte_encoder[b] for b in tok.encode('utf-8'))
            ids.extend(self.encoder[p] for p in self.bpe(u))
        return ids

    def encode(self, text):
        ids, pos = [], 0
        for m in self.added_pat.finditer(text):
            ids += self.encode_plain(text[pos:m.start()])
            ids.append(self.added[m.group(0)])
            pos = m.end()
        return ids + self.encode_plain(text[pos:])

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            if i in self.special:
                continue
            piece = self.decoder[i]
            if i in self.added.values():
                out += piece.encode('utf-8')
            else:
                out += bytes(self.byte_decoder[c] for c in piece)
        return out.decode('utf-8', 'replace')


class HFTokenizers:
    def __init__(self, folder, save_json, variant='qwen2'):
        import tokenizers
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
        self.version = tokenizers.__version__
        tok = Tokenizer(models.BPE.from_file(os.path.join(folder, 'vocab.json'), os.path.join(folder, 'merges.txt')))
        if variant == 'qwen2':
            tok.normalizer = normalizers.NFC()
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior='isolated', invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
        else:  # GPT-2's pre-tokenizer (ByteLevel's own regex, no normaliser) on the same vocabulary
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        with open(os.path.join(folder, 'added_tokens.json'), encoding='utf-8') as f:
            added = json.load(f)
        for content, want in sorted(added.items(), key=lambda kv: kv[1]):
            tok.add_special_tokens([AddedToken(content, special=True, normalized=False)])
            got = tok.token_to_id(content)
            assert got == want, f'{content}: tokenizers gave id {got}, added_tokens.json says {want}'
        if save_json:
            os.makedirs(os.path.dirname(os.path.abspath(save_json)), exist_ok=True)
            tok.save(save_json)
        self.tok = tok

    def encode(self, text):
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        return self.tok.decode(ids, skip_special_tokens=True)


def corpus(shared, multilingual, per_domain):
    texts = list(FIXED)
    root = os.path.join(shared, 'data', 'domains')
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, 'test.jsonl.gz')
        if not os.path.isfile(path):
            continue
        with gzip.open(path, 'rt', encoding='utf-8') as f:
            for i, line in enumerate(f):
                if i >= per_domain:
                    break
                t = json.loads(line).get('text')
                if isinstance(t, str):
                    texts.append(t)
    with open(multilingual, encoding='utf-8') as f:
        texts += [json.loads(l)['text'] for l in f if l.strip()]
    return texts


def decode_cases(cases):
    """Id sequences whose bytes are not valid UTF-8: multi-byte characters cut by dropping or
    reordering tokens, from the encoded cases (deterministic)."""
    rng = random.Random(17)
    seqs = list(DECODE_IDS)
    long_ids = [c['ids'] for c in cases if len(c['ids']) >= 8]
    for _ in range(300):
        ids = rng.choice(long_ids)
        a = rng.randrange(len(ids))
        b = min(len(ids), a + rng.randint(1, 12))
        s = ids[a:b]
        if len(s) > 2 and rng.random() < 0.5:
            del s[rng.randrange(1, len(s) - 1)]
        if rng.random() < 0.3:
            s = s[::-1]
        seqs.append(s)
    return seqs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--impl', choices=['python', 'hf'], required=True)
    ap.add_argument('--shared', required=True)
    ap.add_argument('--tokenizer', default='models/qwen2_tokenizer', help='folder, relative to --shared')
    ap.add_argument('--multilingual', required=True)
    ap.add_argument('--per-domain', type=int, default=150)
    ap.add_argument('--save-json', default='', help='hf: also save the Tokenizer as this tokenizer.json')
    ap.add_argument('--out', default='', help='the JSON written (required unless --bench)')
    ap.add_argument('--variant', choices=['qwen2', 'gpt2'], default='qwen2',
                    help="hf: the README's pre-tokenizer (qwen2) or GPT-2's ByteLevel regex without NFC (gpt2)")
    ap.add_argument('--corpus-only', action='store_true')
    ap.add_argument('--bench', action='store_true')
    a = ap.parse_args()
    texts = corpus(a.shared, a.multilingual, a.per_domain)
    if a.corpus_only:
        with open(a.out, 'w', encoding='utf-8') as f:
            json.dump({'texts': texts}, f, ensure_ascii=False)
        return 0
    folder = os.path.join(a.shared, a.tokenizer)
    impl = GPT2BPE(folder) if a.impl == 'python' else HFTokenizers(folder, a.save_json, a.variant)
    if a.bench:
        import time
        for t in texts:
            impl.encode(t)
        t0 = time.perf_counter()
        n = sum(len(impl.encode(t)) for t in texts)
        dt = time.perf_counter() - t0
        name = a.impl if a.impl == 'python' else f'tokenizers {impl.version}'
        print(json.dumps({'impl': name, 'seconds': dt, 'tokens': n, 'texts': len(texts)}))
        return 0
    cases = []
    for t in texts:
        ids = impl.encode(t)
        cases.append({'text': t, 'ids': ids, 'decoded': impl.decode(ids)})
    dec = [{'ids': s, 'decoded': impl.decode(s)} for s in decode_cases(cases)]
    out = {'impl': a.impl if a.impl == 'python' else f'tokenizers {impl.version}', 'variant': a.variant,
           'tokenizer': a.tokenizer,
           'cases': cases, 'decode_cases': dec}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False)
    os.replace(tmp, a.out)
    n_bad = sum(1 for d in dec if '\ufffd' in d['decoded'])
    print(f'{a.impl}: {len(cases)} texts, {sum(len(c["ids"]) for c in cases)} tokens, '
          f'{len(dec)} decode cases ({n_bad} with U+FFFD) -> {a.out}')


if __name__ == '__main__':
    sys.exit(main())
