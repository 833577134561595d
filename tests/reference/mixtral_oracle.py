#!/usr/bin/python3
"""Independent PyTorch forward of MixtralForCausalLM and Qwen2MoeForCausalLM checkpoints (test oracle).

Written from the Hugging Face modelling definitions (modeling_mixtral.py, modeling_qwen2_moe.py,
eager attention), not from the C++ engine, and without transformers (not installed here):
  RMSNorm        x * rsqrt(mean(x^2) + eps) in float32, times the weight
  RoPE           rotate_half on the two halves of each head, inv_freq = 1 / theta^(2i / Dh)
  attention      GQA by repeating each KV head H / Hkv times, causal mask, softmax in float32
                 (Qwen2: q/k/v projections with biases)
  Mixtral MoE    softmax(router logits) -> top-k -> renormalise -> sum_k w_k * w2(silu(w1 x) * w3 x)
  Qwen2-MoE MoE  softmax -> top-k -> renormalise only if norm_topk_prob, plus the shared expert
                 scaled by sigmoid(shared_expert_gate(x)); layers in mlp_only_layers (or off
                 decoder_sparse_step) are a dense MLP of intermediate_size
Reads config.json and the safetensors (single file or model.safetensors.index.json shards) with its
own parser (bf16 via torch.frombuffer). Run with Debian's /usr/bin/python3 (python3-torch, numpy).

  check --model DIR --logits FILE.safetensors [--tol 1e-4]
      FILE holds "ids" [B, T] (int64) and "logits" [B, T, V] (float32) written by the C++ side;
      recompute the logits here, print the max abs difference, exit 1 if it exceeds --tol.
"""
import argparse
import json
import os
import sys

try:
    import numpy as np  # noqa: F401  (the safetensors parser below relies on torch, numpy must exist too)
    import torch
    import torch.nn.functional as F
except ImportError as e:  # fail loudly: a missing oracle must not look like a pass or a skip
    sys.stderr.write("mixtral_oracle.py: cannot import %s; install python3-torch and python3-numpy "
                     "(the oracle needs them)\n" % e.name)
    sys.exit(2)

# the safetensors reader shared by the Python oracles (the Llama reference beside this file)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import read_safetensors  # noqa: E402


def read_checkpoint(d):
    idx = os.path.join(d, 'model.safetensors.index.json')
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)['weight_map']
        out = {}
        for shard in sorted(set(wm.values())):
            part = read_safetensors(os.path.join(d, shard))
            for k in part:
                if wm.get(k) != shard:
                    raise SystemExit('%s: tensor %s is not listed for this shard in the index' % (shard, k))
            out.update(part)
        missing = set(wm) - set(out)
        if missing:
            raise SystemExit('index names tensors missing from the shards: %s' % sorted(missing)[:5])
        return out
    return read_safetensors(os.path.join(d, 'model.safetensors'))


class Model:
    def __init__(self, d):
        with open(os.path.join(d, 'config.json')) as f:
            self.c = json.load(f)
        c = self.c
        self.kind = {'mixtral': 'mixtral', 'qwen2_moe': 'qwen2moe'}[c['model_type']]
        self.w = {k: v.float() for k, v in read_checkpoint(d).items()}
        self.D = c['hidden_size']
        self.H = c['num_attention_heads']
        self.Hkv = c.get('num_key_value_heads') or self.H
        self.Dh = c.get('head_dim') or self.D // self.H
        self.L = c['num_hidden_layers']
        self.eps = c['rms_norm_eps']
        self.theta = c.get('rope_theta', 10000.0)
        self.top_k = c['num_experts_per_tok']
        if self.kind == 'mixtral':
            self.E = c['num_local_experts']
            self.norm_topk = True
        else:
            self.E = c['num_experts']
            self.norm_topk = c.get('norm_topk_prob', False)
            self.mlp_only = set(c.get('mlp_only_layers', []))
            self.step = c.get('decoder_sparse_step', 1)
        self.used = set()

    def get(self, name):
        self.used.add(name)
        return self.w[name]

    def rms(self, x, w):
        var = x.pow(2).mean(-1, keepdim=True)
        return w * (x * torch.rsqrt(var + self.eps))

    def rope(self, T):
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.Dh, 2, dtype=torch.int64).float() / self.Dh))
        pos = torch.arange(T, dtype=torch.float32)
        freqs = torch.outer(pos, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    @staticmethod
    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return torch.cat((-x2, x1), dim=-1)

    def lin(self, x, name, bias=None):
        y = x @ self.get(name + '.weight').t()
        if bias is not None:
            y = y + self.get(bias)
        return y

    def attention(self, x, il, cos, sin):
        B, T, _ = x.shape
        p = 'model.layers.%d.self_attn.' % il
        qb = self.kind == 'qwen2moe' and self.c.get('qkv_bias', True)
        q = self.lin(x, p + 'q_proj', p + 'q_proj.bias' if qb else None)
        k = self.lin(x, p + 'k_proj', p + 'k_proj.bias' if qb else None)
        v = self.lin(x, p + 'v_proj', p + 'v_proj.bias' if qb else None)
        q = q.view(B, T, self.H, self.Dh).transpose(1, 2)
        k = k.view(B, T, self.Hkv, self.Dh).transpose(1, 2)
        v = v.view(B, T, self.Hkv, self.Dh).transpose(1, 2)
        q = q * cos + self.rotate_half(q) * sin
        k = k * cos + self.rotate_half(k) * sin
        rep = self.H // self.Hkv
        k = k[:, :, None].expand(B, self.Hkv, rep, T, self.Dh).reshape(B, self.H, T, self.Dh)
        v = v[:, :, None].expand(B, self.Hkv, rep, T, self.Dh).reshape(B, self.H, T, self.Dh)
        scores = q @ k.transpose(2, 3) / (self.Dh ** 0.5)
        mask = torch.full((T, T), float('-inf')).triu(1)
        probs = F.softmax(scores + mask, dim=-1, dtype=torch.float32)
        out = (probs @ v).transpose(1, 2).reshape(B, T, self.H * self.Dh)
        return self.lin(out, p + 'o_proj')

    def mlp(self, x, p, names=('gate_proj', 'up_proj', 'down_proj')):
        g, u, d = names
        return self.lin(F.silu(self.lin(x, p + g)) * self.lin(x, p + u), p + d)

    def sparse(self, il):
        if self.kind == 'mixtral':
            return True
        return il not in self.mlp_only and self.E > 0 and (il + 1) % self.step == 0

    def moe(self, x, il):
        B, T, D = x.shape
        h = x.reshape(-1, D)
        if self.kind == 'mixtral':
            p = 'model.layers.%d.block_sparse_moe.' % il
            router = p + 'gate'
            expert = lambda e: (p + 'experts.%d.' % e, ('w1', 'w3', 'w2'))  # w1 gate, w3 up, w2 down
        else:
            p = 'model.layers.%d.mlp.' % il
            router = p + 'gate'
            expert = lambda e: (p + 'experts.%d.' % e, ('gate_proj', 'up_proj', 'down_proj'))
        logits = self.lin(h, router)
        weights = F.softmax(logits, dim=1, dtype=torch.float32)
        weights, selected = torch.topk(weights, self.top_k, dim=-1)
        if self.norm_topk:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(h)
        for e in range(self.E):
            tok, slot = torch.where(selected == e)
            pe, names = expert(e)
            if tok.numel() == 0:
                for n in names:  # mark as read: every expert tensor must exist
                    self.get(pe + n + '.weight')
                continue
            y = self.mlp(h[tok], pe, names) * weights[tok, slot, None]
            out.index_add_(0, tok, y)
        if self.kind == 'qwen2moe':
            shared = self.mlp(h, p + 'shared_expert.')
            out = out + torch.sigmoid(self.lin(h, p + 'shared_expert_gate')) * shared
        return out.view(B, T, D)

    def forward(self, ids):
        B, T = ids.shape
        x = self.get('model.embed_tokens.weight')[ids]
        cos, sin = self.rope(T)
        for il in range(self.L):
            p = 'model.layers.%d.' % il
            x = x + self.attention(self.rms(x, self.get(p + 'input_layernorm.weight')), il, cos, sin)
            h = self.rms(x, self.get(p + 'post_attention_layernorm.weight'))
            x = x + (self.moe(h, il) if self.sparse(il) else self.mlp(h, p + 'mlp.'))
        x = self.rms(x, self.get('model.norm.weight'))
        head = 'model.embed_tokens.weight' if self.c.get('tie_word_embeddings', False) else 'lm_head.weight'
        return x @ self.get(head).t()


def cmd_check(a):
    ref = read_safetensors(a.logits)
    ids, want = ref['ids'].long(), ref['logits'].float()
    m = Model(a.model)
    with torch.no_grad():
        got = m.forward(ids)
    unused = sorted(set(m.w) - m.used)
    if unused:
        print('FAIL: tensors the %s definition does not use: %s' % (m.kind, unused[:5]))
        return 1
    diff = (got - want).abs().max().item()
    scale = want.abs().max().item()
    same_argmax = (got.argmax(-1) == want.argmax(-1)).float().mean().item()
    print('%s oracle: %s, ids %s, logits max |diff| = %.3e (max |logit| %.2f, argmax agreement %.4f)'
          % (m.kind, a.model, list(ids.shape), diff, scale, same_argmax))
    if not (diff <= a.tol):
        print('FAIL: max abs diff %.3e exceeds the tolerance %.1e' % (diff, a.tol))
        return 1
    print('PASS')
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('check')
    c.add_argument('--model', required=True)
    c.add_argument('--logits', required=True)
    c.add_argument('--tol', type=float, default=1e-4)
    a = ap.parse_args()
    return cmd_check(a)


if __name__ == '__main__':
    sys.exit(main())
