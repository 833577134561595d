#!/usr/bin/python3
"""Interleaved A/B of den2moe builds on `den2moe ppl --json` (benchmark tool, for a loaded machine).

Runs each given binary's `ppl` on one model and data file, one after the other, round after round, and prints per
binary the medians over rounds of the steady-state tokens/s (`timing.steady_tokens_per_s`: model load, data reading
and the first batch excluded) and of the process's CPU time (user + sys, all threads; what a loaded machine
distorts least), the ratio of each to the first binary, and the per-round ratios (each round's pair ran back to
back), plus every binary's perplexity (A/B of a speed change: they should agree to ~1e-7 relative).
  /usr/bin/python3 bench/ppl_ab.py --model DIR --bin base=PATH --bin new=PATH [--data FILE] [--batch 8]
      [--dtype fp32] [--threads 2] [--rounds 5] [--max-tokens 16384] [--seq 256] [--json OUT]
A --bin value may set environment variables before the path, to compare settings of one build:
  --bin 'rows=build-nogui/bin/den2moe' --bin 'plain=D2M_FFN_ROW_PARALLEL=0 build-nogui/bin/den2moe'
Run it under `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE` (this workplace's shells pin OpenBLAS to AVX2).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def parse_bin(spec):
    name, _, rest = spec.partition('=')
    if not name or not rest:
        sys.exit(f'--bin {spec!r}: expected NAME=[VAR=VALUE ...] PATH')
    words = rest.split()
    env = {}
    while len(words) > 1 and '=' in words[0]:
        k, _, v = words.pop(0).partition('=')
        env[k] = v
    if len(words) != 1 or not os.path.exists(words[0]):
        sys.exit(f'--bin {spec!r}: no binary at {" ".join(words)!r} (expected NAME=[VAR=VALUE ...] PATH)')
    return name, env, words[0]


def run_ppl(cmd, env):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        sys.exit(f'failed ({rc}): {" ".join(cmd)}')
    j = json.loads(out[out.find('{'):])
    return j['timing']['steady_tokens_per_s'], ru.ru_utime + ru.ru_stime, j['domains'][0]['ppl']


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True)
    ap.add_argument('--bin', action='append', required=True)
    ap.add_argument('--data', default=os.path.join(os.environ.get('D2M_SHARED_DIR', '/work/shared'), 'data',
                                                   'domains', 'wiki', 'test.jsonl.gz'))
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--dtype', default='fp32')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--max-tokens', type=int, default=16384)
    ap.add_argument('--seq', type=int, default=256)
    ap.add_argument('--json', default='')
    a = ap.parse_args()
    bins = [parse_bin(s) for s in a.bin]
    if len({b[0] for b in bins}) != len(bins):
        sys.exit('--bin names must differ')
    base_env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY='passive')
    res = {b[0]: {'tok_s': [], 'cpu_s': [], 'ppl': None} for b in bins}
    for r in range(a.rounds):
        order = bins if r % 2 == 0 else bins[::-1]  # alternate who goes first
        for name, env, path in order:
            cmd = [path, 'ppl', a.model, '--data', a.data, '--seq', str(a.seq), '--max-tokens', str(a.max_tokens),
                   '--batch', str(a.batch), '--dtype', a.dtype, '--threads', str(a.threads), '--json', '--quiet']
            tok_s, cpu_s, ppl = run_ppl(cmd, dict(base_env, **env))
            res[name]['tok_s'].append(tok_s)
            res[name]['cpu_s'].append(cpu_s)
            res[name]['ppl'] = ppl
        print(f'round {r + 1}: ' + ', '.join(f'{n} {res[n]["tok_s"][-1]:.0f} tok/s {res[n]["cpu_s"][-1]:.2f} CPU s'
                                             for n, _, _ in bins), flush=True)
    ref = bins[0][0]
    la = os.getloadavg()
    print(f'\n{a.model} {a.dtype} batch {a.batch} x {a.seq}, {a.max_tokens} tokens, {a.threads} threads, '
          f'{a.rounds} rounds; load average now {la[0]:.1f} / {la[1]:.1f} / {la[2]:.1f}')
    print('| build | median tok/s | ratio | per-round tok/s ratios | median CPU s | ratio | ppl |')
    print('|---|---|---|---|---|---|---|')
    for name, _, _ in bins:
        t, c = res[name]['tok_s'], res[name]['cpu_s']
        rr = [x / y for x, y in zip(t, res[ref]['tok_s'])]
        print(f'| {name} | {statistics.median(t):.0f} | {statistics.median(t) / statistics.median(res[ref]["tok_s"]):.3f} | '
              f'{" ".join(f"{x:.3f}" for x in rr)} | {statistics.median(c):.2f} | '
              f'{statistics.median(c) / statistics.median(res[ref]["cpu_s"]):.3f} | {res[name]["ppl"]:.6f} |')
    if a.json:
        json.dump(res, open(a.json, 'w'), indent=1)


if __name__ == '__main__':
    main()
