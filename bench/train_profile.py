#!/usr/bin/python3
"""Op-by-op comparison of two autograd-profiler chrome traces of one training step (benchmark tool).

Reads the traces bench_train writes with D2M_TRAIN_PROFILE=FILE (libtorch's legacy RecordProfile) and
tests/reference/train_oracle.py bench --profile FILE (torch.autograd.profiler, legacy), computes each
op's self time (its duration minus its direct children's, per thread) and prints, per op name, calls and
self milliseconds of both sides, largest first.
  /usr/bin/python3 bench/train_profile.py OURS.json EAGER.json [--top 40]
"""
import argparse
import collections
import json


def self_times(path):
    with open(path) as f:
        data = json.load(f)
    events = data['traceEvents'] if isinstance(data, dict) else data
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get('ph') == 'X' and 'dur' in e:
            by_thread[(e.get('pid'), e.get('tid'))].append(e)
    calls, selft = collections.Counter(), collections.Counter()
    total = 0.0
    for evs in by_thread.values():
        evs.sort(key=lambda e: (float(e['ts']), -float(e['dur'])))
        stack = []  # [end, name, child time]

        def close(item):
            end, name, child, dur = item
            selft[name] += dur - child

        for e in evs:
            ts, dur = float(e['ts']), float(e['dur'])
            while stack and stack[-1][0] <= ts:
                close(stack.pop())
            if stack:
                stack[-1][2] += dur
            else:
                total += dur
            calls[e['name']] += 1
            stack.append([ts + dur, e['name'], 0.0, dur])
        while stack:
            close(stack.pop())
    return calls, selft, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ours')
    ap.add_argument('eager')
    ap.add_argument('--top', type=int, default=40)
    a = ap.parse_args()
    c1, s1, t1 = self_times(a.ours)
    c2, s2, t2 = self_times(a.eager)
    print(f'top-level time: ours {t1 / 1e3:.1f} ms, eager {t2 / 1e3:.1f} ms')
    names = sorted(set(s1) | set(s2), key=lambda n: -max(s1[n], s2[n]))
    print(f'{"op":<52} {"ours calls":>10} {"ours ms":>9} {"eager calls":>11} {"eager ms":>9}')
    for n in names[:a.top]:
        print(f'{n[:52]:<52} {c1[n]:>10} {s1[n] / 1e3:>9.1f} {c2[n]:>11} {s2[n] / 1e3:>9.1f}')
    print(f'{"sum of self times":<52} {"":>10} {sum(s1.values()) / 1e3:>9.1f} {"":>11} {sum(s2.values()) / 1e3:>9.1f}')


if __name__ == '__main__':
    main()
