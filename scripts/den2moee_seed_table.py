#!/usr/bin/python3
"""The table of scripts/den2moee_eos_tokenscore.sh (docs/den2moee-demo.md): per model kind, the mean over
the k-means seeds of each task's main score and of Mean(Task) / Mean(TaskType), x 100, with the sample
standard deviation and the per-seed values.

  den2moee_seed_table.py OUT SEED [SEED ...]

Reads OUT/eval-emb/summary.json and OUT/eval-{uniform,tokenscore}-s{SEED}-{top2,sphase}/summary.json
(`den2moe eval --out`). Missing evaluations are listed and left out.
"""
import json, os, statistics, sys


def load(path):
    p = os.path.join(path, 'summary.json')
    if not os.path.exists(p):
        return None
    j = json.load(open(p))
    row = {t['task']: 100.0 * t['main_score'] for t in j['tasks']}
    row['Mean(Task)'] = 100.0 * j['mean_task']
    row['Mean(TaskType)'] = 100.0 * j['mean_task_type']
    row['_items'] = {t['task']: t['n_items'] for t in j['tasks']}
    return row


def main():
    out, seeds = sys.argv[1], sys.argv[2:]
    emb = load(os.path.join(out, 'eval-emb'))
    if emb is None:
        sys.exit('no %s/eval-emb/summary.json' % out)
    cols = [k for k in emb if not k.startswith('_')]
    print('| model | seeds | ' + ' | '.join(cols) + ' |')
    print('|---|---|' + '---:|' * len(cols))
    print('| dense embedding (EOS) | - | ' + ' | '.join('%.2f' % emb[c] for c in cols) + ' |')
    missing, per_seed = [], []
    for stage, label in (('top2', 'converted, top-2, alpha 1'), ('sphase', 'after dense + sparse phase')):
        for w in ('uniform', 'tokenscore'):
            rows = []
            for s in seeds:
                r = load(os.path.join(out, 'eval-%s-s%s-%s' % (w, s, stage)))
                if r is None:
                    missing.append('%s-s%s-%s' % (w, s, stage))
                else:
                    rows.append(r)
                    per_seed.append('%s %s seed %s: Mean(Task) %.2f' % (label, w, s, r['Mean(Task)']))
            if not rows:
                continue
            cells = []
            for c in cols:
                v = [r[c] for r in rows]
                sd = statistics.stdev(v) if len(v) > 1 else float('nan')
                cells.append('%.2f ± %.2f' % (statistics.mean(v), sd))
            print('| %s, %s | %d | %s |' % (label, w, len(rows), ' | '.join(cells)))
    print()
    print('items per task: ' + ', '.join('%s %d' % kv for kv in emb['_items'].items()))
    print('mean ± sample standard deviation over the seeds')
    for line in per_seed:
        print('  ' + line)
    if missing:
        print('missing: ' + ', '.join(missing))


if __name__ == '__main__':
    main()
