#!/usr/bin/python3
"""Tables and the loss-curve figure of docs/training-demo.md from a scripts/training_demo.sh folder.

  training_demo_report.py OUT [--png docs/img/training-demo-loss.png]

Prints markdown: per-domain perplexity of every model before training (0), after the router stage (1)
and after the experts stage (2), with geometric means; the held-out loss of every run at its start and
end. Draws the training loss (moving mean over 20 steps) and the held-out loss of each run against
tokens with matplotlib (Debian: python3-matplotlib) when it is installed; says so when it is not.
"""
import json
import math
import os
import sys

MODELS = [('dense', 'dense'), ('flap', 'FLAP-only'), ('dive', 'DIVE (mined clusters)'),
          ('dive-random', 'DIVE (random clusters)'), ('random', 'random split (LLaMA-MoE)')]


def load_ppl(out, name):
    p = os.path.join(out, 'ppl-%s.json' % name)
    if not os.path.exists(p):
        return None
    return {d['domain']: d['ppl'] for d in json.load(open(p))['domains']}


def gmean(v):
    return math.exp(sum(math.log(x) for x in v) / len(v))


def log_records(out, run):
    p = os.path.join(out, run, 'train_log.jsonl')
    if not os.path.exists(p):
        return [], []
    steps, evals = [], []
    for line in open(p):
        try:
            j = json.loads(line)
        except ValueError:
            continue
        (steps if j.get('type') == 'step' else evals).append(j)
    return steps, evals


def main():
    out = sys.argv[1]
    png = sys.argv[sys.argv.index('--png') + 1] if '--png' in sys.argv else os.path.join(out, 'training-demo-loss.png')
    cols = []
    for key, label in MODELS:
        for stage in (0, 1, 2):
            t = load_ppl(out, '%s-%d' % (key, stage))
            if t:
                cols.append(('%s %s' % (label, ['before', 'after stage 1', 'after stage 2'][stage]), t))
    if not cols:
        sys.exit('no ppl-*.json in %s' % out)
    domains = list(cols[0][1])
    print('| domain | ' + ' | '.join(c[0] for c in cols) + ' |')
    print('|---' * (len(cols) + 1) + '|')
    for d in domains:
        print('| %s | ' % d + ' | '.join('%.1f' % c[1][d] for c in cols) + ' |')
    print('| **geometric mean** | ' + ' | '.join('**%.1f**' % gmean(list(c[1].values())) for c in cols) + ' |')
    print()
    runs = []
    for key, label in MODELS:
        for stage in ('router', 'experts'):
            steps, evals = log_records(out, '%s-%s' % (key, stage))
            if evals:
                runs.append((label, stage, steps, evals))
                print('%-28s %-8s held-out loss %.4f -> %.4f (%d steps)' % (label, stage, evals[0]['loss'],
                                                                           evals[-1]['loss'], len(steps)))
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        print('\n(matplotlib is not installed: apt-get install python3-matplotlib draws %s)' % png)
        return
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for ax, stage in zip(axes, ('router', 'experts')):
        for label, st, steps, evals in runs:
            if st != stage:
                continue
            tok = [s['tokens'] for s in steps]
            loss = [s['loss'] for s in steps]
            k = 20
            mm = [sum(loss[max(0, i - k + 1):i + 1]) / len(loss[max(0, i - k + 1):i + 1]) for i in range(len(loss))]
            line, = ax.plot([t / 1e6 for t in tok], mm, lw=1.2, label=label + ' (train)')
            per = (tok[-1] / steps[-1]['step']) if steps else 0
            ax.plot([e['step'] * per / 1e6 for e in evals], [e['loss'] for e in evals], 'o--', ms=3,
                    color=line.get_color(), lw=0.8, label=label + ' (held-out)')
        ax.set_title('stage %s' % ('1: routers' if stage == 'router' else '2: experts (LoRA)'))
        ax.set_xlabel('training tokens (M)')
        ax.set_ylabel('loss (nats / token)')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print('\nwrote', png)


if __name__ == '__main__':
    main()
