#!/usr/bin/python3
"""Independent PyTorch reference for Llama checkpoints in Hugging Face layout (test oracle only).

Written from the Hugging Face LlamaForCausalLM definition (rotate-half RoPE, repeat_interleave
GQA, eager attention), not from the C++ engine. Reads safetensors with its own parser.
Run with Debian's /usr/bin/python3 (python3-torch, python3-sentencepiece, python3-numpy).

  logits --model DIR --out FILE.safetensors      batched prompts with left/right padding -> logits
  ppl    --model DIR --domains ROOT --seq S --max-tokens N --out FILE.json   per-domain perplexity
  bench  --model DIR --threads N ...              eager tokens/s (used by bench_forward)
  embed  --model DIR --texts FILE.json --batch B    eager text-embedding tokens/s (used by bench_embed):
         BOS + prompt, left-padded batches, final-norm hidden state at the last token; batches in the
         given order (as MoEE's encode runs them) and in length-sorted order (as the engine does)
"""
import argparse, gzip, json, math, os, struct, sys, time
import numpy as np
import torch
import torch.nn.functional as F

PROMPTS = [
    "Once upon a time, there was a little girl named Lily.",
    "Question: What is 12 times 7?\nAnswer:",
    "def fibonacci(n):\n    if n < 2:\n        return n",
    "The stock market fell sharply on Monday as investors",
    "Photosynthesis converts light energy into",
    "O Romeo, Romeo, wherefore art thou",
]

DT = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64,
      'I32': torch.int32, 'F64': torch.float64}


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        b, e = v['data_offsets']
        if e == b:  # an empty tensor (frombuffer rejects an empty buffer)
            out[k] = torch.zeros(v['shape'], dtype=DT[v['dtype']])
            continue
        t = torch.frombuffer(bytearray(data[b:e]), dtype=DT[v['dtype']]).reshape(v['shape'])
        out[k] = t.clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    names = {torch.float32: 'F32', torch.int64: 'I64', torch.bfloat16: 'BF16', torch.float64: 'F64'}
    for k in sorted(tensors):
        t = tensors[k].contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[k] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(',', ':')).encode()
    hj += b' ' * ((8 - len(hj) % 8) % 8)
    with open(path + '.tmp', 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(path + '.tmp', path)


class Llama:
    """Eager forward in the style of transformers' LlamaForCausalLM."""

    def __init__(self, model_dir, dtype=torch.float32):
        cfg = json.load(open(os.path.join(model_dir, 'config.json')))
        self.cfg = cfg
        self.dtype = dtype
        w = read_safetensors(os.path.join(model_dir, 'model.safetensors'))
        self.w = {k: v.to(dtype) for k, v in w.items()}
        self.L = cfg['num_hidden_layers']
        self.H = cfg['num_attention_heads']
        self.Hkv = cfg.get('num_key_value_heads', self.H)
        self.D = cfg['hidden_size']
        self.Dh = cfg.get('head_dim', self.D // self.H)
        self.eps = cfg['rms_norm_eps']
        self.theta = cfg.get('rope_theta', 10000.0)
        if 'lm_head.weight' not in self.w:
            self.w['lm_head.weight'] = self.w['model.embed_tokens.weight']

    def rms(self, x, wt):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * wt.float()).to(x.dtype)

    @staticmethod
    def rotate_half(x):
        a, b = x.chunk(2, dim=-1)
        return torch.cat((-b, a), dim=-1)

    def hidden(self, ids, mask=None):
        B, T = ids.shape
        W = self.w
        if mask is None:
            mask = torch.ones(B, T, dtype=torch.long)
        pos = (mask.long().cumsum(1) - 1).clamp(min=0)                       # [B, T]
        inv = 1.0 / (self.theta ** (torch.arange(0, self.Dh, 2).float() / self.Dh))
        fr = pos.float()[..., None] * inv                                     # [B, T, Dh/2]
        emb = torch.cat((fr, fr), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]                     # [B, 1, T, Dh]
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        allowed = causal[None] & mask.bool()[:, None, :]
        allowed = allowed | torch.eye(T, dtype=torch.bool)[None]
        bias = torch.zeros(B, 1, T, T).masked_fill(~allowed[:, None], float('-inf'))
        x = W['model.embed_tokens.weight'][ids]
        for l in range(self.L):
            p = f'model.layers.{l}.'
            h = self.rms(x, W[p + 'input_layernorm.weight'])
            q = (h @ W[p + 'self_attn.q_proj.weight'].T).view(B, T, self.H, self.Dh).transpose(1, 2)
            k = (h @ W[p + 'self_attn.k_proj.weight'].T).view(B, T, self.Hkv, self.Dh).transpose(1, 2)
            v = (h @ W[p + 'self_attn.v_proj.weight'].T).view(B, T, self.Hkv, self.Dh).transpose(1, 2)
            qf, kf = q.float(), k.float()
            q = (qf * cos + self.rotate_half(qf) * sin).to(self.dtype)
            k = (kf * cos + self.rotate_half(kf) * sin).to(self.dtype)
            rep = self.H // self.Hkv
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            att = (q @ k.transpose(-1, -2)).float() / math.sqrt(self.Dh) + bias
            o = (att.softmax(-1).to(self.dtype) @ v).transpose(1, 2).reshape(B, T, self.H * self.Dh)
            x = x + o @ W[p + 'self_attn.o_proj.weight'].T
            h = self.rms(x, W[p + 'post_attention_layernorm.weight'])
            a = F.silu(h @ W[p + 'mlp.gate_proj.weight'].T) * (h @ W[p + 'mlp.up_proj.weight'].T)
            x = x + a @ W[p + 'mlp.down_proj.weight'].T
        return self.rms(x, W['model.norm.weight'])

    def logits(self, ids, mask=None):
        return (self.hidden(ids, mask) @ self.w['lm_head.weight'].T).float()


def load_sp(model_dir):
    import sentencepiece as spm
    return spm.SentencePieceProcessor(model_file=os.path.join(model_dir, 'tokenizer.model'))


def cmd_logits(a):
    torch.set_num_threads(a.threads)
    sp = load_sp(a.model)
    toks = [[1] + sp.encode(p) for p in PROMPTS]
    T = max(len(t) for t in toks)
    B = len(toks)
    ids = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    for i, t in enumerate(toks):
        if i % 2 == 0:   # left padding
            ids[i, T - len(t):] = torch.tensor(t); mask[i, T - len(t):] = 1
        else:            # right padding
            ids[i, :len(t)] = torch.tensor(t); mask[i, :len(t)] = 1
    out = {'ids': ids, 'mask': mask}
    with torch.no_grad():
        out['logits_fp32'] = Llama(a.model, torch.float32).logits(ids, mask)
        out['logits_bf16'] = Llama(a.model, torch.bfloat16).logits(ids, mask)
    write_safetensors(a.out, out)
    json.dump({'prompts': PROMPTS, 'ids': toks}, open(a.out + '.json', 'w'), indent=1)
    print('wrote', a.out, 'batch', B, 'T', T)


def domain_stream(sp, path, max_tokens):
    ids = []
    with gzip.open(path, 'rt', encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            ids += [1] + sp.encode(json.loads(line)['text']) + [2]
            if max_tokens and len(ids) >= max_tokens:
                break
    return ids[:max_tokens] if max_tokens else ids


def cmd_ppl(a):
    torch.set_num_threads(a.threads)
    sp = load_sp(a.model)
    m = Llama(a.model, torch.float32)
    names = [d['name'] for d in json.load(open(os.path.join(a.domains, 'domains.json')))['domains']]
    res = {}
    for name in names:
        s = torch.tensor(domain_stream(sp, os.path.join(a.domains, name, 'test.jsonl.gz'), a.max_tokens))
        S = a.seq
        nw = len(s) // S
        nll, cnt = 0.0, 0
        with torch.no_grad():
            for i in range(0, nw, 8):
                ids = torch.stack([s[j * S:(j + 1) * S] for j in range(i, min(nw, i + 8))])
                lg = m.logits(ids)
                lp = lg[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None])
                nll -= lp.double().sum().item()
                cnt += lp.numel()
        res[name] = {'ppl': math.exp(nll / cnt), 'mean_nll': nll / cnt, 'scored': cnt, 'windows': nw}
        print(name, res[name], flush=True)
    json.dump(res, open(a.out, 'w'), indent=1)


def cmd_bench(a):
    """Eager PyTorch tokens/s for PPL-style batches (random tokens): median of --reps."""
    torch.set_num_threads(a.threads)
    dtype = torch.bfloat16 if a.dtype == 'bf16' else torch.float32
    m = Llama(a.model, dtype)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, m.cfg['vocab_size'], (a.batch, a.seq), generator=g)
    times = []
    with torch.no_grad():
        for r in range(a.reps + 1):
            t0 = time.perf_counter()
            m.logits(ids).log_softmax(-1)
            if r > 0:
                times.append(time.perf_counter() - t0)
    med = float(np.median(times))
    print(json.dumps({'impl': 'pytorch-eager', 'dtype': a.dtype, 'batch': a.batch, 'seq': a.seq,
                      'median_s': med, 'tokens_per_s': a.batch * a.seq / med, 'torch': torch.__version__}))


def cmd_embed(a):
    torch.set_num_threads(a.threads)
    dtype = torch.bfloat16 if a.dtype == 'bf16' else torch.float32
    prompts = json.load(open(a.texts))
    sp = load_sp(a.model)
    m = Llama(a.model, dtype)

    def encode(sort):
        ids = [[1] + sp.encode(p) for p in prompts]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i])) if sort else list(range(len(ids)))
        out = torch.empty(len(ids), m.D)
        for b0 in range(0, len(order), a.batch):
            rows = order[b0:b0 + a.batch]
            T = max(len(ids[i]) for i in rows)
            x = torch.zeros(len(rows), T, dtype=torch.long)
            mask = torch.zeros(len(rows), T, dtype=torch.long)
            for r, i in enumerate(rows):
                x[r, T - len(ids[i]):] = torch.tensor(ids[i])
                mask[r, T - len(ids[i]):] = 1
            out[rows] = m.hidden(x, mask)[:, -1].float()
        return out, sum(len(t) for t in ids)

    res = {'impl': 'pytorch-eager', 'dtype': a.dtype, 'batch': a.batch, 'texts': len(prompts),
           'torch': torch.__version__}
    with torch.no_grad():
        for name, sort in (('given_order', False), ('sorted', True)):
            times = []
            for r in range(a.reps + 1):
                t0 = time.perf_counter()
                _, ntok = encode(sort)
                if r > 0:
                    times.append(time.perf_counter() - t0)
            med = float(np.median(times))
            res[name] = {'median_s': med, 'tokens': ntok, 'tokens_per_s': ntok / med}
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('logits', 'ppl', 'bench', 'embed'):
        p = sub.add_parser(name)
        p.add_argument('--model', required=True)
        p.add_argument('--threads', type=int, default=2)
        p.add_argument('--out', default='')
        p.add_argument('--domains', default='')
        p.add_argument('--seq', type=int, default=256)
        p.add_argument('--max-tokens', type=int, default=0)
        p.add_argument('--batch', type=int, default=8)
        p.add_argument('--reps', type=int, default=5)
        p.add_argument('--dtype', default='fp32')
        p.add_argument('--texts', default='')
    a = ap.parse_args()
    {'logits': cmd_logits, 'ppl': cmd_ppl, 'bench': cmd_bench, 'embed': cmd_embed}[a.cmd](a)


if __name__ == '__main__':
    main()
