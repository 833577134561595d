#!/usr/bin/env python3
"""den2moe against the stack researchers actually run: PyPI PyTorch 2.x + transformers (issue 27).

One invocation measures, on the same token stream and the same threads, the perplexity forward pass
(windows of --seq tokens, every window's seq-1 predictions scored) of
  den2moe                 `den2moe ppl --json` (timing.steady_tokens_per_s: model load, data reading and
                          the first batch excluded)
  transformers            AutoModelForCausalLM in the pinned venv (tests/interop/requirements.txt), the
                          same windows, torch.inference_mode, first batch excluded
  Debian eager (dense)    tests/reference/llama_reference.py bench on python3-torch 1.13 (random tokens
                          of the same shape: the reference column the older benchmarks use)
for the dense demo model, a Llama-shaped 50 M model with random weights (hidden 1024, FFN 2816, 4
layers, 16 heads / 4 KV heads, vocab 4096; generated here with seed 0, no download), and MoE models
converted from both (random split, 8 experts, top-1: ours native vs transformers on our Mixtral and
Qwen2-MoE exports), at batch 1 and 8, fp32 and bf16. Perplexities must agree (fp32: rel 1e-4) so both
sides demonstrably ran the same tokens. Each measurement is its own process (peak RSS = that process's
ru_maxrss); ours and transformers alternate; the table holds medians over --rounds.

  bench_vs_transformers.py --den2moe build-nogui/bin/den2moe --venv build-interop/venv
      [--threads 2] [--rounds 3] [--windows 64] [--seq 256] [--models demo,demo-moe,llama50m,llama50m-moe]
      [--dtypes fp32,bf16] [--batches 1,8] [--gemm openblas,onednn] [--work DIR] [--markdown] [--json OUT]

--gemm runs den2moe once per listed fp32 GEMM library ($D2M_GEMM) in every round, next to each other and
against the same transformers runs: one row per library (before/after a library change in one run).

Exits 1 when a ratio (den2moe / transformers) is below 1.0 (issue 27's rule), 2 on a failed run or a
perplexity mismatch. Speed only: nothing here is a test.
"""
import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)

# The transformers side, run by the venv's interpreter: prints one JSON line.
HF_WORKER = r'''
import json, resource, sys, time
import torch
from transformers import AutoModelForCausalLM
a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
dtype = torch.bfloat16 if a["dtype"] == "bf16" else torch.float32
model = AutoModelForCausalLM.from_pretrained(a["model"], dtype=dtype)
model.eval()
ids = torch.tensor(json.load(open(a["ids"])), dtype=torch.long)  # [n]
seq, B = a["seq"], a["batch"]
n_win = ids.numel() // seq
wins = ids[: n_win * seq].view(n_win, seq)
nll, n_scored, t_warm, steady_tokens = 0.0, 0, None, 0
t0 = time.perf_counter()
with torch.inference_mode():
    for b0 in range(0, n_win, B):
        x = wins[b0 : b0 + B]
        logits = model(input_ids=x).logits.float()  # [b, seq, V]
        nll += torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction="sum").item()
        n_scored += x.size(0) * (seq - 1)
        if t_warm is None:
            t_warm = time.perf_counter()
        else:
            steady_tokens += x.numel()
t_end = time.perf_counter()
print(json.dumps({"tokens_per_s": steady_tokens / (t_end - t_warm), "ppl": float(torch.exp(torch.tensor(nll / n_scored))),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                  "torch": torch.__version__, "transformers": __import__("transformers").__version__}))
'''

# A Llama-shaped model with random weights (the venv's torch writes it; transformers' own class).
MAKE_50M = r'''
import json, sys, torch
from transformers import LlamaConfig, LlamaForCausalLM
out = sys.argv[1]
torch.manual_seed(0)
cfg = LlamaConfig(hidden_size=1024, intermediate_size=2816, num_hidden_layers=4, num_attention_heads=16,
                  num_key_value_heads=4, vocab_size=4096, max_position_embeddings=512, rms_norm_eps=1e-5,
                  rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
m = LlamaForCausalLM(cfg)
with torch.no_grad():  # initializer_range 0.02 everywhere: logits of a sane scale
    for p in m.parameters():
        if p.dim() == 2:
            p.normal_(0.0, 0.02)
m.save_pretrained(out, safe_serialization=True)
'''


def run(cmd, env=None):
    """Runs cmd, returns its stdout (exit 2 on failure)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate()
    if p.returncode != 0:
        sys.stderr.write('failed (%d): %s\n%s\n' % (p.returncode, ' '.join(cmd), err.decode(errors='replace')[-2000:]))
        sys.exit(2)
    return out.decode()


def run_rss(cmd, env=None):
    """Runs cmd, returns (stdout, peak RSS MiB of that one process) via wait4."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(), fe.read().decode(errors='replace')
    if p.returncode != 0:
        sys.stderr.write('failed (%d): %s\n%s\n' % (p.returncode, ' '.join(cmd), err[-2000:]))
        sys.exit(2)
    return out, ru.ru_maxrss / 1024.0


def last_json(text):
    return json.loads(text[text.rfind('\n{') + 1:] if '\n{' in text else text[text.find('{'):])


def cpu_name():
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_flags():
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('flags'):
                f = set(line.split(':', 1)[1].split())
                return ', '.join(x for x in ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16') if x in f)
    except OSError:
        pass
    return '?'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--den2moe', default=os.path.join(SRC, 'build-nogui', 'bin', 'den2moe'))
    ap.add_argument('--venv', default=os.path.join(SRC, 'build-interop', 'venv'))
    ap.add_argument('--shared', default=os.environ.get('D2M_SHARED_DIR', os.path.join(os.path.dirname(SRC), 'shared')))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--windows', type=int, default=64)
    ap.add_argument('--seq', type=int, default=256)
    ap.add_argument('--models', default='demo,demo-moe,llama50m,llama50m-moe')
    ap.add_argument('--dtypes', default='fp32,bf16')
    ap.add_argument('--batches', default='1,8')
    ap.add_argument('--gemm', default='', help='comma list of D2M_GEMM values (openblas,onednn): one den2moe row each')
    ap.add_argument('--work', default=os.path.join(SRC, 'build-bench', 'vs-transformers'))
    ap.add_argument('--no-debian', action='store_true', help='skip the Debian eager column')
    ap.add_argument('--markdown', action='store_true')
    ap.add_argument('--json', default='')
    a = ap.parse_args()

    vpy = os.path.join(a.venv, 'bin', 'python')
    if not os.path.exists(vpy):
        sys.exit('no venv at %s: run scripts/run_interop.sh --setup-only first (pinned torch + transformers)' % a.venv)
    os.makedirs(a.work, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY='passive', D2M_SHARED_DIR=a.shared)
    d2m = [a.den2moe]
    demo = os.path.join(a.shared, 'models', 'demo-llama-7m')
    wiki = os.path.join(a.shared, 'data', 'domains', 'wiki', 'test.jsonl.gz')
    n_tokens = a.windows * a.seq

    # the token stream: BOS text EOS per record, as `den2moe ppl` builds it, from den2moe's tokenizer
    ids_file = os.path.join(a.work, 'wiki_ids.json')

    def ids_fit():  # a stream kept from a run with another --windows / --seq would score other tokens
        try:
            return len(json.load(open(ids_file))) == n_tokens
        except (OSError, ValueError):
            return False

    if not ids_fit():
        texts = []
        with gzip.open(wiki, 'rt', encoding='utf-8') as f:
            for line in f:
                texts.append(json.loads(line)['text'])
                if sum(len(t) for t in texts) > n_tokens * 6:
                    break
        cmd = d2m + ['tokenize', demo, '--json']
        for t in texts:
            cmd += ['--text', t]
        tj = last_json(run(cmd, env))
        stream = []
        for row in tj['ids']:  # each row begins with BOS when the tokenizer adds one
            stream += ([] if tj.get('bos') else [1]) + list(row) + [2]
        if len(stream) < n_tokens:
            sys.exit('the wiki test split gave %d tokens, fewer than %d' % (len(stream), n_tokens))
        json.dump(stream[:n_tokens], open(ids_file, 'w'))

    # models
    def ensure(path, make):
        if not os.path.exists(os.path.join(path, 'config.json')) and not os.path.exists(os.path.join(path, 'moe_config.json')):
            make()
        return path

    m50 = os.path.join(a.work, 'llama50m')

    def make50():
        run([vpy, '-c', MAKE_50M, m50], env)
        import shutil
        shutil.copy(os.path.join(demo, 'tokenizer.model'), m50)

    def convert(base, out):
        proj = os.path.join(a.work, os.path.basename(out) + '.den2moe.json')
        p = json.load(open(os.path.join(SRC, 'projects', 'demo.den2moe.json')))
        p['model'] = base
        p['dtype'] = 'fp32'
        json.dump(p, open(proj, 'w'), indent=1)
        run(d2m + ['convert', proj, '--recipe', 'random', '--experts', '8', '--top-k', '1', '--dtype', 'fp32',
                   '--no-eval', '--out', out, '--quiet'], env)
        for fmt in ('mixtral', 'qwen2moe'):
            run(d2m + ['export', out, '--format', fmt, '--out', out + '-' + fmt, '--quiet'], env)

    cases = []  # (label, ours model dir, transformers model dir)
    for name in a.models.split(','):
        if name == 'demo':
            cases.append(('demo-llama-7m', demo, demo, True))
        elif name == 'llama50m':
            ensure(m50, make50)
            cases.append(('Llama-shaped 50 M (random)', m50, m50, True))
        elif name in ('demo-moe', 'llama50m-moe'):
            base = demo if name == 'demo-moe' else ensure(m50, make50)
            out = os.path.join(a.work, name)
            if not os.path.exists(os.path.join(out, 'moe_config.json')):
                convert(base, out)
            label = 'demo' if name == 'demo-moe' else '50 M'
            cases.append(('%s MoE (8 x top-1) vs Mixtral export' % label, out, out + '-mixtral', False))
            cases.append(('%s MoE (8 x top-1) vs Qwen2-MoE export' % label, out, out + '-qwen2moe', False))
        else:
            sys.exit('unknown model %r' % name)

    rows, versions, bad_ppl = [], {}, []
    for label, ours_dir, hf_dir, dense in cases:
        for dtype in a.dtypes.split(','):
            for batch in [int(b) for b in a.batches.split(',')]:
                gemms = a.gemm.split(',') if a.gemm else ['']
                ours = {g: [] for g in gemms}
                rss_o = {g: [] for g in gemms}
                ppl_o = {g: None for g in gemms}
                hf, deb, rss_h = [], [], []
                ppl_h = None
                for r in range(a.rounds):
                    for g in gemms:
                        genv = dict(env, D2M_GEMM=g) if g else env
                        out, rss = run_rss(d2m + ['ppl', ours_dir, '--data', wiki, '--seq', str(a.seq), '--max-tokens',
                                                  str(n_tokens), '--batch', str(batch), '--dtype', dtype, '--threads',
                                                  str(a.threads), '--json', '--quiet'], genv)
                        j = last_json(out)
                        ours[g].append(j['timing']['steady_tokens_per_s'])
                        ppl_o[g] = j['domains'][0]['ppl']
                        rss_o[g].append(rss)
                    w = json.dumps({'model': hf_dir, 'ids': ids_file, 'seq': a.seq, 'batch': batch, 'dtype': dtype,
                                    'threads': a.threads})
                    out, rss = run_rss([vpy, '-c', HF_WORKER, w], env)
                    h = last_json(out)
                    hf.append(h['tokens_per_s'])
                    ppl_h = h['ppl']
                    rss_h.append(rss)
                    versions = {'torch': h['torch'], 'transformers': h['transformers']}
                    if dense and not a.no_debian:
                        out, _ = run_rss(['/usr/bin/python3', os.path.join(SRC, 'tests', 'reference', 'llama_reference.py'),
                                          'bench', '--model', ours_dir, '--threads', str(a.threads), '--batch',
                                          str(batch), '--seq', str(a.seq), '--reps', '3', '--dtype', dtype], env)
                        deb.append(last_json(out)['tokens_per_s'])
                    sys.stderr.write('%s %s b%d round %d: den2moe %s, transformers %.0f tok/s\n' %
                                     (label, dtype, batch, r + 1,
                                      ', '.join('%s%.0f' % (g + ' ' if g else '', ours[g][-1]) for g in gemms), hf[-1]))
                for g in gemms:
                    rel = abs(ppl_o[g] - ppl_h) / ppl_h
                    if dtype == 'fp32' and rel > 1e-4:
                        bad_ppl.append('%s b%d: ppl %.6f vs %.6f' % (label, batch, ppl_o[g], ppl_h))
                    rows.append({'model': label + (' [D2M_GEMM=%s]' % g if g else ''), 'dtype': dtype, 'batch': batch,
                                 'gemm': g, 'den2moe': statistics.median(ours[g]), 'transformers': statistics.median(hf),
                                 'debian_eager': statistics.median(deb) if deb else None,
                                 'ratio': statistics.median(ours[g]) / statistics.median(hf), 'ppl_den2moe': ppl_o[g],
                                 'ppl_transformers': ppl_h, 'rss_den2moe': statistics.median(rss_o[g]),
                                 'rss_transformers': statistics.median(rss_h)})

    ver = run(d2m + ['--version'], env).strip().replace('\n', '; ')
    head = ('CPU: %s (%s); %d threads; %d windows x %d tokens of the wiki test split; %s; transformers %s on PyPI '
            'torch %s' % (cpu_name(), cpu_flags(), a.threads, a.windows, a.seq, ver, versions.get('transformers'),
                          versions.get('torch')))
    print(head)
    if a.markdown:
        print('\n| model | dtype | batch | den2moe tok/s | transformers tok/s | ratio | Debian eager tok/s | '
              'ppl den2moe / transformers | peak RSS den2moe / transformers |')
        print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        deb = '%.0f' % r['debian_eager'] if r['debian_eager'] else '—'
        if a.markdown:
            print('| %s | %s | %d | %.0f | %.0f | %.2fx | %s | %.4f / %.4f | %.0f / %.0f MiB |' % (
                r['model'], r['dtype'], r['batch'], r['den2moe'], r['transformers'], r['ratio'], deb,
                r['ppl_den2moe'], r['ppl_transformers'], r['rss_den2moe'], r['rss_transformers']))
        else:
            print('%-42s %-5s b%-2d %8.0f %8.0f %6.2fx %8s' % (r['model'], r['dtype'], r['batch'], r['den2moe'],
                                                               r['transformers'], r['ratio'], deb))
    ratios = [r['ratio'] for r in rows]
    geo = statistics.geometric_mean(ratios) if ratios else 0
    print('\ngeometric mean ratio: %.2fx over %d configurations; below 1.0: %d' %
          (geo, len(ratios), sum(1 for x in ratios if x < 1.0)))
    if a.json:
        json.dump({'header': head, 'rows': rows, 'geomean': geo}, open(a.json, 'w'), indent=1)
    if bad_ppl:
        print('perplexities differ (fp32, rel > 1e-4): ' + '; '.join(bad_ppl))
        return 2
    return 1 if any(x < 1.0 for x in ratios) else 0


if __name__ == '__main__':
    sys.exit(main())
