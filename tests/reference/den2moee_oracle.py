#!/usr/bin/python3
"""Independent oracle for Den2MoEE's evaluation pooling (DEN2MOEE.md §4), run with Debian's /usr/bin/python3
(python3-torch, sentencepiece). Nothing here imports the C++ engine.

  --in FILE.json [--tol 1e-5]
      FILE.json (written by test_den2moee_pooling): "model" (a native den2moe MoE folder: model.safetensors,
      moe_config.json with the Llama config under "base", tokenizer.model), "texts", "group" and the
      engine's "embeddings". Each text is run ALONE (no padding) through a PyTorch forward of the folder
      written from DEN2MOEE.md §1.3 (routed logits W·x + α·P·x, null logits W_null·x, softmax over all,
      top-k of p + selection bias over routed + null, gates from the unbiased p, renormalised over the
      selected, × routed_scale; shared expert always on; dense mode: every routed expert), recording each
      layer's router logits per token. The embedding: [final-norm hidden state at the last token ;
      per group of `group` consecutive router layers (the last group the L mod group remainder) the
      mean over the group's layers of the logits mean-pooled over the text's tokens], L2-normalised.
      With "append_eos": true the tokens are BOS + text + sentencepiece's own eos id (the pooled last
      token is the EOS; the router mean includes it), and "hs" (the engine's final-norm hidden state
      at that EOS) is checked too.
      Exit 1 unless max|ours - oracle| / max|oracle| <= tol for every text.
"""
import argparse, json, math, os, sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import read_safetensors, load_sp  # noqa: E402


class Den2MoEE:
    def __init__(self, d):
        self.mc = json.load(open(os.path.join(d, 'moe_config.json')))
        c = self.mc['base']
        self.w = {k: v.double() if v.is_floating_point() else v
                  for k, v in read_safetensors(os.path.join(d, 'model.safetensors')).items()}
        self.D = c['hidden_size']
        self.H = c['num_attention_heads']
        self.Hkv = c.get('num_key_value_heads') or self.H
        self.Dh = c.get('head_dim') or self.D // self.H
        self.L = c['num_hidden_layers']
        self.eps = c['rms_norm_eps']
        self.theta = c.get('rope_theta', 10000.0)
        self.E = self.mc['num_experts']
        self.top_k = self.mc['top_k']
        r = self.mc.get('router', {})
        assert r.get('gate') == 'den2moee', 'not a Den2MoEE router: %r' % r.get('gate')
        self.alpha = r.get('prior_scale', 0.0)
        self.dense = r.get('mode', 'sparse') == 'dense'
        self.norm_topk = r.get('norm_topk', True)
        self.scale = r.get('routed_scale', 1.0)

    def rms(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    @staticmethod
    def rotate_half(x):
        a, b = x.chunk(2, dim=-1)
        return torch.cat((-b, a), dim=-1)

    def swiglu(self, x, p):
        y = (F.silu(x @ self.w[p + 'gate_proj.weight'].T) * (x @ self.w[p + 'up_proj.weight'].T)) @ \
            self.w[p + 'down_proj.weight'].T
        if p + 'down_proj.bias' in self.w:
            y = y + self.w[p + 'down_proj.bias']
        return y

    def moe(self, h, il):  # h [T, D] -> (out [T, D], logits [T, E + N])
        p = 'model.layers.%d.mlp.' % il
        zr = h @ self.w[p + 'router.weight'].T
        if self.alpha != 0 and p + 'router.prior' in self.w:
            zr = zr + self.alpha * (h @ self.w[p + 'router.prior'].T)
        parts = [zr]
        if p + 'router.null_weight' in self.w:
            parts.append(h @ self.w[p + 'router.null_weight'].T)
        z = torch.cat(parts, -1)
        K = z.shape[1]
        prob = torch.softmax(z, -1)
        T = h.shape[0]
        gates = torch.zeros(T, self.E, dtype=h.dtype)  # the weight of each routed expert per token
        if self.dense or self.top_k >= K:
            gates = prob[:, :self.E].clone()
        else:
            score = prob.clone()
            if p + 'router.select_bias' in self.w:
                score[:, :self.E] += self.w[p + 'router.select_bias']
            sel = score.topk(self.top_k, -1).indices
            for t in range(T):
                for e in sel[t].tolist():
                    if e < self.E:  # a null expert outputs nothing
                        gates[t, e] = prob[t, e]
        if self.norm_topk:
            gates = gates / gates.sum(-1, keepdim=True).clamp_min(1e-20)
        gates = gates * self.scale
        out = torch.zeros_like(h)
        if p + 'shared_expert.gate_proj.weight' in self.w:
            out = out + self.swiglu(h, p + 'shared_expert.')
        for e in range(self.E):
            if bool((gates[:, e] != 0).any()):
                out = out + gates[:, e:e + 1] * self.swiglu(h, p + 'experts.%d.' % e)
        return out, z

    def forward(self, ids):  # one unpadded sequence -> (final-norm hidden [T, D], [router logits [T, K] per layer])
        T = len(ids)
        W = self.w
        inv = 1.0 / (self.theta ** (torch.arange(0, self.Dh, 2, dtype=torch.float64) / self.Dh))
        fr = torch.arange(T, dtype=torch.float64)[:, None] * inv
        emb = torch.cat((fr, fr), -1)
        cos, sin = emb.cos(), emb.sin()  # [T, Dh]
        x = W['model.embed_tokens.weight'][torch.tensor(ids)]
        mask = torch.full((T, T), float('-inf'), dtype=torch.float64).triu(1)
        logits = []
        for il in range(self.L):
            p = 'model.layers.%d.' % il
            h = self.rms(x, W[p + 'input_layernorm.weight'])
            q = (h @ W[p + 'self_attn.q_proj.weight'].T).view(T, self.H, self.Dh).transpose(0, 1)
            k = (h @ W[p + 'self_attn.k_proj.weight'].T).view(T, self.Hkv, self.Dh).transpose(0, 1)
            v = (h @ W[p + 'self_attn.v_proj.weight'].T).view(T, self.Hkv, self.Dh).transpose(0, 1)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            rep = self.H // self.Hkv
            k = k.repeat_interleave(rep, 0)
            v = v.repeat_interleave(rep, 0)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.Dh) + mask, -1)
            x = x + (att @ v).transpose(0, 1).reshape(T, self.H * self.Dh) @ W[p + 'self_attn.o_proj.weight'].T
            h = self.rms(x, W[p + 'post_attention_layernorm.weight'])
            y, z = self.moe(h, il)
            logits.append(z)
            x = x + y
        return self.rms(x, W['model.norm.weight']), logits


def den2moee_embedding(hidden, logits, group):
    L = len(logits)
    pooled = [z.mean(0) for z in logits]  # each layer's logits mean-pooled over the tokens (no padding here)
    feats = [torch.stack(pooled[g:min(g + group, L)]).mean(0) for g in range(0, L, group)]
    e = torch.cat([hidden[-1]] + feats)
    return e / e.norm().clamp_min(1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--in', dest='inp', required=True)
    ap.add_argument('--tol', type=float, default=1e-5)
    a = ap.parse_args()
    torch.set_num_threads(2)
    j = json.load(open(a.inp))
    m = Den2MoEE(j['model'])
    sp = load_sp(j['model'])
    eos = [sp.eos_id()] if j.get('append_eos') else []
    if j.get('append_eos'):
        assert sp.eos_id() >= 0, 'the tokenizer has no EOS'
    hs_rows = j.get('hs', [None] * len(j['texts']))
    worst = 0.0
    with torch.no_grad():
        for text, ours, hs in zip(j['texts'], j['embeddings'], hs_rows):
            hidden, logits = m.forward([1] + sp.encode(text) + eos)
            want = den2moee_embedding(hidden, logits, j['group'])
            got = torch.tensor(ours, dtype=torch.float64)
            if got.shape != want.shape:
                print('den2moee pooling: FAILED: %d values for %r, the oracle has %d' % (got.numel(), text, want.numel()))
                sys.exit(1)
            rel = float((got - want).abs().max() / want.abs().max())
            worst = max(worst, rel)
            if hs is not None:  # the raw hidden state at the last (EOS) token
                h = torch.tensor(hs, dtype=torch.float64)
                worst = max(worst, float((h - hidden[-1]).abs().max() / hidden[-1].abs().max()))
    print('den2moee pooling: %d texts%s, %d layers in %d groups, dim %d, max rel difference %.3e (tol %g)' % (
        len(j['texts']), ' + EOS %d' % eos[0] if eos else '', m.L, (m.L + j['group'] - 1) // j['group'],
        want.numel(), worst, a.tol))
    if not worst <= a.tol:
        print('den2moee pooling: FAILED')
        sys.exit(1)
    print('den2moee pooling: OK')


if __name__ == '__main__':
    main()
