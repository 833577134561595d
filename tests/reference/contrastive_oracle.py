#!/usr/bin/python3
"""Independent PyTorch oracle for embedding training (test reference only).

Written from the usual sentence-embedding definitions, not from the C++ engine:
  embedding   the final-norm hidden state of a Llama forward (train_oracle.MoeLlama, each text run
              ALONE: no padding, unlike the engine's left-padded batch) at the last token, or the mean
              over tokens; then F.normalize
  infonce     F.cross_entropy(q @ c.T / tau, arange(B)) where c = [positives; hard negatives]
              (sentence-transformers' MultipleNegativesRankingLoss with scale 1/tau)
  cosmse      F.mse_loss(F.cosine_similarity(q, p), labels) (sentence-transformers' CosineSimilarityLoss)
  distill     training.distill: + w * mean(1 - cos(e, e0)) (embedding) or + w * mse(e e^T, e0 e0^T)
              (similarity), e0 = the start model's embeddings (the weights as read), on a fixture recorded
              after a few steps (its trained tensors' values are in it)
Autograd gives the loss and the gradients of the tensors the engine trained (train_oracle.check_grads).

  grads  --fixture FILE [--tol 1e-4] [--batched]
                                        the engine's loss + gradients (test_contrastive) vs ours; --batched:
                                        the texts as ONE left-padded batch with an attention mask (the
                                        benchmark's eager peer) instead of each alone
  bench  --model DIR --batches FILE [--loss infonce|cosmse] [--lora R] [--tau 0.05] [--dtype fp32|bf16]
                                        eager contrastive training tokens/s on bench_train's batches (one JSON line)
  gathered --fixture FILE [--ranks 2] [--tol 1e-4]
                                        ms-swift's cross-rank InfoNCE (INFONCE_USE_BATCH, DEN2MOEE.md §3.2) on
                                        the infonce fixture's pairs split in contiguous shares over R ranks:
                                        each rank's loss is over ALL anchors vs ALL candidates, only its own
                                        embeddings differentiable (the others detached); the engine's
                                        all-reduced (summed) gradient must equal the sum of the ranks' own
                                        gradients, which the engine's one-process fixture is compared to.
                                        Also prints how far the local-anchor variant (each rank's anchors
                                        only, sentence-transformers' gather) is from it.
  budget --fixture FILE                 Den2MoEE's budget-bias update (DEN2MOEE.md §1.3) in NumPy float64
                                        on the engine's random cases, rel 1e-6 of the update
"""
import argparse
import json
import math
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # a missing oracle must not look like a pass
    sys.stderr.write("contrastive_oracle.py: cannot import %s; install python3-torch\n" % e.name)
    sys.exit(2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import read_safetensors  # noqa: E402
from train_oracle import MoeLlama, check_grads, read_metadata  # noqa: E402


def dense_llama(hf_dir):
    """A MoeLlama over a dense Hugging Face folder (config.json + model.safetensors): no experts,
    so each FFN is the plain SwiGLU MLP; lm_head replaced by the identity, so that logits() returns
    the final-norm hidden state."""
    cfg = json.load(open(os.path.join(hf_dir, 'config.json')))
    m = MoeLlama.__new__(MoeLlama)
    m.mc = {'base': cfg}
    m.W = {k: v.to(torch.float32) for k, v in read_safetensors(os.path.join(hf_dir, 'model.safetensors')).items()}
    m.L = cfg['num_hidden_layers']
    m.H = cfg['num_attention_heads']
    m.Hkv = cfg.get('num_key_value_heads', m.H)
    m.D = cfg['hidden_size']
    m.Dh = cfg.get('head_dim', m.D // m.H)
    m.eps = cfg['rms_norm_eps']
    m.theta = cfg.get('rope_theta', 10000.0)
    m.E, m.k, m.norm_topk = 0, 1, True
    m.lora, m.lora_scale, m.lora_dropout = {}, 1.0, 0.0
    m.routing, m.temperature, m.dispatch = 'sparse', 1.0, 'dense'
    m.W['lm_head.weight'] = torch.eye(m.D)
    return m


def embed(m, ids, pooling):
    h = m.logits(ids.view(1, -1))[0]          # [T, D] final-norm hidden states (identity head)
    e = h[-1] if pooling == 'last' else h.mean(0)
    return F.normalize(e, dim=-1)


def batched_embed(m, seqs, pooling):
    """Embeddings [N, D] of token-id lists run as ONE left-padded batch with an attention mask (how a
    PyTorch user trains: train_oracle.MoeLlama.hidden, positions counting real tokens)."""
    T, N = max(len(x) for x in seqs), len(seqs)
    ids = torch.zeros(N, T, dtype=torch.long)
    mask = torch.zeros(N, T, dtype=torch.long)
    for r, x in enumerate(seqs):
        ids[r, T - len(x):] = torch.as_tensor(x, dtype=torch.long)
        mask[r, T - len(x):] = 1
    h = m.hidden(ids, mask)                    # [N, T, D] final-norm hidden states
    if pooling == 'last':
        e = h[:, -1].float()
    else:
        mf = mask.float()[..., None]
        e = (h.float() * mf).sum(1) / mf.sum(1).clamp_min(1.0)
    return F.normalize(e, dim=-1)


def pair_loss(e, B, loss, tau, labels=None):
    """e = [queries (B); candidates]: InfoNCE over all candidates, or cos-MSE of query b vs candidate b."""
    if loss == 'infonce':
        return F.cross_entropy(e[:B] @ e[B:].T / tau, torch.arange(B))
    return F.mse_loss(F.cosine_similarity(e[:B], e[B:2 * B]), labels)


def distill_term(e, e0, kind):
    """How far embeddings e [N, D] moved from the start model's e0 (no gradient): 'embedding' =
    mean of 1 - cosine similarity; 'similarity' = mean squared difference of the Gram matrices."""
    if kind == 'embedding':
        return (1 - F.cosine_similarity(e, e0)).mean()
    return F.mse_loss(e @ e.T, e0 @ e0.T)


def cmd_grads(a):
    t = read_safetensors(a.fixture)
    info = json.loads(read_metadata(a.fixture)['info'])
    m = dense_llama(info['model'])
    leaves = {}
    for name in info['trainable']:
        # a fixture recorded after some steps (training.distill) carries the trained tensors' values
        m.W[name] = torch.nn.Parameter((t['param:' + name] if info.get('trained') else m.W[name]).clone())
        leaves[name] = m.W[name]
    rows = info['texts']                       # per pair: [query, positive, negatives...] text numbers
    kind = info.get('distill', 'none')
    if kind != 'none':
        assert not a.batched, 'grads --batched: fixtures without distill'
        # training.distill: the start model (the weights as read) embeds every text, each alone
        m0 = dense_llama(info['model'])
        with torch.no_grad():
            E0 = lambda k: embed(m0, t['text:%d' % k], info['pooling'])  # noqa: E731
            order = [r[0] for r in rows] + [r[1] for r in rows]
            if info['loss'] == 'infonce':
                order += [k for r in rows for k in r[2:]]
            e0 = torch.stack([E0(k) for k in order])
        e = torch.stack([embed(m, t['text:%d' % k], info['pooling']) for k in order])  # [N, D], with autograd
        B = len(rows)
        lab = torch.tensor(info['labels'], dtype=torch.float32)
        base = pair_loss(e, B, info['loss'], info['tau'], lab)
        term = distill_term(e, e0, kind)
        loss = base + info['distill_weight'] * term
        print('distill %s: base loss %.6f, weight x term %.6f (%.1f%% of the loss)'
              % (kind, base.item(), info['distill_weight'] * term.item(), 100 * info['distill_weight'] * term.item() / loss.item()))
        if info['distill_weight'] * term.item() < 0.05 * loss.item():
            print('  MISMATCH the fixture\'s distillation term is too small to test (< 5 % of the loss)')
            sys.exit(1)
        loss.backward()
        check_grads(a.fixture, info, t, {n: leaves[n].grad for n in info['trainable']}, loss.item(), a.tol)
        return
    if a.batched:  # the benchmark's eager peer: one left-padded batch (queries; positives; negatives)
        seqs = [t['text:%d' % r[0]].tolist() for r in rows] + [t['text:%d' % r[1]].tolist() for r in rows]
        if info['loss'] == 'infonce':
            seqs += [t['text:%d' % k].tolist() for r in rows for k in r[2:]]
        lab = torch.tensor(info['labels'], dtype=torch.float32)
        loss = pair_loss(batched_embed(m, seqs, info['pooling']), len(rows), info['loss'], info['tau'], lab)
        loss.backward()
        check_grads(a.fixture, info, t, {n: leaves[n].grad for n in info['trainable']}, loss.item(), a.tol)
        return
    E = lambda k: embed(m, t['text:%d' % k], info['pooling'])  # noqa: E731
    q = torch.stack([E(r[0]) for r in rows])   # [B, D]
    p = torch.stack([E(r[1]) for r in rows])   # [B, D]
    if info['loss'] == 'infonce':
        negs = [E(k) for r in rows for k in r[2:]]
        c = torch.cat([p] + ([torch.stack(negs)] if negs else []))  # [B + N, D]
        loss = F.cross_entropy(q @ c.T / info['tau'], torch.arange(len(rows)))
    else:
        lab = torch.tensor(info['labels'], dtype=torch.float32)
        loss = F.mse_loss(F.cosine_similarity(q, p), lab)
    loss.backward()
    check_grads(a.fixture, info, t, {n: leaves[n].grad for n in info['trainable']}, loss.item(), a.tol)


def cmd_gathered(a):
    t = read_safetensors(a.fixture)
    info = json.loads(read_metadata(a.fixture)['info'])
    assert info['loss'] == 'infonce', 'gathered: an infonce fixture is needed'
    m = dense_llama(info['model'])
    leaves = {}
    for name in info['trainable']:
        m.W[name] = torch.nn.Parameter(m.W[name].clone())
        leaves[name] = m.W[name]
    rows, W, tau = info['texts'], a.ranks, info['tau']
    B = len(rows)
    shares = [rows[B * r // W: B * (r + 1) // W] for r in range(W)]

    def block(share):  # a rank's embeddings: its queries, positives, hard negatives
        E = lambda k: embed(m, t['text:%d' % k], info['pooling'])  # noqa: E731
        return ([E(x[0]) for x in share], [E(x[1]) for x in share], [E(k) for x in share for k in x[2:]])

    def grads_of(loss):
        g = torch.autograd.grad(loss, [leaves[n] for n in info['trainable']], allow_unused=True, retain_graph=True)
        return [torch.zeros_like(leaves[n]) if x is None else x for n, x in zip(info['trainable'], g)]

    blocks = [block(sh) for sh in shares]
    total, local_total, swift_losses = None, None, []
    for r in range(W):
        # rank r: its own block with autograd, the others as all_gather delivers them (detached)
        bl = [blocks[u] if u == r else tuple([e.detach() for e in part] for part in blocks[u]) for u in range(W)]
        q = torch.stack([e for b in bl for e in b[0]])                                   # [B, D]
        c = torch.stack([e for b in bl for e in b[1]] + [e for b in bl for e in b[2]])   # [B + N, D]
        loss = F.cross_entropy(q @ c.T / tau, torch.arange(B))
        swift_losses.append(loss.item())
        g = grads_of(loss)
        total = g if total is None else [x + y for x, y in zip(total, g)]
        # the local-anchor variant: rank r's anchors only (against all candidates), DDP-averaged
        lo = sum(len(shares[u]) for u in range(r))
        ll = F.cross_entropy(q[lo:lo + len(shares[r])] @ c.T / tau, torch.arange(lo, lo + len(shares[r])))
        g = [x / W for x in grads_of(ll)]
        local_total = g if local_total is None else [x + y for x, y in zip(local_total, g)]
    num = sum(((x - y) ** 2).sum() for x, y in zip(local_total, total)).sqrt().item()
    den = sum((y ** 2).sum() for y in total).sqrt().item()
    cos = (sum((x * y).sum() for x, y in zip(local_total, total)) /
           (sum((x ** 2).sum() for x in local_total).sqrt() * den)).item()
    print('%d ranks x %s pairs: every rank\'s gathered loss %s; the local-anchor variant\'s gradient is '
          '%.2f%% (L2) off the gathered one (cosine %.4f)'
          % (W, [len(sh) for sh in shares], ' '.join('%.7f' % x for x in swift_losses), 100 * num / den, cos))
    if max(swift_losses) - min(swift_losses) > 1e-6 * abs(swift_losses[0]):
        print('  MISMATCH the ranks disagree on the gathered loss')
        sys.exit(1)
    check_grads(a.fixture, info, t, dict(zip(info['trainable'], total)), swift_losses[0], a.tol)


def cmd_budget(a):
    import numpy as np
    t = read_safetensors(a.fixture)
    info = json.loads(read_metadata(a.fixture)['info'])
    worst = 0.0
    for c, cs in enumerate(info['cases']):
        g = lambda n: t['%s:%d' % (n, c)].double().numpy()  # noqa: E731
        score, counts, before, after = g('score'), g('counts'), g('before'), g('after')
        w = 1.0 + cs['beta'] * score
        ideal = cs['k_e'] / cs['k'] * w / w.sum()
        t_all = float(cs['tokens']) if cs['t_all_tokens'] else counts.sum()
        actual = counts / (cs['k'] * t_all)
        want = before + cs['eta'] * (ideal - actual)
        err = np.abs((after - before) - (want - before)).max() / np.abs(want - before).max()
        print('case %d (T_all = %s): update rel err %.2e' % (c, 'tokens' if cs['t_all_tokens'] else 'routed', err))
        worst = max(worst, err)
    if worst > 1e-4:  # float32 storage of a 1e-3-scale update on a 1e-3-scale bias
        sys.exit(1)
    print('ORACLE_OK')


def peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cmd_bench(a):
    """Eager contrastive training steps as a PyTorch user runs them (bench_train's peer): float32
    parameters (bf16 = autocast), every step's texts in one left-padded batch, last-token / mean
    pooling + F.normalize, InfoNCE (in-batch + hard negatives) or cos-MSE, backward,
    clip_grad_norm_(1.0), torch.optim.AdamW. The batches (token ids, labels) are bench_train's, in its
    trainer's order. Full fine-tune: every self_attn / mlp weight and every norm (the embedding
    stage's default); --lora R: LoRA r R (alpha 2R, dropout 0.1) on q/k/v/o/gate/up/down + the norms."""
    import time
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    data = json.load(open(a.batches))
    m = dense_llama(a.model)
    if a.lora:
        m.lora_scale, m.lora_dropout = 2.0, 0.1
        for name in sorted(m.W):
            if name.endswith(('_proj.weight',)) and '.layers.' in name:
                out, inp = m.W[name].shape
                A = (torch.rand(a.lora, inp) * 2 - 1) / math.sqrt(inp)
                m.lora[name] = (A.requires_grad_(True), torch.zeros(out, a.lora).requires_grad_(True))
        trainable = [n for n in sorted(m.W) if n.endswith('norm.weight')]
    else:
        trainable = [n for n in sorted(m.W) if '.self_attn.' in n or '.mlp.' in n or n.endswith('norm.weight')]
    for n in trainable:
        m.W[n] = m.W[n].clone().requires_grad_(True)
    params = [m.W[n] for n in trainable] + [t for ab in m.lora.values() for t in ab]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0, foreach=False)

    def step(batch):
        q = [p['ids'][0] for p in batch]
        c = [p['ids'][1] for p in batch]
        if a.loss == 'infonce':
            c += [x for p in batch for x in p['ids'][2:]]
        lab = torch.tensor([p.get('label', float('nan')) for p in batch], dtype=torch.float32)
        opt.zero_grad(set_to_none=True)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=a.dtype == 'bf16'):
            e = batched_embed(m, q + c, a.pooling)
        loss = pair_loss(e.float(), len(q), a.loss, a.tau, lab)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item(), sum(len(x) for x in q + c)

    steps = data['steps']
    rates, times, losses = [], [], []
    cpu0 = 0.0
    for s, batch in enumerate(steps):
        if s == 1:
            cpu0 = time.process_time()
        t0 = time.perf_counter()
        loss, tokens = step(batch)
        dt = time.perf_counter() - t0
        losses.append(loss)
        if s > 0:  # the first step warms up
            times.append(dt)
            rates.append(tokens / dt)
    n = max(len(steps) - 1, 1)
    cpu_step = (time.process_time() - cpu0) / n
    if a.profile:  # one more step under the (legacy) autograd profiler, as bench_train's D2M_TRAIN_PROFILE
        with torch.autograd.profiler.profile(use_kineto=False) as prof:
            step(steps[-1])
        prof.export_chrome_trace(a.profile)
    rates.sort()
    times.sort()
    print(json.dumps({'tokens_per_s': rates[len(rates) // 2], 'step_s': times[len(times) // 2],
                      'cpu_s_per_step': cpu_step, 'peak_rss_mib': peak_rss_mib(),
                      'loss': losses[-1], 'first_loss': losses[0]}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('grads')
    g.add_argument('--fixture', required=True)
    g.add_argument('--tol', type=float, default=1e-4)
    g.add_argument('--batched', action='store_true',
                   help="the texts as one left-padded batch with an attention mask (the benchmark's eager peer)")
    g = sub.add_parser('gathered')
    g.add_argument('--fixture', required=True)
    g.add_argument('--ranks', type=int, default=2)
    g.add_argument('--tol', type=float, default=1e-4)
    b = sub.add_parser('budget')
    b.add_argument('--fixture', required=True)
    b = sub.add_parser('bench')
    b.add_argument('--model', required=True, help='dense Hugging Face folder')
    b.add_argument('--batches', required=True, help="bench_train's JSON: {steps: [[{ids: [[q], [p], [n]...], label}]]}")
    b.add_argument('--loss', choices=['infonce', 'cosmse'], default='infonce')
    b.add_argument('--tau', type=float, default=0.05)
    b.add_argument('--pooling', choices=['last', 'mean'], default='last')
    b.add_argument('--lora', type=int, default=0, help='LoRA rank (0 = full fine-tune)')
    b.add_argument('--lr', type=float, default=5e-5)
    b.add_argument('--threads', type=int, default=2)
    b.add_argument('--dtype', choices=['fp32', 'bf16'], default='fp32')
    b.add_argument('--profile', default='', help='write one extra step as a chrome trace (bench/train_profile.py)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads if a.cmd == 'bench' else int(os.environ.get('OMP_NUM_THREADS', '2')))
    {'grads': cmd_grads, 'gathered': cmd_gathered, 'budget': cmd_budget, 'bench': cmd_bench}[a.cmd](a)


if __name__ == '__main__':
    main()
