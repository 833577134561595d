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
    table = {}  # model -> stage -> {domain: ppl}
    for key, label in MODELS:
        for stage in (0, 1, 2):
            t = load_ppl(out, '%s-%d' % (key, stage))
            if t:
                table.setdefault(label, {})[stage] = t
    if not table:
        sys.exit('no ppl-*.json in %s' % out)
    cell = lambda label, st: ('%.1f' % gmean(list(table[label][st].values()))) if st in table[label] else '—'  # noqa: E731
    print('| model | before training | after stage 1 (routers) | after stage 2 (experts) |')
    print('|---|---|---|---|')
    for label in table:
        print('| %s | %s | %s | %s |' % (label, cell(label, 0), cell(label, 1), cell(label, 2)))
    print()
    cols = [('dense before', table['dense'][0])] if 'dense' in table and 0 in table['dense'] else []
    for label in table:
        if 2 in table[label]:
            cols.append((label + ' after stage 2', table[label][2]))
    domains = list(next(iter(table.values()))[0])
    print('| domain | ' + ' | '.join(c[0] for c in cols) + ' |')
    print('|---' * (len(cols) + 1) + '|')
    for d in domains:
        best = min([c[1][d] for c in cols if not c[0].startswith('dense')] or [None])  # best at 50 % width
        print('| %s | ' % d + ' | '.join(('**%.1f**' if c[1][d] == best else '%.1f') % c[1][d]
                                           for c in cols) + ' |')
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
    # the random split starts near loss 7: its own panel keeps the others readable
    panels = [('stage 1: routers', lambda l, st: st == 'router' and not l.startswith('random')),
              ('stage 2: experts (LoRA)', lambda l, st: st == 'experts' and not l.startswith('random')),
              ('random split (LLaMA-MoE): stage 1, then 2', lambda l, st: l.startswith('random'))]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ax, (title, keep) in zip(axes, panels):
        offset = 0.0
        for label, st, steps, evals in runs:
            if not keep(label, st) or not steps:
                continue
            tok = [s['tokens'] / 1e6 + offset for s in steps]
            loss = [s['loss'] for s in steps]
            k = 20
            mm = [sum(loss[max(0, i - k + 1):i + 1]) / len(loss[max(0, i - k + 1):i + 1]) for i in range(len(loss))]
            line, = ax.plot(tok, mm, lw=1.2, label='%s %s (train, mean of 20 steps)' % (label, st))
            per = steps[-1]['tokens'] / steps[-1]['step'] / 1e6
            ax.plot([e['step'] * per + offset for e in evals], [e['loss'] for e in evals], 'o--', ms=3,
                    color=line.get_color(), lw=0.8, label='%s %s (held-out)' % (label, st))
            if title.startswith('random'):
                offset = tok[-1]
        ax.set_title(title)
        ax.set_xlabel('training tokens (M)')
        ax.set_ylabel('loss (nats / token)')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print('\nwrote', png)


if __name__ == '__main__':
    main()
