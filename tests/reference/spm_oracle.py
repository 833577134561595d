#!/usr/bin/python3
"""SentencePiece oracle for tests/engine/tokenizer/test_spm_tokenizer.cpp.

Encodes a fixed list of texts (unicode, digits, indented code, runs of spaces, newlines, the empty
string, emoji / byte-fallback characters) plus the first records of a few shared domain test sets with
python3-sentencepiece, for each tokenizer.model below, and writes
    {"<model path relative to the shared dir>": [{"text": ..., "ids": [...], "decoded": ...}, ...]}
Imports sentencepiece only (never torch: see BUILD-RECIPE §4 pitfall 1).

usage: /usr/bin/python3 spm_oracle.py --shared /work/shared --out build/oracle/spm_oracle.json
"""
import argparse, gzip, json, os
import sentencepiece as spm

MODELS = ['models/demo-llama-7m/tokenizer.model', 'models/llama2_tokenizer/tokenizer.model']
# (domain, how many records of test.jsonl.gz)
DOMAINS = [('gsm8k', 50), ('python', 50), ('shakespeare', 50), ('banking', 50), ('wiki', 5)]

FIXED = [
    '',
    'Hello world',
    'Once upon a time',
    ' leading space',
    'trailing space ',
    'multiple    spaces   inside',
    '   ',
    'line one\nline two\n\nline four',
    '\n',
    'tab\tseparated\tvalues',
    'Numbers: 0 1 12 123 3.14159 1,000,000 2024-11-23',
    'def f(x):\n    if x > 0:\n        return x * 2\n    return -x\n',
    'for (int i = 0; i < n; ++i) { sum += a[i]; }',
    'Ünïcödé façade naïve café Straße',
    'Привет, мир! Γειά σου κόσμε',
    '日本語のテキストと中文文本',
    'emoji: 😀🚀🦙 and 👩‍👩‍👧',
    'rare: \u2603 \u0fd0 \U0001f9ec \u2e3b',
    'mixed: a\u00a0b (non-breaking) and zero\u200bwidth',
    '"quotes" and \'apostrophes\' — dashes – and … ellipsis',
    '<s> </s> <unk> <0x41> are just text here',
    'x' * 300,
    'The quick brown fox jumps over the lazy dog.',
]


def domain_texts(shared):
    out = []
    for name, n in DOMAINS:
        path = os.path.join(shared, 'data', 'domains', name, 'test.jsonl.gz')
        with gzip.open(path, 'rt', encoding='utf-8') as f:
            for i, line in enumerate(f):
                if i >= n:
                    break
                out.append(json.loads(line)['text'])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shared', required=True)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    texts = FIXED + domain_texts(args.shared)
    result = {}
    for rel in MODELS:
        sp = spm.SentencePieceProcessor(model_file=os.path.join(args.shared, rel))
        cases = []
        for t in texts:
            ids = sp.encode(t)
            cases.append({'text': t, 'ids': ids, 'decoded': sp.decode(ids)})
        result[rel] = cases
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(result, f, ensure_ascii=False)
    os.replace(tmp, args.out)
    print('wrote %s: %d texts x %d models' % (args.out, len(texts), len(MODELS)))


if __name__ == '__main__':
    main()
