#!/usr/bin/python3
# Compares two training runs (folders of `den2moe train`): the per-step loss curves in
# train_log.jsonl and every tensor of model.safetensors must agree to a relative tolerance
# (data-parallel runs sum the float32 gradients in another order than one process). Also checks
# that the runs trained (the weights moved from the source model), so equality is not vacuous.
# usage: dist_compare.py RUN_A RUN_B SOURCE_MODEL_DIR [RTOL [WEIGHT_RTOL]]; prints "SAME <n> steps <m> tensors".
# With WEIGHT_RTOL the per-step gradient norms must also agree to RTOL, and the weights only to
# WEIGHT_RTOL (AdamW's first steps move each weight by about lr x sign(g): a gradient element near 0
# whose last bits differ moves by up to 2 lr, so runs whose gradients agree to 1e-7 can differ there).
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'reference'))
from llama_reference import read_safetensors as read_tensors  # noqa: E402


def read_safetensors(path):  # float tensors only, as float64
    return {k: v.double() for k, v in read_tensors(path).items() if v.is_floating_point()}


def losses(run, key="loss"):
    steps = {}
    with open(run + "/train_log.jsonl") as f:
        for line in f:
            j = json.loads(line)
            if j.get("type") == "step":
                steps[j["step"]] = j[key]
    return steps


def main():
    a, b, src = sys.argv[1], sys.argv[2], sys.argv[3]
    rtol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-5
    wtol = float(sys.argv[5]) if len(sys.argv) > 5 else rtol
    la, lb = losses(a), losses(b)
    if sorted(la) != sorted(lb) or not la:
        sys.exit(f"DIFFERENT: logged steps {sorted(la)} vs {sorted(lb)}")
    worst = 0.0
    for key in ["loss"] + (["grad_norm"] if len(sys.argv) > 5 else []):
        xa, xb = losses(a, key), losses(b, key)
        for s in sorted(xa):
            worst = max(worst, abs(xa[s] - xb[s]) / abs(xa[s]))
            if abs(xa[s] - xb[s]) > rtol * abs(xa[s]):
                sys.exit(f"DIFFERENT: {key} at step {s}: {xa[s]!r} vs {xb[s]!r}")
    ta = read_safetensors(a + "/model.safetensors")
    tb = read_safetensors(b + "/model.safetensors")
    ts = read_safetensors(src + "/model.safetensors")
    if sorted(ta) != sorted(tb):
        sys.exit("DIFFERENT: tensor names")
    moved = 0
    for name in sorted(ta):
        x, y = ta[name], tb[name]
        if x.shape != y.shape:
            sys.exit(f"DIFFERENT: {name} shape {x.shape} vs {y.shape}")
        scale = max(x.abs().max().item(), 1e-30)
        err = (x - y).abs().max().item()
        if err > wtol * scale:
            sys.exit(f"DIFFERENT: {name} max |a-b| {err:.3g} > {wtol} x max|a| {scale:.3g}")
        if name in ts and ts[name].shape == x.shape and (ts[name] - x).abs().max().item() > 1e-4 * scale:
            moved += 1
    if moved == 0:
        sys.exit("VACUOUS: no tensor moved from the source model")
    print(f"SAME {len(la)} steps {len(ta)} tensors ({moved} trained) rtol {rtol} (worst {worst:.1e})"
          + (f", weights rtol {wtol}" if wtol != rtol else ""))


main()
