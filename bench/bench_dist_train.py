#!/usr/bin/python3
"""bench_dist_train: data-parallel training throughput on one machine (issue 19).

Runs `den2moe train` alternately as 1 process x T threads and as --nproc R ranks x T/R threads
(c10d Gloo over loopback) on the same model, settings and global batch, `--reps` times each,
interleaved; reports the median over runs of each run's median step tokens/s (train_log.jsonl,
the first step left out) and the ratio. Refuses to publish when the 1-minute load average says other
heavy processes run (--force measures anyway, marked UNQUIET). Prints a markdown row for
docs/benchmarks.md with the CPU named.

  bench_dist_train.py --den2moe BIN --model MOE_DIR --project P [--ranks 2] [--threads 2] [--reps 5]
                      [--seq-len 128] [--batch 2] [--grad-accum 2] [--steps 12] [--stage experts]
                      [--grad-sync] [--bucket-mb 25]

--grad-sync compares instead R ranks with the all-reduce overlapped with the last backward pass
(--grad-sync overlap, gradient buckets of --bucket-mb MiB) against R ranks with one all-reduce after
it (--grad-sync after-backward), interleaved, and reports both as median step times (ms) as well.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile


def cpu_name():
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return 'unknown CPU'


def step_tps(run_dir):
    tps = []
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        for line in f:
            j = json.loads(line)
            if j.get('type') == 'step' and j['step'] > 1:
                tps.append(j['tokens_per_s'])
    return statistics.median(tps)


def step_ms(run_dir):  # median step time: the step's tokens / its tokens per second
    ms = []
    with open(os.path.join(run_dir, 'train_log.jsonl')) as f:
        lines = [json.loads(x) for x in f]
    steps = [j for j in lines if j.get('type') == 'step']
    for prev, j in zip(steps, steps[1:]):
        ms.append(1000.0 * (j['tokens'] - prev['tokens']) / j['tokens_per_s'])
    return statistics.median(ms)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--den2moe', required=True)
    ap.add_argument('--model', required=True)
    ap.add_argument('--project', required=True)
    ap.add_argument('--ranks', type=int, default=2)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--seq-len', type=int, default=128)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--grad-accum', type=int, default=2)
    ap.add_argument('--steps', type=int, default=12)
    ap.add_argument('--stage', default='experts')
    ap.add_argument('--domains', default='truthfulqa,python')
    ap.add_argument('--force', action='store_true')
    ap.add_argument('--grad-sync', action='store_true', help='overlapped vs after-backward all-reduce on R ranks')
    ap.add_argument('--bucket-mb', type=float, default=25.0)
    a = ap.parse_args()
    load = os.getloadavg()[0]
    quiet = load < 0.5
    if not quiet and not a.force:
        sys.exit('load average %.2f: other processes run; measure on a quiet machine (or --force)' % load)
    tokens = a.steps * a.batch * a.grad_accum * a.seq_len
    common = [a.den2moe, 'train', a.model, '--project', a.project, '--stage', a.stage, '--domains', a.domains,
              '--seq-len', str(a.seq_len), '--batch', str(a.batch), '--grad-accum', str(a.grad_accum),
              '--tokens', str(tokens), '--eval-windows', '1', '--eval-every', str(a.steps + 1),
              '--save-every', str(a.steps + 1), '--dtype', 'fp32', '--quiet']
    per = max(1, a.threads // a.ranks)
    configs = [('1 process x %d threads' % a.threads, ['--threads', str(a.threads)]),
               ('%d ranks x %d threads' % (a.ranks, per), ['--nproc', str(a.ranks), '--threads', str(per)])]
    if a.grad_sync:
        ranks = ['--nproc', str(a.ranks), '--threads', str(per), '--bucket-mb', str(a.bucket_mb)]
        configs = [('%d ranks x %d threads, all-reduce after backward' % (a.ranks, per),
                    ranks + ['--grad-sync', 'after-backward']),
                   ('%d ranks x %d threads, all-reduce overlapped (%g MiB buckets)' % (a.ranks, per, a.bucket_mb),
                    ranks + ['--grad-sync', 'overlap'])]
    results = {name: [] for name, _ in configs}
    times = {name: [] for name, _ in configs}
    tmp = tempfile.mkdtemp(prefix='d2m-bench-dist-')
    try:
        for rep in range(a.reps):
            for name, extra in configs:  # interleaved: drift hits both alike
                out = os.path.join(tmp, 'run')
                shutil.rmtree(out, ignore_errors=True)
                subprocess.run(common + extra + ['--out', out], check=True, stdout=subprocess.DEVNULL)
                results[name].append(step_tps(out))
                times[name].append(step_ms(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {name: statistics.median(v) for name, v in results.items()}
    med_ms = {name: statistics.median(v) for name, v in times.items()}
    (n1, m1), (n2, m2) = list(med.items())
    print(json.dumps({'cpu': cpu_name(), 'load_avg_1min': load, 'runs': results, 'median_tokens_per_s': med,
                      'median_step_ms': med_ms, 'ratio': m2 / m1}))
    print('| %s | %s | %s %.0f | %s %.0f | %.2f |%s' % (cpu_name(), 'seq %d, global batch %d' % (
        a.seq_len, a.batch * a.grad_accum), n1, m1, n2, m2, m2 / m1, '' if quiet else ' UNQUIET'))


if __name__ == '__main__':
    main()
