#!/usr/bin/env python3
"""The fp32 GEMM libraries on the engine's real shapes, with PyPI torch 2.x as the peer (issue 27).

Alternates two processes --rounds times: bench/bench_gemm (OpenBLAS as the engine calls it, oneDNN's
dnnl_sgemm, oneDNN's matmul primitive with a pre-packed weight; see its header) and the venv's PyPI torch
running torch.nn.functional.linear (MKL / oneDNN) on the same shapes and threads. Prints, per shape and for
the forward-weighted total (4 layers of qkv/o/gate-up/down + the LM head of the 50 M Llama-shaped model),
the median over rounds of each candidate's median GFLOP/s (a sample: repeated calls lasting >= ~40 ms), its share of the nominal peak (threads x fp32
FLOP/cycle x /proc/cpuinfo's MHz: 64 with AVX-512 on two 512-bit FMA pipes (Intel server cores, AMD Zen 5 = family
26), 32 for Zen 4 (family 25: AVX-512 on 256-bit pipes) and AVX2-only CPUs; --peak overrides)
and the ratio to openblas-rows (what the engine ran before oneDNN). Speed only: nothing here is a test.

  bench_gemm_libraries.py --bench build-nogui/bench/bench_gemm --venv build-interop/venv
      [--threads 2] [--rounds 3] [--reps 9] [--rows 2048,256] [--peak GFLOPS] [--markdown]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)

TORCH_WORKER = r'''
import json, sys, time
import torch
a = json.loads(sys.argv[1])
torch.set_num_threads(a["threads"])
shapes = a["shapes"]
for M in a["rows"]:
    fwd_t, fwd_flop = 0.0, 0.0
    for name, N, K, per in shapes:
        torch.manual_seed(0)
        x, w = torch.randn(M, K), torch.randn(N, K) / K ** 0.5
        with torch.inference_mode():
            torch.nn.functional.linear(x, w)
            t0 = time.perf_counter()
            torch.nn.functional.linear(x, w)
            inner = max(1, min(1000, int(0.04 / max(time.perf_counter() - t0, 1e-6))))  # samples of >= ~40 ms
            t = []
            for _ in range(a["reps"]):
                t0 = time.perf_counter()
                for _ in range(inner):
                    torch.nn.functional.linear(x, w)
                t.append((time.perf_counter() - t0) / inner)
        t.sort()
        med = t[len(t) // 2]
        flop = 2.0 * M * N * K
        fwd_t += med * per
        fwd_flop += flop * per
        print(json.dumps({"M": M, "shape": name, "lib": "pypi-torch", "seconds": med, "gflops": flop / med / 1e9}))
    print(json.dumps({"M": M, "shape": "forward", "lib": "pypi-torch", "seconds": fwd_t, "gflops": fwd_flop / fwd_t / 1e9}))
print(json.dumps({"torch": torch.__version__, "blas": torch.backends.mkl.is_available() and "MKL" or "?"}))
'''

SHAPES = [["qkv", 1536, 1024, 4], ["o", 1024, 1024, 4], ["gate_up", 5632, 1024, 4], ["down", 1024, 2816, 4],
          ["lm_head", 4096, 1024, 1]]


def flop_per_cycle():
    flags, family, vendor = set(), 0, ''
    try:
        for line in open('/proc/cpuinfo'):
            k, _, v = line.partition(':')
            k = k.strip()
            if k == 'flags' and not flags:
                flags = set(v.split())
            elif k == 'cpu family' and not family:
                family = int(v)
            elif k == 'vendor_id' and not vendor:
                vendor = v.strip()
    except (OSError, ValueError):
        pass
    if 'avx512f' not in flags or (vendor == 'AuthenticAMD' and family < 26):
        return 32
    return 64


def cpu_mhz():
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('cpu MHz'):
                return float(line.split(':')[1])
    except OSError:
        pass
    return 0.0


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith('{'):
            out.append(json.loads(line))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bench', default=os.path.join(SRC, 'build-nogui', 'bench', 'bench_gemm'))
    ap.add_argument('--venv', default=os.path.join(SRC, 'build-interop', 'venv'))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--reps', type=int, default=9)
    ap.add_argument('--rows', default='2048,256')
    ap.add_argument('--peak', type=float, default=0.0, help='peak GFLOP/s (default: threads x fp32 FLOP/cycle x cpu MHz)')
    ap.add_argument('--markdown', action='store_true')
    a = ap.parse_args()
    if not os.access(a.bench, os.X_OK):
        sys.exit('no bench_gemm at %s: build it (needs libdnnl-dev): ninja -C build-nogui bench_gemm' % a.bench)
    vpy = os.path.join(a.venv, 'bin', 'python')
    if not os.path.exists(vpy):
        sys.exit('no venv at %s: run scripts/run_interop.sh --setup-only first (pinned PyPI torch)' % a.venv)
    rows = [int(r) for r in a.rows.split(',')]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    peak = a.peak or a.threads * flop_per_cycle() * cpu_mhz() / 1e3
    samples = {}  # (M, shape, lib) -> [gflops per round]
    torch_ver = '?'
    for r in range(a.rounds):
        out = subprocess.run([a.bench, '--reps', str(a.reps), '--threads', str(a.threads), '--rows', a.rows, '--json'],
                             env=env, check=True, capture_output=True, text=True).stdout
        for j in json_lines(out):
            samples.setdefault((j['M'], j['shape'], j['lib']), []).append(j['gflops'])
        w = json.dumps({'threads': a.threads, 'reps': a.reps, 'rows': rows, 'shapes': SHAPES})
        out = subprocess.run([vpy, '-c', TORCH_WORKER, w], env=env, check=True, capture_output=True, text=True).stdout
        for j in json_lines(out):
            if 'torch' in j:
                torch_ver = j['torch'] + ' (' + j['blas'] + ')'
            else:
                samples.setdefault((j['M'], j['shape'], j['lib']), []).append(j['gflops'])
        sys.stderr.write('round %d of %d done\n' % (r + 1, a.rounds))
    libs = []
    for (_, _, lib) in samples:
        if lib not in libs:
            libs.append(lib)
    print('fp32 y = x·Wᵀ, %d threads, %d rounds x %d reps (medians of medians); peak %.0f GFLOP/s (nominal); '
          'PyPI torch %s' % (a.threads, a.rounds, a.reps, peak, torch_ver))
    if a.markdown:
        print('\n| rows | shape (N x K) | ' + ' | '.join(libs) + ' |')
        print('|---|---|' + '---|' * len(libs))
    for M in rows:
        for shape in [s[0] for s in SHAPES] + ['forward']:
            base = statistics.median(samples[(M, shape, 'openblas-rows')])
            cells = []
            for lib in libs:
                g = statistics.median(samples[(M, shape, lib)])
                cells.append('%.0f (%.0f%%, %.2fx)' % (g, 100 * g / peak if peak else 0, g / base))
            dims = next(('%d x %d' % (s[1], s[2]) for s in SHAPES if s[0] == shape), 'weighted')
            if a.markdown:
                print('| %d | %s %s | %s |' % (M, shape, dims, ' | '.join(cells)))
            else:
                print('M %5d %-8s %-12s ' % (M, shape, dims) + '  '.join('%s %s' % (l, c) for l, c in zip(libs, cells)))
    print('\ncells: GFLOP/s (share of the nominal peak, ratio to openblas-rows)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
