#!/usr/bin/python3
"""Interleaved A/B of bench_train builds (benchmark tool, for a loaded machine).

Runs each given bench_train binary's child mode and the PyTorch eager reference
(tests/reference/train_oracle.py bench) one after the other, round after round, on one model, and
prints per configuration the medians over rounds of: tokens/s of the median step (wall) and CPU time
(user + sys, all threads) per token of the timed steps, plus each build's ratio to eager and to the
first build. CPU time is what a loaded machine distorts least (waiting for a core is not counted).
  /usr/bin/python3 bench/train_ab.py --model MOE_DIR --bin base=PATH --bin new=PATH [--stage router]
      [--dtype fp32] [--threads 1] [--rounds 5] [--steps 3] [--batch 8] [--seq 256]
A --bin value may carry child arguments after the path: --bin 'w1=build-nogui/bench/bench_train --split-workers 1'
--bin 'w2=build-nogui/bench/bench_train --split-workers 2' compares settings of one build.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if p.returncode != 0:
        sys.exit(f'failed ({p.returncode}): {" ".join(cmd)}')
    return json.loads(p.stdout[p.stdout.rfind('{'):])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--bin', action='append', required=True,
                    help="NAME=PATH of a bench_train binary, optionally 'NAME=PATH --split-workers N'")
    ap.add_argument('--stage', default='router')
    ap.add_argument('--dtype', default='fp32')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--seq', type=int, default=256)
    ap.add_argument('--no-eager', action='store_true')
    a = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    env.setdefault('OMP_WAIT_POLICY', 'passive')
    common = ['--threads', str(a.threads), '--batch', str(a.batch), '--seq', str(a.seq), '--steps', str(a.steps)]
    bins = [b.split('=', 1) for b in a.bin]
    res = {n: [] for n, _ in bins}
    if not a.no_eager:
        res['eager'] = []
    tokens = a.batch * a.seq
    with open('/proc/loadavg') as f:
        load0 = f.read().split()[0]
    for r in range(a.rounds):
        for name, spec in bins:
            path, *extra = spec.split()
            res[name].append(run([path, '--child', 'ours', '--stage', a.stage, '--child-dtype', a.dtype,
                                  '--model', a.model] + common + extra, env))
        if not a.no_eager:
            res['eager'].append(run(['/usr/bin/python3', os.path.join(HERE, '..', 'tests', 'reference', 'train_oracle.py'),
                                     'bench', '--model', a.model, '--stage', a.stage, '--dtype', a.dtype] + common, env))
        print(f'round {r + 1}: ' + ', '.join(f'{n} {v[-1]["tokens_per_s"]:.0f} tok/s {1e3 * v[-1]["cpu_s_per_step"] / tokens:.3f} cpu-ms/tok'
                                            for n, v in res.items()), file=sys.stderr)
    with open('/proc/loadavg') as f:
        load1 = f.read().split()[0]
    print(f'stage {a.stage}, {a.dtype}, {a.threads} thread(s), batch {a.batch} x {a.seq}, {a.steps} steps per process, '
          f'{a.rounds} rounds, load average {load0} -> {load1}')
    med = {n: (statistics.median(x['tokens_per_s'] for x in v),
               statistics.median(1e3 * x['cpu_s_per_step'] / tokens for x in v),
               statistics.median(x['peak_rss_mib'] for x in v)) for n, v in res.items()}
    first = bins[0][0]
    print(f'| build | tokens/s (wall) | CPU ms / token | peak RSS MiB | wall vs eager | CPU vs eager | wall vs {first} | CPU vs {first} |')
    print('|---|---|---|---|---|---|---|---|')
    for n, (w, c, m) in med.items():
        ev = med.get('eager')
        vs_e = f'{w / ev[0]:.2f}x | {ev[1] / c:.2f}x' if ev else '- | -'
        print(f'| {n} | {w:.0f} | {c:.3f} | {m:.0f} | {vs_e} | {w / med[first][0]:.2f}x | {med[first][1] / c:.2f}x |')


if __name__ == '__main__':
    main()
