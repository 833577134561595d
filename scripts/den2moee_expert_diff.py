#!/usr/bin/python3
"""How many FFN neurons change expert between two Den2MoEE conversions of the same dense model
(docs/den2moee-demo.md, "TokenScore vs uniform token weights").

  den2moee_expert_diff.py DENSE_DIR MOE_A MOE_B

Each dense neuron is found in the converted model by its gate_proj row (Den2MoEE copies rows, never
changes them); its group is the shared expert or routed expert e. Routed experts of A and B are
matched by the assignment that maximises the shared neurons (scipy's linear_sum_assignment), the shared
expert with the shared expert; a neuron "changes expert" when its B group is not the match of its A
group. Prints per layer and in all. Debian's /usr/bin/python3 (torch, scipy).
"""
import json, os, sys

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'reference'))
from llama_reference import read_safetensors  # noqa: E402


def groups(dense, moe, il):
    """-> int array [F]: -1 = shared expert, e = routed expert e."""
    g = dense['model.layers.%d.mlp.gate_proj.weight' % il].float()
    key = {g[i].numpy().tobytes(): i for i in range(g.shape[0])}
    out = np.full(g.shape[0], -2, dtype=np.int64)
    p = 'model.layers.%d.mlp.' % il
    parts = [(-1, p + 'shared_expert.gate_proj.weight')]
    e = 0
    while p + 'experts.%d.gate_proj.weight' % e in moe:
        parts.append((e, p + 'experts.%d.gate_proj.weight' % e))
        e += 1
    for label, name in parts:
        if name not in moe:
            continue
        for row in moe[name].float():
            out[key[row.numpy().tobytes()]] = label
    assert (out > -2).all(), 'a dense neuron is missing from the converted model'
    return out, e


def main():
    dense_dir, a_dir, b_dir = sys.argv[1:4]
    dense = read_safetensors(os.path.join(dense_dir, 'model.safetensors'))
    a = read_safetensors(os.path.join(a_dir, 'model.safetensors'))
    b = read_safetensors(os.path.join(b_dir, 'model.safetensors'))
    L = json.load(open(os.path.join(dense_dir, 'config.json')))['num_hidden_layers']
    total = moved = 0
    for il in range(L):
        ga, R = groups(dense, a, il)
        gb, _ = groups(dense, b, il)
        overlap = np.zeros((R, R))
        for i in range(len(ga)):
            if ga[i] >= 0 and gb[i] >= 0:
                overlap[ga[i], gb[i]] += 1
        ra, cb = linear_sum_assignment(-overlap)
        match = {-1: -1}
        match.update({int(r): int(c) for r, c in zip(ra, cb)})
        changed = int(sum(1 for i in range(len(ga)) if match[int(ga[i])] != gb[i]))
        shared_changed = int(((ga == -1) != (gb == -1)).sum())
        print('layer %d: %d of %d neurons change expert (%.1f %%); %d enter or leave the shared expert'
              % (il, changed, len(ga), 100.0 * changed / len(ga), shared_changed))
        total += len(ga)
        moved += changed
    print('all layers: %d of %d neurons change expert (%.1f %%)' % (moved, total, 100.0 * moved / total))


if __name__ == '__main__':
    main()
