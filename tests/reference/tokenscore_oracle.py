#!/usr/bin/python3
"""TokenScore oracle (test only): the final token's last-layer attention, SCS, RSS, tau and the
tau-weighted neuron domain vectors of Den2MoEE (shared/docs/DEN2MOEE.md 2.2-2.3), written from the
document with an eager PyTorch forward of Llama / Qwen2 / Qwen3 (transformers' formulas), not from the
C++ engine. Run with Debian's /usr/bin/python3 (python3-torch).

  attn  --model DIR --out FILE   ids, mask (full, left-, right-padded rows), last_attn [L, B, T]: each
                                 layer's attention probabilities of the last query position, mean over heads
  score --model DIR --out FILE [--span 16 --ngram 4 --stride 2 --mask-id 0 --cap 0]
                                 two samples (70 and 13 tokens): ids_s, attn_s, span_scs_s, scs_s, rss_s,
                                 tau_s, v_s_l (tau^T |A| / T per layer), z_l (the z-scored [F, 2] domain
                                 matrix, one sample per domain)
"""
import argparse, json, math, os, sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import read_safetensors, write_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)  # the oracle in float64; the engine runs fp32


def load(model):
    with open(os.path.join(model, 'config.json')) as f:
        c = json.load(f)
    t = {k: v.double() for k, v in read_safetensors(os.path.join(model, 'model.safetensors')).items()}
    return c, t


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def forward(c, t, ids, mask=None):
    """-> (final hidden [B, T, D], last_attn [L, B, T], act [L, B, T, F] = silu(gate) * up)."""
    B, T = ids.shape
    if mask is None:
        mask = torch.ones(B, T, dtype=torch.int64)
    D, L, H = c['hidden_size'], c['num_hidden_layers'], c['num_attention_heads']
    Hkv = c.get('num_key_value_heads', H)
    Dh = c.get('head_dim') or D // H
    eps = c['rms_norm_eps']
    qk_norm = c['model_type'] == 'qwen3'
    qkv_bias = c['model_type'] == 'qwen2'
    pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
    inv_freq = 1.0 / (c.get('rope_theta', 10000.0) ** (torch.arange(0, Dh, 2, dtype=torch.int64).double() / Dh))
    freqs = pos[:, :, None].double() * inv_freq[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]
    allowed = torch.tril(torch.ones(T, T, dtype=torch.bool))[None] & mask.bool()[:, None, :]
    allowed = allowed | torch.eye(T, dtype=torch.bool)[None]
    bias = torch.zeros(B, 1, T, T).masked_fill(~allowed[:, None], float('-inf'))
    x = t['model.embed_tokens.weight'][ids]
    last, acts = [], []
    for il in range(L):
        p = 'model.layers.%d.' % il
        h = rms_norm(x, t[p + 'input_layernorm.weight'], eps)

        def proj(n, heads):
            y = h @ t[p + 'self_attn.%s_proj.weight' % n].T
            if qkv_bias:
                y = y + t[p + 'self_attn.%s_proj.bias' % n]
            return y.view(B, T, heads, Dh)

        q, k, v = proj('q', H), proj('k', Hkv), proj('v', Hkv)
        if qk_norm:
            q = rms_norm(q, t[p + 'self_attn.q_norm.weight'], eps)
            k = rms_norm(k, t[p + 'self_attn.k_norm.weight'], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        att = torch.softmax((q @ k.transpose(2, 3)) / math.sqrt(Dh) + bias, dim=-1)  # [B, H, T, T]
        last.append(att[:, :, -1, :].mean(1))                                          # [B, T]
        o = (att @ v).transpose(1, 2).reshape(B, T, H * Dh)
        x = x + o @ t[p + 'self_attn.o_proj.weight'].T
        h = rms_norm(x, t[p + 'post_attention_layernorm.weight'], eps)
        a = torch.nn.functional.silu(h @ t[p + 'mlp.gate_proj.weight'].T) * (h @ t[p + 'mlp.up_proj.weight'].T)
        acts.append(a)
        x = x + a @ t[p + 'mlp.down_proj.weight'].T
    return rms_norm(x, t['model.norm.weight'], eps), torch.stack(last), torch.stack(acts)


def cmd_attn(a):
    c, t = load(a.model)
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(3, c['vocab_size'], (3, 12), generator=g)
    mask = torch.ones(3, 12, dtype=torch.int64)
    mask[1, :4] = 0   # left padding: the last position is a real token
    mask[2, 9:] = 0   # right padding: the last position is a pad query (sees the real keys and itself)
    ids = ids.masked_fill(mask == 0, 0)
    with torch.no_grad():
        _, last, _ = forward(c, t, ids, mask)
    write_safetensors(a.out, {'ids': ids, 'mask': mask, 'last_attn': last.float().contiguous()})
    print('%s: last_attn %s, row sums %s' % (c['model_type'], tuple(last.shape), last[-1].sum(-1).tolist()))


def token_score(c, t, ids, span, ngram, stride, mask_id, cap):
    """DEN2MOEE.md 2.2 with the engine's documented window rule (windows inside their span)."""
    T = ids.numel()
    with torch.no_grad():
        phi, last, act = forward(c, t, ids[None])
    attn = last[-1, 0]                                        # [T]
    n = (T + span - 1) // span
    sums = torch.stack([attn[j * span:(j + 1) * span].sum() for j in range(n)])
    if n == 1 or not (sums.max() > sums.min()):
        span_scs = torch.zeros(n)
    else:
        span_scs = (sums - sums.min()) / (sums.max() - sums.min())
    scs = torch.tensor([span_scs[i // span].item() for i in range(T)])
    order = sorted(range(n), key=lambda j: (-span_scs[j].item(), j))
    top = order[:max(1, n // 2)]
    windows = []
    for j in top:
        s0, e = j * span, min(T, (j + 1) * span)
        for g0 in range(s0, e, stride):
            windows.append((g0, min(g0 + ngram, e)))
    if cap > 0:
        windows = windows[:cap]
    phi0 = phi[0]
    rss_sum, cnt = torch.zeros(T), torch.zeros(T)
    for (g0, g1) in windows:
        x = ids.clone()
        x[g0:g1] = mask_id
        with torch.no_grad():
            h, _, _ = forward(c, t, x[None])
        r = torch.linalg.norm(phi0 - h[0]) / (torch.linalg.norm(phi0) + torch.linalg.norm(h[0]))
        rss_sum[g0:g1] += r
        cnt[g0:g1] += 1
    rss = torch.where(cnt > 0, rss_sum / cnt.clamp(min=1), torch.zeros(T))
    tau = 0.5 * (scs + rss)
    v = [(tau @ act[l, 0].abs()) / T for l in range(act.shape[0])]  # per layer [F]
    return dict(attn=attn, span_scs=span_scs, scs=scs, rss=rss, tau=tau, windows=len(windows)), v


def cmd_score(a):
    c, t = load(a.model)
    g = torch.Generator().manual_seed(11)
    samples = [torch.randint(3, c['vocab_size'], (70,), generator=g), torch.randint(3, c['vocab_size'], (13,), generator=g)]
    out = {}
    vs = []
    for s, ids in enumerate(samples):
        r, v = token_score(c, t, ids, a.span, a.ngram, a.stride, a.mask_id, a.cap)
        out['ids_%d' % s] = ids
        for k in ('attn', 'span_scs', 'scs', 'rss', 'tau'):
            out['%s_%d' % (k, s)] = r[k].contiguous()
        for l, vl in enumerate(v):
            out['v_%d_%d' % (s, l)] = vl.contiguous()
        vs.append(v)
        print('sample %d: T %d, spans %d, windows %d, tau in [%.4f, %.4f]' %
              (s, ids.numel(), r['span_scs'].numel(), r['windows'], r['tau'].min(), r['tau'].max()))
    for l in range(len(vs[0])):
        S = torch.stack([vs[0][l], vs[1][l]], 1)                     # [F, 2]: one sample per domain
        mean = S.mean(0, keepdim=True)
        sd = (S - mean).pow(2).mean(0, keepdim=True).sqrt()          # population std (ddof 0)
        out['z_%d' % l] = ((S - mean) / (sd + 1e-9)).contiguous()
    write_safetensors(a.out, out)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('attn')
    p.add_argument('--model', required=True)
    p.add_argument('--out', required=True)
    p = sub.add_parser('score')
    p.add_argument('--model', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--span', type=int, default=16)
    p.add_argument('--ngram', type=int, default=4)
    p.add_argument('--stride', type=int, default=2)
    p.add_argument('--mask-id', type=int, default=0)
    p.add_argument('--cap', type=int, default=0)
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    {'attn': cmd_attn, 'score': cmd_score}[a.cmd](a)


if __name__ == '__main__':
    main()
