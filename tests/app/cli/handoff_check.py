#!/usr/bin/python3
"""Checks of `den2moe export --handoff` (engine/pipeline/handoff.cpp), run with Debian's python3-torch.

  prepare --dir D
      writes two small training domains (a jsonl one with "text", a csv one with a
      "{question}\\n{answer}" template, plus gzip) and D/project.den2moe.json whose training section
      makes one step cheap (seq_len 16, batch 2, no warm-up, no LoRA dropout).
  check --bundle EXPORT/handoff
      the JSON files parse; the launch script passes `sh -n` and every "$HERE/<file>" it names
      exists; ds_config.json is ZeRO-2 with bf16 as the export's torch_dtype; every manifest entry's
      size and sha256 equal hashlib's; train_handoff.py passes py_compile; then the script is
      imported and runs ONE optimizer step on CPU, without transformers, on a small PyTorch model
      that carries the export's real tensors under their Hugging Face names (attention simplified to a
      causal mean; the names, the MoE blocks and the routing are HF's). Asserted against values
      computed here, independently of the script:
        - the logged step-1 loss = this file's own loss on the first global batch (its own reading
          of the domain files, "BOS text EOS" packing, the seeded order), rel 1e-5; in the router
          stage with its own dense mixture softmax(logits / t)
        - frozen tensors are bit-identical; every trainable one moved, by at most lr (AdamW's first
          step moves each element by lr * |g| / (|g| + eps)) and by ~lr somewhere; LoRA targets
          moved (merged B A) in the experts stages, experts untouched in the router stage.
Prints HANDOFF_OK.
  ddp --bundle EXPORT/handoff [--steps 3]
      the script on 2 processes (python3 -m torch.distributed.run, Gloo, DistributedDataParallel) =
      on 1 process with twice the per-process batch (the same windows per step): loss curve rel
      1e-5, weights max abs diff 1e-6. Prints DDP_SAME. (`worker` is one process of it.)
"""
import argparse
import csv
import gzip
import hashlib
import importlib.util
import json
import math
import os
import py_compile
import re
import subprocess
import sys
import tempfile
import types

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "reference"))
from mixtral_oracle import read_checkpoint  # noqa: E402  (the independent safetensors reader)

FAILS = []


def expect(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def cmd_prepare(a):
    d = os.path.abspath(a.dir)
    os.makedirs(os.path.join(d, "alpha"), exist_ok=True)
    os.makedirs(os.path.join(d, "beta"), exist_ok=True)
    words = "the expert router sends each token to the experts that know its domain best".split()
    with open(os.path.join(d, "alpha", "train.jsonl"), "w") as f:
        for i in range(40):
            f.write(json.dumps({"text": " ".join(words[(i + j) % len(words)] for j in range(9)) + " é"}) + "\n")
    with open(os.path.join(d, "alpha", "test.jsonl"), "w") as f:
        f.write(json.dumps({"text": "held out text for the test split"}) + "\n")
    rows = [{"question": "what is %d + %d?" % (i, i + 1), "answer": str(2 * i + 1)} for i in range(30)]
    with gzip.open(os.path.join(d, "beta", "train.csv.gz"), "wt", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["question", "answer"])
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(d, "beta", "test.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["question", "answer"])
        w.writeheader()
        w.writerows(rows[:3])
    project = {"format_version": 3, "name": "handoff test", "model": "$SHARED/models/demo-llama-7m",
               "domains": [{"name": "alpha", "dir": os.path.join(d, "alpha")},
                           {"name": "beta", "dir": os.path.join(d, "beta"), "template": "{question}\n{answer}"}],
               "training": {"seq_len": 16, "batch": 2, "grad_accum": 1, "tokens": 4096, "warmup_ratio": 0.0,
                            "lora_dropout": 0.0, "seed": 7}}
    with open(os.path.join(d, "project.den2moe.json"), "w") as f:
        json.dump(project, f, indent=1)
    print("PREPARED", d)


# ---- a small PyTorch model with Hugging Face's names, built from the export's config.json ----
class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class Expert(torch.nn.Module):
    def __init__(self, d, f, names):
        super().__init__()
        self.names = names  # (gate, down, up)
        for n, shape in zip(names, [(d, f), (f, d), (d, f)]):
            setattr(self, n, torch.nn.Linear(shape[0], shape[1], bias=False))

    def forward(self, x):
        g, dn, u = (getattr(self, n) for n in self.names)
        return dn(F.silu(g(x)) * u(x))


def topk_mix(x, logits, experts, k, renorm):
    p = torch.softmax(logits.float(), dim=-1)
    w, sel = torch.topk(p, k, dim=-1)
    if renorm:
        w = w / w.sum(-1, keepdim=True)
    out = torch.zeros_like(x)
    for e, ex in enumerate(experts):
        gate = (w * (sel == e)).sum(-1, keepdim=True).to(x.dtype)
        out = out + gate * ex(x)
    return out


class MixtralSparseMoeBlock(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        D, E, Fw = c["hidden_size"], c["num_local_experts"], c["intermediate_size"]
        self.gate = torch.nn.Linear(D, E, bias=False)
        self.experts = torch.nn.ModuleList(Expert(D, Fw, ("w1", "w2", "w3")) for _ in range(E))
        self.k = c["num_experts_per_tok"]

    def forward(self, h):
        b, t, d = h.shape
        x = h.reshape(-1, d)
        logits = self.gate(x)
        return topk_mix(x, logits, self.experts, self.k, True).view(b, t, d), logits


class Qwen2MoeSparseMoeBlock(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        D, E = c["hidden_size"], c["num_experts"]
        names = ("gate_proj", "down_proj", "up_proj")
        self.gate = torch.nn.Linear(D, E, bias=False)
        self.experts = torch.nn.ModuleList(Expert(D, c["moe_intermediate_size"], names) for _ in range(E))
        self.shared_expert = Expert(D, c["shared_expert_intermediate_size"], names)
        self.shared_expert_gate = torch.nn.Linear(D, 1, bias=False)
        self.k, self.renorm = c["num_experts_per_tok"], c.get("norm_topk_prob", False)

    def forward(self, h):
        b, t, d = h.shape
        x = h.reshape(-1, d)
        logits = self.gate(x)
        out = topk_mix(x, logits, self.experts, self.k, self.renorm)
        out = out + torch.sigmoid(self.shared_expert_gate(x)) * self.shared_expert(x)
        return out.view(b, t, d), logits


class Attention(torch.nn.Module):  # HF's projections; mixing simplified to a causal mean of v
    def __init__(self, c, bias):
        super().__init__()
        D, H = c["hidden_size"], c["num_attention_heads"]
        self.Hkv = c.get("num_key_value_heads") or H
        self.H, self.Dh = H, c.get("head_dim") or D // H
        self.q_proj = torch.nn.Linear(D, H * self.Dh, bias=bias)
        self.k_proj = torch.nn.Linear(D, self.Hkv * self.Dh, bias=bias)
        self.v_proj = torch.nn.Linear(D, self.Hkv * self.Dh, bias=bias)
        self.o_proj = torch.nn.Linear(H * self.Dh, D, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        v = self.v_proj(x).view(b, t, self.Hkv, self.Dh).repeat_interleave(self.H // self.Hkv, dim=2)
        v = v.reshape(b, t, -1).cumsum(1) / torch.arange(1, t + 1, dtype=x.dtype).view(1, t, 1)
        return self.o_proj(v)


class Layer(torch.nn.Module):
    def __init__(self, c, kind):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c, kind == "qwen2moe")
        if kind == "mixtral":
            self.block_sparse_moe = MixtralSparseMoeBlock(c)
        else:
            self.mlp = Qwen2MoeSparseMoeBlock(c)
        self.kind = kind

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        moe = self.block_sparse_moe if self.kind == "mixtral" else self.mlp
        return x + moe(self.post_attention_layernorm(x))[0]


class Inner(torch.nn.Module):
    def __init__(self, c, kind):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList(Layer(c, kind) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class CausalLMOutput(dict):  # as transformers' ModelOutput: a dict (DDP finds the tensors in it) with attributes
    @property
    def logits(self):
        return self["logits"]


class TinyCausalLM(torch.nn.Module):
    def __init__(self, c, kind):
        super().__init__()
        self.model = Inner(c, kind)
        self.lm_head = torch.nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, input_ids):
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x)
        return CausalLMOutput(logits=self.lm_head(self.model.norm(x)))


def load_tiny(model_dir, dtype):
    c = json.load(open(os.path.join(model_dir, "config.json")))
    kind = {"mixtral": "mixtral", "qwen2_moe": "qwen2moe"}[c["model_type"]]
    if kind == "qwen2moe" and c.get("mlp_only_layers"):
        raise SystemExit("the test model has dense layers (mlp_only_layers); the small model here has none")
    m = TinyCausalLM(c, kind)
    w = read_checkpoint(model_dir)
    if "lm_head.weight" not in w and c.get("tie_word_embeddings"):
        w["lm_head.weight"] = w["model.embed_tokens.weight"]
    sd = m.state_dict()
    missing = [k for k in sd if k not in w]
    if missing:
        raise SystemExit("the export lacks tensors the HF architecture has: %s" % missing[:5])
    for k in sd:
        if tuple(sd[k].shape) != tuple(w[k].shape):
            raise SystemExit("%s: shape %s in the export, %s in the HF architecture" % (k, tuple(w[k].shape), tuple(sd[k].shape)))
    m.load_state_dict({k: w[k].to(torch.float32) for k in sd})
    return m.to(dtype)


def byte_tokenizer(model_dir):
    V = json.load(open(os.path.join(model_dir, "config.json")))["vocab_size"]
    return (lambda text: [3 + b % (V - 3) for b in text.encode("utf-8")]), 1, 2, None


# ---- the reference computation of the first batch (independent of the script's own code) ----
def first_batch(manifest, s, encode, bos, eos):
    wins = []
    for d in manifest["domains"]:
        ids = []
        for f in d["files"]:
            raw = open(f["path"], "rb").read()
            if f["path"].endswith(".gz"):
                raw = gzip.decompress(raw)
            text = raw.decode("utf-8")
            if ".jsonl" in f["path"]:
                recs = [json.loads(l)["text"] for l in text.splitlines() if l.strip()]
            else:
                recs = [d["text_template"].replace("{question}", r["question"]).replace("{answer}", r["answer"])
                        for r in csv.DictReader(text.splitlines())]
            for r in recs:
                ids += [bos] + encode(r) + [eos]
        n = len(ids) // s["seq_len"]
        wins += [ids[i * s["seq_len"]:(i + 1) * s["seq_len"]] for i in range(n)]
    order = torch.randperm(len(wins), generator=torch.Generator().manual_seed(s["seed"]))
    return torch.tensor([wins[order[i].item()] for i in range(s["batch"])], dtype=torch.long)


def reference_loss(model, ids, settings):
    s = settings["training"]
    if s["stage"] == "router":  # every expert on every token, gates softmax(logits / t)
        def dense(block, h):
            b, t, d = h.shape
            x = h.reshape(-1, d)
            g = torch.softmax(block.gate(x) / s["temperature"], dim=-1)
            out = sum(g[:, e:e + 1] * ex(x) for e, ex in enumerate(block.experts))
            if hasattr(block, "shared_expert"):
                out = out + torch.sigmoid(block.shared_expert_gate(x)) * block.shared_expert(x)
            return out.view(b, t, d), None
        for blk in model.modules():
            if type(blk).__name__ == settings["moe_block_class"]:
                blk.forward = types.MethodType(dense, blk)
    with torch.no_grad():
        logits = model(ids).logits
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)).item()


def cmd_check(a):
    b = os.path.abspath(a.bundle)
    files = sorted(os.listdir(b))
    print("bundle:", files)
    settings = json.load(open(os.path.join(b, "training_settings.json")))
    manifest = json.load(open(os.path.join(b, "data_manifest.json")))
    launcher = settings["launcher"]
    launch = "launch_%s.sh" % launcher
    for f in ["README.md", "train_handoff.py", launch] + (["ds_config.json"] if launcher == "deepspeed" else []):
        expect(f in files, "%s is missing from the bundle" % f)
    model_dir = os.path.normpath(os.path.join(b, settings["model_dir"]))
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    expect(settings["architecture"] == cfg["architectures"][0], "architecture %s vs config %s" % (settings["architecture"], cfg["architectures"]))
    expect(settings["moe_block_class"] == {"MixtralForCausalLM": "MixtralSparseMoeBlock",
                                           "Qwen2MoeForCausalLM": "Qwen2MoeSparseMoeBlock"}[cfg["architectures"][0]], "block class")
    # the launch script: valid sh, and every file it names exists
    sh = open(os.path.join(b, launch)).read()
    expect(subprocess.run(["sh", "-n", os.path.join(b, launch)]).returncode == 0, "%s fails sh -n" % launch)
    named = re.findall(r'"\$HERE/([^"]+)"', sh)
    expect("train_handoff.py" in named, "%s does not name train_handoff.py" % launch)
    for n in named:
        expect(os.path.exists(os.path.join(b, n)), "%s names %s, which does not exist" % (launch, n))
    expect(("torchrun " if launcher == "torchrun" else "deepspeed ") in sh, "%s does not call %s" % (launch, launcher))
    for f in re.findall(r"`([a-z_]+\.(?:json|py|sh))`", open(os.path.join(b, "README.md")).read()):
        expect(f in files, "README.md names %s, which is not in the bundle" % f)
    if launcher == "deepspeed":
        ds = json.load(open(os.path.join(b, "ds_config.json")))
        expect(ds["zero_optimization"]["stage"] == 2, "ZeRO stage %s" % ds["zero_optimization"]["stage"])
        expect(ds["bf16"]["enabled"] == (cfg["torch_dtype"] == "bfloat16"), "bf16 %s with torch_dtype %s" % (ds["bf16"], cfg["torch_dtype"]))
        expect(ds["train_micro_batch_size_per_gpu"] == settings["training"]["batch"], "micro batch")
        expect(ds["optimizer"]["params"]["lr"] == settings["training"]["lr"], "lr")
    # the manifest against hashlib
    n_files = 0
    for d in manifest["domains"]:
        for f in d["files"]:
            data = open(f["path"], "rb").read()
            expect(len(data) == f["bytes"], "%s: %d bytes, manifest %d" % (f["path"], len(data), f["bytes"]))
            expect(hashlib.sha256(data).hexdigest() == f["sha256"], "%s: sha256 differs from hashlib" % f["path"])
            n_files += 1
    expect(n_files > 0, "the manifest lists no file")
    # the script compiles, imports and trains one step
    py_compile.compile(os.path.join(b, "train_handoff.py"), doraise=True)
    if a.no_step:
        print("HANDOFF_OK" if not FAILS else "%d check(s) failed" % len(FAILS))
        sys.exit(1 if FAILS else 0)
    expect(cfg["torch_dtype"] == "float32", "the one-step check needs an fp32 export (exact reference), got %s" % cfg["torch_dtype"])
    spec = importlib.util.spec_from_file_location("train_handoff", os.path.join(b, "train_handoff.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    s = settings["training"]
    torch.manual_seed(0)
    before_model = load_tiny(model_dir, torch.float32)
    before = {k: v.clone() for k, v in before_model.state_dict().items()}
    encode, bos, eos, _ = byte_tokenizer(model_dir)
    ids = first_batch(manifest, s, encode, bos, eos)
    ref = reference_loss(before_model, ids, settings)
    with tempfile.TemporaryDirectory() as out:
        model = mod.main(["--out", out, "--max-steps", "1"], load_model=load_tiny, load_tokenizer=byte_tokenizer)
        log = [json.loads(l) for l in open(os.path.join(out, "train_log.jsonl"))]
        expect(os.path.exists(os.path.join(out, "model.pt")), "the trained model was not saved")
    loss = log[0]["loss"]
    print("step-1 loss: script %.7f, reference %.7f" % (loss, ref))
    expect(math.isfinite(loss) and abs(loss - ref) <= 1e-5 * abs(ref), "step-1 loss %.7f != reference %.7f" % (loss, ref))
    lr = s["lr"]
    hf = settings["hf"]
    after = model.state_dict()
    trainable = set(mod.trainable_names(list(before), hf))
    lora = [k for k in before if any(k[:-len(".weight")].endswith("." + t) for t in hf["lora_targets"])] if s["lora_rank"] > 0 else []
    moved_max = 0.0
    for k in before:
        d = (after[k].float() - before[k].float()).abs().max().item()
        if k in trainable:
            expect(d > 0, "%s should train but did not move" % k)
            ulp = 2.0 ** -23 * max(1.0, before[k].abs().max().item())  # fp32 rounding of w - lr
            expect(d <= lr + 2 * ulp, "%s moved by %.6g > lr %.3g (AdamW's first step is at most lr)" % (k, d, lr))
            moved_max = max(moved_max, d)
        elif k in lora:
            expect(d > 0, "LoRA target %s did not move" % k)
        else:
            expect(d == 0, "%s is frozen but moved by %.3g" % (k, d))
    expect(moved_max >= 0.5 * lr, "no trainable element moved by about lr (max %.3g, lr %.3g)" % (moved_max, lr))
    if s["stage"] == "router":
        expect(all("experts" not in k for k in trainable) and not lora, "router stage trains experts")
    print("%s stage: %d trainable tensors, %d LoRA targets, %d frozen; max step %.3g (lr %.3g)" %
          (s["stage"], len(trainable), len(lora), len(before) - len(trainable) - len(lora), moved_max, lr))
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        sys.exit(1)
    print("HANDOFF_OK")


def cmd_worker(a):
    """One process of cmd_ddp: the bundle's script with the small model, --max-steps N."""
    spec = importlib.util.spec_from_file_location("train_handoff", os.path.join(a.bundle, "train_handoff.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--out", a.out, "--max-steps", str(a.steps), "--skip-verify"], load_model=load_tiny,
             load_tokenizer=byte_tokenizer)


def cmd_ddp(a):
    """The script on 2 processes (torchrun, Gloo, DDP) = on 1 process with twice the batch: the same
    windows per step, so the same loss curve (rel 1e-5) and weights (max abs diff 1e-6, lr 1e-4)."""
    src = os.path.abspath(a.bundle)
    settings = json.load(open(os.path.join(src, "training_settings.json")))
    model_dir = os.path.normpath(os.path.join(src, settings["model_dir"]))
    import shutil
    import socket
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, world in (("single", 1), ("ddp", 2)):
            b = os.path.join(tmp, name)
            shutil.copytree(src, b)
            st = json.loads(json.dumps(settings))
            st["model_dir"] = model_dir
            st["training"]["batch"] = settings["training"]["batch"] * (2 // world)
            st["training"]["lora_dropout"] = 0.0
            json.dump(st, open(os.path.join(b, "training_settings.json"), "w"))
            out = os.path.join(tmp, name + "-out")
            worker = [os.path.abspath(__file__), "worker", "--bundle", b, "--out", out, "--steps", str(a.steps)]
            if world == 1:
                cmd = [sys.executable] + worker
            else:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", 0))
                    port = sock.getsockname()[1]
                # Debian's torch 1.13 under Python 3.11 cannot parse torchrun's default --redirects 0
                cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                       "127.0.0.1", "--master_port", str(port), "--redirects", "1", "--tee", "1"] + worker
            env = dict(os.environ, OMP_NUM_THREADS="1")
            r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
            if r.returncode != 0:
                print(r.stdout[-4000:])
                raise SystemExit("%s run failed (exit %d)" % (name, r.returncode))
            runs[name] = ([json.loads(l)["loss"] for l in open(os.path.join(out, "train_log.jsonl"))],
                          torch.load(os.path.join(out, "model.pt")))
        (l1, w1), (l2, w2) = runs["single"], runs["ddp"]
        print("loss 1 process:  ", ["%.6f" % x for x in l1])
        print("loss 2 processes:", ["%.6f" % x for x in l2])
        expect(len(l1) == len(l2) == a.steps, "step counts %d / %d" % (len(l1), len(l2)))
        for x, y in zip(l1, l2):
            expect(abs(x - y) <= 1e-5 * abs(x), "loss %.7f (1 process) != %.7f (2 processes)" % (x, y))
        worst = max((w1[k].float() - w2[k].float()).abs().max().item() for k in w1)
        start = load_tiny(model_dir, torch.float32).state_dict()
        moved = max((w1[k].float() - start[k]).abs().max().item() for k in w1)
        print("weights: max |1 process - 2 processes| = %.3g (largest change from the start %.3g)" % (worst, moved))
        expect(worst <= 1e-6, "weights differ by %.3g between 1 and 2 processes" % worst)
        expect(moved > 0, "nothing trained")
    if FAILS:
        sys.exit(1)
    print("DDP_SAME")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dir", required=True)
    c = sub.add_parser("check")
    c.add_argument("--bundle", required=True)
    c.add_argument("--no-step", action="store_true", help="the files only (a bf16 export), no training step")
    w = sub.add_parser("worker")
    w.add_argument("--bundle", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--steps", type=int, default=3)
    d = sub.add_parser("ddp")
    d.add_argument("--bundle", required=True)
    d.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    {"prepare": cmd_prepare, "check": cmd_check, "worker": cmd_worker, "ddp": cmd_ddp}[a.cmd](a)


if __name__ == "__main__":
    main()
