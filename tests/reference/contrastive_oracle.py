#!/usr/bin/python3
"""Independent PyTorch oracle for embedding training (test reference only).

Written from the usual sentence-embedding definitions, not from the C++ engine:
  embedding   the final-norm hidden state of a Llama forward (train_oracle.MoeLlama, each text run
              ALONE: no padding, unlike the engine's left-padded batch) at the last token, or the mean
              over tokens; then F.normalize
  infonce     F.cross_entropy(q @ c.T / tau, arange(B)) where c = [positives; hard negatives]
              (sentence-transformers' MultipleNegativesRankingLoss with scale 1/tau)
  cosmse      F.mse_loss(F.cosine_similarity(q, p), labels) (sentence-transformers' CosineSimilarityLoss)
Autograd gives the loss and the gradients of the tensors the engine trained (train_oracle.check_grads).

  grads  --fixture FILE [--tol 1e-4]    the engine's loss + gradients (test_contrastive) vs ours
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


def cmd_grads(a):
    t = read_safetensors(a.fixture)
    info = json.loads(read_metadata(a.fixture)['info'])
    m = dense_llama(info['model'])
    leaves = {}
    for name in info['trainable']:
        m.W[name] = torch.nn.Parameter(m.W[name].clone())
        leaves[name] = m.W[name]
    E = lambda k: embed(m, t['text:%d' % k], info['pooling'])  # noqa: E731
    rows = info['texts']                       # per pair: [query, positive, negatives...] text numbers
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


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('grads')
    g.add_argument('--fixture', required=True)
    g.add_argument('--tol', type=float, default=1e-4)
    g = sub.add_parser('gathered')
    g.add_argument('--fixture', required=True)
    g.add_argument('--ranks', type=int, default=2)
    g.add_argument('--tol', type=float, default=1e-4)
    b = sub.add_parser('budget')
    b.add_argument('--fixture', required=True)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '2')))
    {'grads': cmd_grads, 'gathered': cmd_gathered, 'budget': cmd_budget}[a.cmd](a)


if __name__ == '__main__':
    main()
