#!/usr/bin/python3
"""Tiny random-weight Qwen2 / Qwen3 checkpoints and an independent PyTorch forward (test oracle only).

The forward is written from the Hugging Face Qwen2ForCausalLM / Qwen3ForCausalLM definitions
(transformers' modeling_qwen2.py / modeling_qwen3.py): q/k/v biases (Qwen2), RMSNorm over each q/k
head before RoPE (Qwen3), an explicit head_dim that differs from hidden / heads (Qwen3), rotate-half
RoPE with the config's rope_theta, repeat_interleave GQA, eager fp32 attention, tied embeddings.
Not from the C++ engine. Run with Debian's /usr/bin/python3 (python3-torch, numpy only).

  make   --arch qwen2|qwen3 --out DIR [--tokenizer FILE]   config.json + model.safetensors (+ tokenizer)
  logits --model DIR --out FILE.safetensors                ids, mask (left and right padding), fp32 logits
  greedy --model DIR --den2moe BIN --prompt TEXT -n N      `den2moe generate --json` vs this forward's greedy
                                                           continuation of the same prompt ids (prints GREEDY_EQUAL)
"""
import argparse, json, math, os, shutil, struct, sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import read_safetensors, write_safetensors  # noqa: E402  (the safetensors reader/writer)

# Qwen3-0.6B's shape ratios scaled down (head_dim 128 ≠ 1024 / 16 there; 32 ≠ 64 / 4 here), tied
# embeddings; Qwen2 with untied lm_head and head_dim = hidden / heads. The vocabulary is the 4096-piece
# sentencepiece model of demo-llama-7m (copied beside the weights), so den2moe ppl / generate run.
CONFIGS = {
    'qwen2': dict(architectures=['Qwen2ForCausalLM'], model_type='qwen2', hidden_size=64, intermediate_size=128,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=4096,
                  max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=1000000.0, hidden_act='silu',
                  tie_word_embeddings=False, use_sliding_window=False, sliding_window=None,
                  max_window_layers=2, bos_token_id=1, eos_token_id=2, torch_dtype='float32'),
    'qwen3': dict(architectures=['Qwen3ForCausalLM'], model_type='qwen3', hidden_size=64, intermediate_size=96,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                  vocab_size=4096, max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=1000000.0,
                  hidden_act='silu', tie_word_embeddings=True, attention_bias=False, use_sliding_window=False,
                  sliding_window=None, max_window_layers=2, bos_token_id=1, eos_token_id=2,
                  torch_dtype='float32'),
}


def head_dim(c):
    return c.get('head_dim') or c['hidden_size'] // c['num_attention_heads']


def make(arch, out, tokenizer):
    c = CONFIGS[arch]
    g = torch.Generator().manual_seed(17 if arch == 'qwen2' else 23)
    D, F, V, L = c['hidden_size'], c['intermediate_size'], c['vocab_size'], c['num_hidden_layers']
    H, Hkv, Dh = c['num_attention_heads'], c['num_key_value_heads'], head_dim(c)

    def rnd(*shape, std=0.08):
        return torch.randn(*shape, generator=g) * std

    def norm_w(n):  # around 1, not 1: a wrong or missing norm weight shows in the logits
        return 1.0 + rnd(n, std=0.2)

    t = {'model.embed_tokens.weight': rnd(V, D, std=0.5), 'model.norm.weight': norm_w(D)}
    if not c['tie_word_embeddings']:
        t['lm_head.weight'] = rnd(V, D, std=0.1)
    for il in range(L):
        p = 'model.layers.%d.' % il
        t[p + 'input_layernorm.weight'] = norm_w(D)
        t[p + 'post_attention_layernorm.weight'] = norm_w(D)
        t[p + 'self_attn.q_proj.weight'] = rnd(H * Dh, D, std=0.15)
        t[p + 'self_attn.k_proj.weight'] = rnd(Hkv * Dh, D, std=0.15)
        t[p + 'self_attn.v_proj.weight'] = rnd(Hkv * Dh, D)
        t[p + 'self_attn.o_proj.weight'] = rnd(D, H * Dh)
        if arch == 'qwen2':  # large enough to move the attention pattern
            t[p + 'self_attn.q_proj.bias'] = rnd(H * Dh, std=0.5)
            t[p + 'self_attn.k_proj.bias'] = rnd(Hkv * Dh, std=0.5)
            t[p + 'self_attn.v_proj.bias'] = rnd(Hkv * Dh, std=0.5)
        if arch == 'qwen3':
            t[p + 'self_attn.q_norm.weight'] = norm_w(Dh)
            t[p + 'self_attn.k_norm.weight'] = norm_w(Dh)
        t[p + 'mlp.gate_proj.weight'] = rnd(F, D, std=0.15)
        t[p + 'mlp.up_proj.weight'] = rnd(F, D, std=0.15)
        t[p + 'mlp.down_proj.weight'] = rnd(D, F, std=0.15)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, 'model.safetensors'), t)
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(c, f, indent=2)
    if tokenizer:
        shutil.copyfile(tokenizer, os.path.join(out, 'tokenizer.model'))


# ---------------------------------------------------------------------------------------------
# The forward pass, from transformers' Qwen2/Qwen3 modeling code

def rms_norm(x, w, eps):  # Qwen2RMSNorm / Qwen3RMSNorm
    dt = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(dt)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def forward(c, t, ids, mask):
    B, T = ids.shape
    D, L = c['hidden_size'], c['num_hidden_layers']
    H, Hkv, Dh = c['num_attention_heads'], c['num_key_value_heads'], head_dim(c)
    eps = c['rms_norm_eps']
    qk_norm = c['model_type'] == 'qwen3'
    qkv_bias = c['model_type'] == 'qwen2'
    # position_ids as generate() makes them for padded batches: cumsum(mask) - 1
    pos = (mask.long().cumsum(-1) - 1).clamp(min=0)
    inv_freq = 1.0 / (c['rope_theta'] ** (torch.arange(0, Dh, 2, dtype=torch.int64).float() / Dh))
    freqs = pos[:, :, None].float() * inv_freq[None, None, :]  # [B, T, Dh/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None], emb.sin()[:, None]  # [B, 1, T, Dh]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    allowed = causal[None] & mask.bool()[:, None, :]  # [B, T, T]
    allowed = allowed | torch.eye(T, dtype=torch.bool)[None]  # a padding query sees itself (no NaN rows)
    bias = torch.zeros(B, 1, T, T).masked_fill(~allowed[:, None], float('-inf'))
    x = t['model.embed_tokens.weight'][ids]
    for il in range(L):
        p = 'model.layers.%d.' % il
        h = rms_norm(x, t[p + 'input_layernorm.weight'], eps)

        def proj(n, out_heads):
            y = h @ t[p + 'self_attn.%s_proj.weight' % n].T
            if qkv_bias:
                y = y + t[p + 'self_attn.%s_proj.bias' % n]
            return y.view(B, T, out_heads, Dh)

        q, k, v = proj('q', H), proj('k', Hkv), proj('v', Hkv)
        if qk_norm:
            q = rms_norm(q, t[p + 'self_attn.q_norm.weight'], eps)
            k = rms_norm(k, t[p + 'self_attn.k_norm.weight'], eps)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, h, T, Dh]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        att = (q @ k.transpose(2, 3)) / math.sqrt(Dh) + bias
        att = torch.softmax(att.float(), dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, H * Dh)
        x = x + o @ t[p + 'self_attn.o_proj.weight'].T
        h = rms_norm(x, t[p + 'post_attention_layernorm.weight'], eps)
        g = h @ t[p + 'mlp.gate_proj.weight'].T
        u = h @ t[p + 'mlp.up_proj.weight'].T
        x = x + (torch.nn.functional.silu(g) * u) @ t[p + 'mlp.down_proj.weight'].T
    x = rms_norm(x, t['model.norm.weight'], eps)
    w_out = t['model.embed_tokens.weight'] if c.get('tie_word_embeddings') else t['lm_head.weight']
    return x @ w_out.T


def test_batch(V):
    """Three rows of 12 tokens: full, left-padded by 4, right-padded by 3."""
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(3, V, (3, 12), generator=g)
    mask = torch.ones(3, 12, dtype=torch.int64)
    mask[1, :4] = 0
    mask[2, 9:] = 0
    ids = ids.masked_fill(mask == 0, 0)
    return ids, mask


def logits(model, out):
    with open(os.path.join(model, 'config.json')) as f:
        c = json.load(f)
    t = {k: v.float() for k, v in read_safetensors(os.path.join(model, 'model.safetensors')).items()}
    ids, mask = test_batch(c['vocab_size'])
    with torch.no_grad():
        lg = forward(c, t, ids, mask)
    write_safetensors(out, {'ids': ids, 'mask': mask, 'logits_fp32': lg.float().contiguous()})
    print('%s: logits %s, |max| %.3f' % (c['model_type'], tuple(lg.shape), lg.abs().max().item()))


def greedy(model, den2moe, prompt, n):
    import subprocess
    with open(os.path.join(model, 'config.json')) as f:
        c = json.load(f)
    t = {k: v.float() for k, v in read_safetensors(os.path.join(model, 'model.safetensors')).items()}
    out = subprocess.run([den2moe, 'generate', model, '--prompt', prompt, '-n', str(n), '--json'], check=True,
                         capture_output=True)
    ours = json.loads(out.stdout)
    ids = list(ours['prompt_ids'])
    new = []
    with torch.no_grad():
        for _ in range(n):
            x = torch.tensor([ids])
            nxt = int(forward(c, t, x, torch.ones_like(x))[0, -1].argmax())
            if nxt == c['eos_token_id']:
                break
            ids.append(nxt)
            new.append(nxt)
    same = new == ours['ids']
    print('%s %s: den2moe %s, reference %s' % ('GREEDY_EQUAL' if same else 'GREEDY_DIFFER', c['model_type'],
                                               ours['ids'], new))
    return 0 if same else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make')
    m.add_argument('--arch', choices=sorted(CONFIGS), required=True)
    m.add_argument('--out', required=True)
    m.add_argument('--tokenizer', default='')
    lg = sub.add_parser('logits')
    lg.add_argument('--model', required=True)
    lg.add_argument('--out', required=True)
    gr = sub.add_parser('greedy')
    gr.add_argument('--model', required=True)
    gr.add_argument('--den2moe', required=True)
    gr.add_argument('--prompt', required=True)
    gr.add_argument('-n', type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.cmd == 'make':
        make(a.arch, a.out, a.tokenizer)
    elif a.cmd == 'logits':
        logits(a.model, a.out)
    else:
        return greedy(a.model, a.den2moe, a.prompt, a.n)


if __name__ == '__main__':
    sys.exit(main())
