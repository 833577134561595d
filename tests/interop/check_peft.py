"""Interop check: PEFT loads the LoRA adapter that `den2moe export TRAINED --peft-adapter DIR` writes.
(1) PeftModel.from_pretrained(transformers' model of the *source* export, adapter) — PEFT's unmerged LoRA
layers, W·x + scale·B·A·x — gives den2moe's fp32 logits of the trained model (`den2moe generate
--save-logits` on the trained folder; den2moe keeps LoRA merged there, so this compares PEFT's unmerged
forward with our merge); (2) PEFT's merge_and_unload() weights equal our merged export's tensors, and
(3) its logits den2moe's. Tolerance rel 1e-4 (max |ours - theirs| / max |theirs|). Also reports how far the
adapter moves the logits, so a zero adapter cannot pass unnoticed. One verdict line each; exit 1 on disagreement."""
import argparse, json, os, subprocess, sys

import torch
import peft
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

TOL = 1e-4
PROMPTS = ["Once upon a time, the", "The capital of France is", "def add(a, b):\n    return",
           "Question: What is 7 times 8?\nAnswer:"]


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--den2moe", required=True)
    ap.add_argument("--trained", required=True, help="the `den2moe train` folder (LoRA merged)")
    ap.add_argument("--base", required=True, help="HF export of the training's source model")
    ap.add_argument("--merged", required=True, help="HF export of the trained folder")
    ap.add_argument("--adapter", required=True, help="PEFT adapter folder written by den2moe")
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    torch.manual_seed(0)
    cfg = json.load(open(os.path.join(args.adapter, "adapter_config.json")))
    base = AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32).eval()
    model = PeftModel.from_pretrained(base, args.adapter).eval()
    n_lora = sum(1 for n, _ in model.named_modules() if n.endswith(".lora_A.default"))
    assert n_lora == len(cfg["target_modules"]), f"PEFT wrapped {n_lora} modules, adapter lists {len(cfg['target_modules'])}"

    ours, ids = [], []
    for i, p in enumerate(PROMPTS):
        lf = os.path.join(args.work, f"logits_{i}.safetensors")
        subprocess.run([args.den2moe, "generate", args.trained, "--prompt", p, "-n", "1", "--save-logits", lf],
                       check=True, capture_output=True)
        t = load_file(lf)
        ids.append(t["input_ids"])
        ours.append(t["logits"])
    with torch.no_grad():
        unmerged = [model(x[None]).logits[0].float() for x in ids]
        with model.disable_adapter():
            plain = [model(x[None]).logits[0].float() for x in ids]
    worst_u = max(rel(a, b) for a, b in zip(ours, unmerged))
    moved = max(rel(a, b) for a, b in zip(unmerged, plain))
    n_tok = sum(x.numel() for x in ids)
    ok1 = worst_u <= TOL and moved > 100 * TOL
    print(f"{'PASS' if ok1 else 'FAIL'} peft {peft.__version__} unmerged LoRA (r {cfg['r']}, alpha {cfg['lora_alpha']}, "
          f"{n_lora} modules) on the source export vs den2moe's trained model: logits max rel diff {worst_u:.2e} over "
          f"{len(PROMPTS)} prompts / {n_tok} tokens (tolerance {TOL:g}; the adapter moves them by {moved:.2e})")

    merged = model.merge_and_unload().eval()
    ref = AutoModelForCausalLM.from_pretrained(args.merged, dtype=torch.float32).eval()
    theirs_sd, ours_sd = merged.state_dict(), ref.state_dict()
    assert set(theirs_sd) == set(ours_sd), f"state dicts differ in keys: {sorted(set(theirs_sd) ^ set(ours_sd))[:4]}"
    worst_w, worst_name = 0.0, ""
    for k in sorted(ours_sd):
        r = rel(ours_sd[k].float(), theirs_sd[k].float()) if theirs_sd[k].abs().max() > 0 else \
            (ours_sd[k].float().abs().max().item())
        if r > worst_w:
            worst_w, worst_name = r, k
    with torch.no_grad():
        m_logits = [merged(x[None]).logits[0].float() for x in ids]
    worst_m = max(rel(a, b) for a, b in zip(ours, m_logits))
    ok2 = worst_w <= TOL
    print(f"{'PASS' if ok2 else 'FAIL'} peft {peft.__version__} merge_and_unload vs den2moe's merged export: "
          f"{len(ours_sd)} tensors, max rel diff {worst_w:.2e} ({worst_name or 'all equal'}) (tolerance {TOL:g})")
    ok3 = worst_m <= TOL
    print(f"{'PASS' if ok3 else 'FAIL'} peft {peft.__version__} merged model's logits vs den2moe's trained model: "
          f"max rel diff {worst_m:.2e} (tolerance {TOL:g})")
    return 0 if ok1 and ok2 and ok3 else 1


if __name__ == "__main__":
    sys.exit(main())
