#!/usr/bin/python3
"""Independent PyTorch oracle for recovery training (test and benchmark reference only).

Written from DIVE's description (shared/docs/DIVE-FLAP.md sections 5.3 and 6) and Hugging Face's
LlamaForCausalLM, not from the C++ engine: a Llama trunk (RMSNorm in float32, rotate-half RoPE,
repeat_interleave GQA, eager causal attention) whose FFNs are MoE blocks read from a den2moe native
folder (model.safetensors + moe_config.json):
  router stage   g = softmax(W_r x / t) over all experts, every expert computed (DIVE train_router)
  expert stages  top-k of W_r x; g = softmax over the selected logits (top-1: exactly 1), or with
                 router_gate "probability" the selected entries of softmax over all logits
  expert e       E_e(x) = W_down (silu(W_gate x) * W_up x) + b_e, the whole output times g_e
  LoRA           y = W x + (alpha / r) * B A x on the named linear layers (PEFT LoraLayer, dropout 0)
The mixture is formed densely (every expert on every token, weights scattered into [N, E]), unlike
the engine's grouped dispatch. Autograd gives the loss (mean next-token cross-entropy) and the
gradients of exactly the tensors the C++ side trained. Run with Debian's /usr/bin/python3.

  grads  --fixture FILE [--tol 1e-4]   loss + gradients of one batch vs the engine's (test_trainer)
  adamw  --fixture FILE [--tol 1e-6]   torch.optim.AdamW + LambdaLR (HF cosine with min ratio) +
                                       clip_grad_norm_ vs the engine's optimizer steps
  bench  --model DIR --stage router|experts --threads N --batch B --seq S --steps K [--dtype fp32|bf16]
         eager training tokens/s (forward + backward + clipping + AdamW; bf16 = autocast) and peak RSS,
         one JSON line (bench_train)
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # a missing oracle must not look like a pass
    sys.stderr.write("train_oracle.py: cannot import %s; install python3-torch\n" % e.name)
    sys.exit(2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import read_safetensors  # noqa: E402


def read_metadata(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        return json.loads(f.read(n)).get('__metadata__', {})


class MoeLlama:
    def __init__(self, model_dir, dtype=torch.float32):
        self.mc = json.load(open(os.path.join(model_dir, 'moe_config.json')))
        cfg = self.mc['base']
        self.W = {k: v.to(dtype) for k, v in read_safetensors(os.path.join(model_dir, 'model.safetensors')).items()}
        self.L = cfg['num_hidden_layers']
        self.H = cfg['num_attention_heads']
        self.Hkv = cfg.get('num_key_value_heads', self.H)
        self.D = cfg['hidden_size']
        self.Dh = cfg.get('head_dim', self.D // self.H)
        self.eps = cfg['rms_norm_eps']
        self.theta = cfg.get('rope_theta', 10000.0)
        self.E = self.mc.get('num_experts', 0)
        self.k = self.mc.get('top_k', 1)
        self.norm_topk = self.mc.get('router', {}).get('norm_topk', True)
        if 'lm_head.weight' not in self.W:
            self.W['lm_head.weight'] = self.W['model.embed_tokens.weight']
        self.lora = {}       # weight name -> (A, B)
        self.lora_scale = 1.0
        self.lora_dropout = 0.0
        self.routing = 'sparse'
        self.temperature = 1.0
        self.dispatch = 'dense'  # 'gather': Mixtral-style per-expert gather + index_add_ (the eager benchmark)

    def lin(self, x, name):
        y = x @ self.W[name].T
        if name in self.lora:
            A, B = self.lora[name]
            h = F.dropout(x, self.lora_dropout) if self.lora_dropout else x
            y = y + (h @ A.T @ B.T) * self.lora_scale
        return y

    def rms(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * w.float()).to(x.dtype)

    def expert(self, p, x):
        y = self.lin(F.silu(self.lin(x, p + 'gate_proj.weight')) * self.lin(x, p + 'up_proj.weight'),
                     p + 'down_proj.weight')
        if p + 'down_proj.bias' in self.W:
            y = y + self.W[p + 'down_proj.bias']
        return y

    def ffn(self, l, h):
        p = f'model.layers.{l}.mlp.'
        if self.E == 0:
            return self.expert(p, h)
        xf = h.reshape(-1, self.D)
        logits = xf.float() @ self.W[p + 'router.weight'].float().T          # [N, E]
        if self.routing == 'dense':
            w = torch.softmax(logits / self.temperature, -1)
        else:
            if self.norm_topk:
                vals, idx = logits.topk(self.k, -1)
                g = torch.softmax(vals, -1)
            else:
                g, idx = torch.softmax(logits, -1).topk(self.k, -1)
            if self.dispatch == 'gather':  # transformers' MixtralSparseMoeBlock loop
                y = torch.zeros_like(xf)
                for e in range(self.E):
                    tok, slot = torch.where(idx == e)
                    if tok.numel() == 0:
                        continue
                    out = self.expert(p + f'experts.{e}.', xf[tok]) * g[tok, slot, None].to(xf.dtype)
                    y.index_add_(0, tok, out)
                return y.view(h.shape)
            w = torch.zeros_like(logits).scatter(1, idx, g)                   # [N, E], zero off the top-k
        y = 0
        for e in range(self.E):
            y = y + w[:, e:e + 1].to(xf.dtype) * self.expert(p + f'experts.{e}.', xf)
        return y.view(h.shape)

    def hidden(self, ids, mask=None):
        """Final-norm hidden states [B, T, D]. mask [B, T] (1 = token, left padding): positions count
        real tokens (cumsum - 1) and padded keys get finfo.min (Hugging Face's eager mask: a padded
        query row stays finite, and no real row sees a padded key)."""
        B, T = ids.shape
        W = self.W
        inv = 1.0 / (self.theta ** (torch.arange(0, self.Dh, 2).float() / self.Dh))
        pos = torch.arange(T).float()[None, :] if mask is None else (mask.cumsum(1) - 1).clamp_min(0).float()
        fr = pos[..., None] * inv                                             # [1 or B, T, Dh/2]
        emb = torch.cat((fr, fr), -1)[:, None]                                # [1 or B, 1, T, Dh]
        cos, sin = emb.cos(), emb.sin()
        bias = torch.full((T, T), float('-inf')).triu(1)
        if mask is not None:
            bias = bias + torch.zeros(B, 1, 1, T).masked_fill(mask[:, None, None, :] == 0, torch.finfo(torch.float32).min)
        rot = lambda t: torch.cat((-t[..., t.shape[-1] // 2:], t[..., :t.shape[-1] // 2]), -1)  # noqa: E731
        x = W['model.embed_tokens.weight'][ids]
        rep = self.H // self.Hkv
        for l in range(self.L):
            p = f'model.layers.{l}.'
            h = self.rms(x, W[p + 'input_layernorm.weight'])
            q = self.lin(h, p + 'self_attn.q_proj.weight').view(B, T, self.H, self.Dh).transpose(1, 2).float()
            k = self.lin(h, p + 'self_attn.k_proj.weight').view(B, T, self.Hkv, self.Dh).transpose(1, 2).float()
            v = self.lin(h, p + 'self_attn.v_proj.weight').view(B, T, self.Hkv, self.Dh).transpose(1, 2)
            q = (q * cos + rot(q) * sin).to(x.dtype)
            k = (k * cos + rot(k) * sin).to(x.dtype)
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            att = torch.softmax((q @ k.transpose(-1, -2)).float() / math.sqrt(self.Dh) + bias, -1).to(x.dtype)
            o = (att @ v).transpose(1, 2).reshape(B, T, self.H * self.Dh)
            x = x + self.lin(o, p + 'self_attn.o_proj.weight')
            x = x + self.ffn(l, self.rms(x, W[p + 'post_attention_layernorm.weight']))
        return self.rms(x, W['model.norm.weight'])

    def logits(self, ids):
        return self.lin(self.hidden(ids), 'lm_head.weight').float()

    def loss(self, ids):
        lg = self.logits(ids)
        V = lg.shape[-1]
        return F.cross_entropy(lg[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


def rel(a, b):
    return (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)


def fixture_model(t, info):
    """The fixture's model with its trainable tensors as leaves (torch.nn.Parameter, so that a
    Module can hold them too): (MoeLlama, {HF name: leaf})."""
    m = MoeLlama(info['model'])
    if info['stage'] == 'router':
        m.routing, m.temperature = 'dense', info['temperature']
    if info['router_gate'] == 'probability':
        m.norm_topk = False
    leaves = {}
    if info['lora']:
        m.lora_scale = info['lora']['alpha'] / info['lora']['rank']
        for k in t:
            if k.startswith('lora_A:'):
                name = k[len('lora_A:'):]
                A = torch.nn.Parameter(t[k].clone())
                B = torch.nn.Parameter(t['lora_B:' + name].clone())
                m.lora[name] = (A, B)
                mod = name[:-len('.weight')]
                leaves[mod + '.lora_A.weight'] = A
                leaves[mod + '.lora_B.weight'] = B
    for name in info['trainable']:
        if '.lora_' in name:
            continue
        m.W[name] = torch.nn.Parameter(m.W[name].clone())
        leaves[name] = m.W[name]
    missing = [n for n in info['trainable'] if n not in leaves]
    if missing:
        raise SystemExit('trainable tensors the oracle cannot find: %s' % missing[:5])
    return m, leaves


def cmd_grads(a):
    t = read_safetensors(a.fixture)
    info = json.loads(read_metadata(a.fixture)['info'])
    m, leaves = fixture_model(t, info)
    ids = t['ids']
    loss = m.loss(ids)
    loss.backward()
    check_grads(a.fixture, info, t, {n: leaves[n].grad for n in info['trainable']}, loss.item(), a.tol)


def check_grads(fixture, info, t, grads, ref_loss, tol):
    """The engine's loss and gradients in the fixture against the reference's (`grads`: HF name ->
    tensor, None when autograd gave none); prints the worst error, exits 1 above `tol`, else ORACLE_OK."""
    ours = t['loss'].item()
    worst, worst_name, bad = 0.0, '', []
    for name in info['trainable']:
        g_ref = grads[name]
        if g_ref is None:
            g_ref = torch.zeros_like(t['grad:' + name])
        g = t['grad:' + name]
        scale = g_ref.abs().max().item()
        err = (g - g_ref).abs().max().item()
        r = err / scale if scale > 0 else err
        if scale == 0 and err != 0:
            bad.append('%s: reference gradient is exactly 0, ours has max |g| %.3e' % (name, err))
        elif r > tol:
            bad.append('%s: rel err %.3e (max |g| %.3e)' % (name, r, scale))
        if r > worst:
            worst, worst_name = r, name
    zero = sum(1 for n in info['trainable'] if grads[n] is None or grads[n].abs().max().item() == 0)
    loss_rel = abs(ours - ref_loss) / abs(ref_loss)
    print('%s: loss ours %.7f oracle %.7f (rel %.2e); %d gradients, worst rel err %.2e (%s); %d exactly zero'
          % (os.path.basename(fixture), ours, ref_loss, loss_rel, len(info['trainable']), worst, worst_name,
             zero))
    if loss_rel > 1e-5 or bad:
        for b in bad[:10]:
            print('  MISMATCH', b)
        sys.exit(1)
    print('ORACLE_OK')


def hf_cosine_min_lr(num_warmup_steps, num_training_steps, min_lr_rate):
    # transformers.optimization._get_cosine_schedule_with_warmup_lr_lambda (num_cycles 0.5, min_lr_rate)
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        progress = float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
        factor = 0.5 * (1.0 + math.cos(math.pi * float(0.5) * 2.0 * progress))
        factor = factor * (1 - min_lr_rate) + min_lr_rate
        return max(0, factor)
    return lr_lambda


def cmd_adamw(a):
    t = read_safetensors(a.fixture)
    info = json.loads(read_metadata(a.fixture)['info'])
    n = len([k for k in t if k.startswith('p0:')])
    params = [t['p0:%d' % i].clone().requires_grad_(True) for i in range(n)]
    opt = torch.optim.AdamW(params, lr=info['lr'], betas=tuple(info['betas']), eps=info['eps'],
                            weight_decay=info['weight_decay'], foreach=False)
    steps = info['steps']
    warm = math.ceil(info['warmup_ratio'] * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, hf_cosine_min_lr(warm, steps, info['min_lr_ratio']))
    worst_lr = worst_norm = 0.0
    for s in range(steps):
        for i, p in enumerate(params):
            p.grad = t['g:%d:%d' % (s, i)].clone()
        norm = torch.nn.utils.clip_grad_norm_(params, info['clip']).item()
        lr = opt.param_groups[0]['lr']
        worst_lr = max(worst_lr, abs(lr - info['lrs'][s]) / max(abs(lr), 1e-30))
        worst_norm = max(worst_norm, abs(norm - info['norms'][s]) / norm)
        opt.step()
        sched.step()
    worst = max(rel(t['p:%d' % i], params[i].detach()) for i in range(n))
    identical = all(torch.equal(t['p:%d' % i], params[i].detach()) for i in range(n))
    print('adamw: %d steps, lr rel err %.1e, grad-norm rel err %.1e, params rel err %.2e (bit-identical: %s)'
          % (steps, worst_lr, worst_norm, worst, identical))
    if worst > a.tol or worst_lr > 1e-12 or worst_norm > 1e-6:
        sys.exit(1)
    print('ORACLE_OK')


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cmd_bench(a):
    """Eager training steps as a PyTorch user runs them: float32 parameters; --dtype bf16 runs the
    forward under torch.autocast('cpu', bfloat16) (the HF Trainer's bf16 on a CPU: bf16 products,
    float32 master weights and optimizer). Experts stage: LoRA dropout 0.1 as the recipe."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = MoeLlama(a.model, torch.float32)
    m.dispatch = 'gather'
    trainable = []
    if a.stage == 'router':
        m.routing, m.temperature = 'dense', (0.05 if m.k == 1 else 0.5)
        for l in range(m.L):
            trainable.append(f'model.layers.{l}.mlp.router.weight')
    else:
        m.lora_scale, m.lora_dropout = 2.0, 0.1
        for name in sorted(m.W):
            if name.endswith(('gate_proj.weight', 'up_proj.weight', 'down_proj.weight')) and '.experts.' in name:
                out, inp = m.W[name].shape
                A = (torch.rand(8, inp) * 2 - 1) / math.sqrt(inp)
                m.lora[name] = (A.requires_grad_(True), torch.zeros(out, 8).requires_grad_(True))
            if name.endswith('router.weight') or name.endswith('norm.weight'):
                trainable.append(name)
    for n in trainable:
        m.W[n] = m.W[n].clone().requires_grad_(True)
    params = [m.W[n] for n in trainable] + [t for ab in m.lora.values() for t in ab]
    opt = torch.optim.AdamW(params, lr=1e-4, foreach=False)
    V = m.W['lm_head.weight'].shape[0]
    def step():
        ids = torch.randint(3, V, (a.batch, a.seq))
        opt.zero_grad(set_to_none=True)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=a.dtype == 'bf16'):
            loss = m.loss(ids)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    times = []
    cpu0 = 0.0
    for s in range(a.steps + 1):
        if s == 1:
            cpu0 = time.process_time()
        t0 = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t0
        if s > 0:  # the first step warms up
            times.append(dt)
    cpu_step = (time.process_time() - cpu0) / max(a.steps, 1)  # user + sys of all threads, mean of the timed steps
    if a.profile:  # one more step under the (legacy) autograd profiler, as bench_train's D2M_TRAIN_PROFILE
        with torch.autograd.profiler.profile(use_kineto=False) as prof:
            step()
        prof.export_chrome_trace(a.profile)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({'tokens_per_s': a.batch * a.seq / med, 'step_s': med, 'cpu_s_per_step': cpu_step,
                      'peak_rss_mib': peak_rss_mib(),
                      'loss': loss.item()}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('grads')
    g.add_argument('--fixture', required=True)
    g.add_argument('--tol', type=float, default=1e-4)
    o = sub.add_parser('adamw')
    o.add_argument('--fixture', required=True)
    o.add_argument('--tol', type=float, default=1e-6)
    b = sub.add_parser('bench')
    b.add_argument('--model', required=True)
    b.add_argument('--stage', choices=['router', 'experts'], required=True)
    b.add_argument('--threads', type=int, default=2)
    b.add_argument('--batch', type=int, default=8)
    b.add_argument('--seq', type=int, default=256)
    b.add_argument('--steps', type=int, default=5)
    b.add_argument('--dtype', choices=['fp32', 'bf16'], default='fp32')
    b.add_argument('--profile', default='', help='write one extra step as a chrome trace (bench/train_profile.py)')
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')) if a.cmd != 'bench' else a.threads)
    {'grads': cmd_grads, 'adamw': cmd_adamw, 'bench': cmd_bench}[a.cmd](a)


if __name__ == '__main__':
    main()
