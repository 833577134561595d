"""Interop check: transformers' AutoModelForCausalLM loads a den2moe export (Mixtral, Qwen2-MoE, Qwen3-MoE) or a
dense Hugging Face model den2moe reads (Qwen2, Qwen3) and
(1) its fp32 logits on the same token ids equal den2moe's (`den2moe generate --save-logits`) within rel 1e-4
(max |ours - theirs| / max |theirs| over all prompts), (2) its greedy continuation (generate, do_sample=False)
equals `den2moe generate --json`'s ids (both stop at EOS; den2moe does not list it). Prompts: fixed sentences plus the openings of bundled test records.
Prints one verdict line per comparison; exits 1 on any disagreement."""
import argparse, gzip, json, os, subprocess, sys

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

TOL = 1e-4
PROMPTS = ["Once upon a time, the", "The capital of France is", "def add(a, b):\n    return",
           "Question: What is 7 times 8?\nAnswer:", "Ünïcödé — 漢字 and emoji 🙂 at the end"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--den2moe", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--new-tokens", type=int, default=24)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    shared = os.environ.get("D2M_SHARED_DIR", "")
    prompts = list(PROMPTS)
    for dom in ("wiki", "stories", "gsm8k"):
        path = os.path.join(shared, "data", "domains", dom, "test.jsonl.gz")
        if os.path.exists(path):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                prompts.append(json.loads(f.readline())["text"][:200])
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    name = type(model).__name__
    worst, n_tok, greedy_ok, bad = 0.0, 0, 0, []
    for i, p in enumerate(prompts):
        lf = os.path.join(args.work, f"logits_{i}.safetensors")
        out = subprocess.run([args.den2moe, "generate", args.model, "--prompt", p, "-n", str(args.new_tokens),
                              "--json", "--save-logits", lf], check=True, capture_output=True)
        ours = json.loads(out.stdout)
        t = load_file(lf)
        ids = t["input_ids"]  # [T]
        assert ids.tolist() == ours["prompt_ids"], "logits file and generate disagree on the prompt ids"
        with torch.no_grad():
            theirs = model(ids[None]).logits[0].float()  # [T, V]
            rel = ((t["logits"] - theirs).abs().max() / theirs.abs().max()).item()
            gen = model.generate(ids[None], attention_mask=torch.ones_like(ids)[None], do_sample=False,
                                 max_new_tokens=args.new_tokens, pad_token_id=model.config.eos_token_id)
        hf_new = gen[0, ids.numel():].tolist()
        if hf_new and hf_new[-1] == model.generation_config.eos_token_id:
            hf_new = hf_new[:-1]  # den2moe stops at EOS without listing it
        worst = max(worst, rel)
        n_tok += ids.numel()
        if hf_new == ours["ids"]:
            greedy_ok += 1
        else:
            bad.append((i, ours["ids"], hf_new))
    ok_logits = worst <= TOL
    print(f"{'PASS' if ok_logits else 'FAIL'} transformers {transformers.__version__} {name} logits: "
          f"ours vs theirs max rel diff {worst:.2e} over {len(prompts)} prompts / {n_tok} tokens "
          f"(tolerance {TOL:g})")
    ok_greedy = greedy_ok == len(prompts)
    print(f"{'PASS' if ok_greedy else 'FAIL'} transformers {transformers.__version__} {name} greedy: "
          f"ours = theirs on {greedy_ok}/{len(prompts)} prompts x {args.new_tokens} new tokens (tolerance: exact)")
    for i, a, b in bad[:3]:
        print(f"    prompt {i}: ours {a}\n              theirs {b}", file=sys.stderr)
    return 0 if ok_logits and ok_greedy else 1


if __name__ == "__main__":
    sys.exit(main())
