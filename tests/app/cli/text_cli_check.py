#!/usr/bin/python3
"""Any text in, any text out through the den2moe CLI (issue 25), checked with python3-sentencepiece.

Runs the issue's two commands, then `route` (--json and the table), `generate` (--json and the
stream), `ppl --json` and `info --json` on texts of every category of tests/data/multilingual.jsonl,
and asserts: exit 0; stdout is valid UTF-8 and valid JSON (parsed back here); the JSON's text equals
sentencepiece's decode of its ids; tokens and spans are consistent (spans tile the tokens, their
texts concatenate to the decode, "hex" is present exactly where a token's bytes are not valid UTF-8
and holds those bytes); the streamed text equals the JSON text. A corpus file with Latin-1 bytes
exits 1 with the file and line named. Prints 'N passed, 0 failed'; exits 1 on any failure.

usage: text_cli_check.py --den2moe BIN --moe MOE_DIR --dense MODEL_DIR --corpus FILE.jsonl --tmp DIR
"""
import argparse
import json
import os
import subprocess
import sys

import sentencepiece as spm

ISSUE_TEXTS = [  # the issue's ten kinds of short text
    'café naïve 北京',
    'Ελληνικά γράμματα',
    '北京欢迎你',
    'مرحبا بالعالم',
    'नमस्ते दुनिया',
    '👩‍👩‍👧‍👦 🇬🇷 👍🏽',
    'cafe\u0301 and n\u0303',
    'zero\u200bwidth\u200djoiner',
    '“quotes” — dashes… «»',
    'שלום עולם',
]

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print('FAILED: ' + what, file=sys.stderr)
    return cond


def run(args, env=None):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def parse_json(out, what):
    try:
        return json.loads(out.decode('utf-8'))  # strict: invalid UTF-8 raises
    except (UnicodeDecodeError, ValueError) as e:
        check(False, '%s: stdout is not valid UTF-8 JSON: %s' % (what, e))
        return None


def per_byte(sp, b):
    """sentencepiece's own replacement of bytes (its byte pieces decoded)."""
    return sp.decode([sp.piece_to_id('<0x%02X>' % x) for x in b])


def check_tokens(sp, j, what):
    toks = j['tokens']
    for t in toks:
        raw = bytes.fromhex(t['hex']) if 'hex' in t else t['text'].encode('utf-8')
        if 'hex' in t:
            try:
                raw.decode('utf-8')
                check(False, '%s: token %d has hex but valid bytes' % (what, t['id']))
            except UnicodeDecodeError:
                pass
            check(t['text'] == per_byte(sp, raw), '%s: token %d text is not sentencepiece\'s repair of its bytes'
                  % (what, t['id']))
        check(t['piece'] == sp.id_to_piece(t['id']), '%s: token %d piece %r' % (what, t['id'], t['piece']))


def check_route(sp, j, text, what):
    ids = j['ids']
    check(ids == [sp.bos_id()] + sp.encode(text), what + ': ids differ from sentencepiece')
    check(j['text'] == sp.decode(ids), what + ': text %r != sentencepiece %r' % (j['text'], sp.decode(ids)))
    check(len(j['tokens']) == len(ids) == len(j['pieces']), what + ': token counts')
    check_tokens(sp, j, what)
    nxt = 0
    cat = ''
    for s in j['spans']:
        a, b = s['tokens']
        check(a == nxt and b > a, what + ': spans do not tile the tokens')
        nxt = b
        cat += s['text']
    check(nxt == len(ids), what + ': spans end at %d of %d tokens' % (nxt, len(ids)))
    check(cat == j['text'], what + ': spans concatenate to %r, not %r' % (cat, j['text']))
    for layer in j['layers']:
        check(len(layer['tokens']) == len(ids), what + ': layer %d routes every token' % layer['layer'])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--den2moe', required=True)
    ap.add_argument('--moe', required=True)
    ap.add_argument('--dense', required=True)
    ap.add_argument('--corpus', required=True)
    ap.add_argument('--tmp', required=True)
    a = ap.parse_args()
    os.makedirs(a.tmp, exist_ok=True)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(a.moe, 'tokenizer.model'))
    env = dict(os.environ, LC_ALL='C')  # bytes in, bytes out: no locale may matter

    # the issue's two commands
    rc, out, err = run([a.den2moe, 'route', a.moe, '--text', 'café naïve 北京', '--json'], env)
    check(rc == 0, 'route "café naïve 北京" --json exits %d: %s' % (rc, err.decode('utf-8', 'replace')))
    j = parse_json(out, 'route issue text')
    if j:
        check_route(sp, j, 'café naïve 北京', 'route issue text')
        spans = [s['text'] for s in j['spans']]
        check('北' in spans and '京' in spans, 'route: 北 and 京 are spans of their own: %r' % spans)
        multi = [s for s in j['spans'] if s['tokens'][1] - s['tokens'][0] > 1]
        check(len(multi) >= 2, 'route: byte-fallback characters group several tokens: %r' % j['spans'])
    gen = [a.den2moe, 'generate', a.dense, '--prompt', 'Ελληνικά γράμματα', '-n', '40']
    rc, out, err = run(gen + ['--json'], env)
    check(rc == 0, 'generate "Ελληνικά γράμματα" --json exits %d: %s' % (rc, err.decode('utf-8', 'replace')))
    g = parse_json(out, 'generate')
    if g:
        all_ids = g['prompt_ids'] + g['ids']
        check(g['text'] == sp.decode(all_ids), 'generate: text %r != sentencepiece %r' % (g['text'], sp.decode(all_ids)))
        check(len(g['tokens']) == len(g['ids']), 'generate: one token entry per new id')
        check_tokens(sp, g, 'generate')
        t = g.get('timing', {})
        check(t.get('decode_tokens_per_s', 0) > 0 and t.get('prefill_seconds', -1) >= 0 and
              abs(t.get('seconds', 0) - t.get('prefill_seconds', 0) - t.get('decode_seconds', 0)) < 1e-6,
              'generate --json: timing (prefill + decode = seconds, decode tokens/s > 0): %r' % t)
        rc, out, err = run(gen, env)
        check(rc == 0, 'generate stream exits %d' % rc)
        try:
            streamed = out.decode('utf-8')
            check(streamed == g['text'] + '\n', 'generate: streamed %r != JSON text %r' % (streamed, g['text']))
        except UnicodeDecodeError as e:
            check(False, 'generate: the stream is not valid UTF-8: %s' % e)

    # the issue's ten, then mixed corpus lines chosen greedily until every category is covered
    with open(a.corpus, 'rb') as f:
        rows = [json.loads(line) for line in f.read().split(b'\n') if line.strip()]
    all_cats = {r['lang'] for r in rows if ':' not in r['lang']}
    mixed = [(set(r['lang'].split(':')[1].split('+')), r['text']) for r in rows
             if r['lang'].startswith('mixed:') and '\x00' not in r['text'] and not r['text'].startswith('-')]
    texts, covered = list(ISSUE_TEXTS), set()
    while covered != all_cats:
        cats, t = max(mixed, key=lambda m: len(m[0] - covered))
        if not cats - covered:
            break
        covered |= cats
        texts.append(t)
    check(covered == all_cats, 'the routed texts cover every category of the corpus: %r' % (all_cats - covered))
    for i, t in enumerate(texts):
        what = 'route text %d %r' % (i, t[:40])
        rc, out, err = run([a.den2moe, 'route', a.moe, '--text', t, '--json', '--quiet'], env)
        if not check(rc == 0, '%s exits %d: %s' % (what, rc, err.decode('utf-8', 'replace')[-300:])):
            continue
        j = parse_json(out, what)
        if j:
            check_route(sp, j, t, what)
        if i % 4 == 0:  # the table too
            rc, out, err = run([a.den2moe, 'route', a.moe, '--text', t, '--quiet'], env)
            check(rc == 0, what + ' (table) exits %d' % rc)
            try:
                lines = out.decode('utf-8').rstrip('\n').split('\n')
                check(len(lines) == 1 + len(j['ids']) if j else True, what + ': one table row per token')
            except UnicodeDecodeError as e:
                check(False, what + ': the table is not valid UTF-8: %s' % e)
    print('routed %d texts' % len(texts))

    # ppl on the whole corpus (jsonl) and on its text as a txt file; info
    for data in [a.corpus]:
        rc, out, err = run([a.den2moe, 'ppl', a.dense, '--data', data, '--seq', '64', '--max-tokens', '4096',
                            '--json', '--quiet'], env)
        check(rc == 0, 'ppl --data %s exits %d: %s' % (data, rc, err.decode('utf-8', 'replace')[-300:]))
        p = parse_json(out, 'ppl')
        if p:
            d = p['domains'][0]
            check(d['tokens'] > 1000 and 1.0 < d['ppl'] < 1e6, 'ppl: %r' % d)
            t = p.get('timing', {})
            # non-overlapping windows of 64 tokens, each through the model once
            check(t.get('forward_tokens') == 64 * sum(x['windows'] for x in p['domains']) and
                  t.get('tokens_per_s', 0) > 0, 'ppl --json: timing (forward tokens = 64 x windows, tokens/s > 0): %r' % t)
    rc, out, err = run([a.den2moe, 'info', a.moe, '--json'], env)
    check(rc == 0 and parse_json(out, 'info') is not None, 'info --json exits %d' % rc)

    # a Latin-1 corpus: a user error naming the file and line, never exit 2
    bad = os.path.join(a.tmp, 'latin1 caf\xe9.txt'.encode('latin-1').decode('utf-8', 'surrogateescape'))
    with open(bad.encode('utf-8', 'surrogateescape'), 'wb') as f:
        f.write(b'ok line\ncaf\xe9 au lait\n')
    rc, out, err = run([a.den2moe.encode(), b'ppl', a.dense.encode(), b'--data', bad.encode('utf-8', 'surrogateescape'),
                        b'--json'], env)
    msg = err.decode('utf-8', 'replace')
    check(rc == 1, 'ppl on a Latin-1 file exits %d (want 1): %s' % (rc, msg))
    check('invalid UTF-8 on line 2 of' in msg and 'bytes e9' in msg, 'ppl on a Latin-1 file: message %r' % msg)
    # a model path that is not UTF-8 itself (a Latin-1 folder name) still gives valid JSON
    link = os.path.join(a.tmp.encode(), b'moe-caf\xe9')
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.abspath(a.moe), link)
    outp = os.path.join(a.tmp, 'route.json')
    rc, out, err = run([a.den2moe.encode(), b'route', link, b'--text', '北'.encode(), b'--json', b'--out', outp.encode(),
                        b'--quiet'], env)
    check(rc == 0, 'route on a Latin-1 model path exits %d: %s' % (rc, err.decode('utf-8', 'replace')))
    j = parse_json(out, 'route on a Latin-1 path')
    if j:
        check(j['model'].endswith('moe-caf\ufffd'), 'the path is repaired in JSON: %r' % j['model'])
        with open(outp, 'rb') as f:
            check(json.loads(f.read().decode('utf-8')) == j, 'route --out holds the same document')

    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
