#!/usr/bin/python3
"""Issue 20's hostile inputs against the den2moe CLI: each example of the issue's "Argument parsing",
"Late validation and partial outputs", "Paths from files", "Non-finite weights" and "Smaller" lists,
run as a user would, asserting the exit code (1 = user error, never 2 or a signal), a message naming
the option / file / tensor / key, and that nothing half-written is left behind (no output folder, no
*.tmp-* file, a folder's other files untouched). Damaged inputs are made here from the shared models.

usage: hostile_cli_check.py --den2moe BIN --shared SHARED_DIR --project PROJECT --moe MOE_DIR --tmp DIR
Prints one line per case and 'N passed, 0 failed'; exits 1 on any failure.
"""
import argparse
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import threading
import time

passed = 0
failed = 0


def report(ok, name, detail=''):
    global passed, failed
    if ok:
        passed += 1
        print(f'PASS {name}')
    else:
        failed += 1
        print(f'FAIL {name}: {detail}')


def run(argv, cwd=None, fsize=None, env=None):
    """(exit code, stdout + stderr as text, seconds); a signal shows as a negative code. env: variables to set."""
    def limit():
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    t0 = time.monotonic()
    p = subprocess.run([ARGS.den2moe] + argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       preexec_fn=limit, timeout=600, env=dict(os.environ, **env) if env else None)  # restore_signals: SIGXFSZ is the default action
    return p.returncode, p.stdout.decode('utf-8', 'replace'), time.monotonic() - t0


def case(name, argv, rc, pattern, cwd=None, fsize=None, after=None, forbid=(), env=None):
    code, out, secs = run(argv, cwd=cwd, fsize=fsize, env=env)
    problems = []
    if code != rc:
        problems.append(f'exit {code}, expected {rc}')
    if pattern and not re.search(pattern, out, re.S):
        problems.append(f'no match for /{pattern}/')
    for f in forbid:
        if f in out:
            problems.append(f'output holds {f!r}')
    if after:
        msg = after()
        if msg:
            problems.append(msg)
    report(not problems, name, '; '.join(problems) + '\n--- output ---\n' + out[-2000:])
    return out


def fresh(name):
    d = os.path.join(ARGS.tmp, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def leftovers(folder):
    """Anything in `folder` (temporary files, a partial output)."""
    names = sorted(os.listdir(folder))
    return f'left behind in {folder}: {names}' if names else None


# ------------------------------------------------------------------------------------------------
# damaged inputs

def safetensors_header(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        return n, json.loads(f.read(n))


def poisoned_hf_copy(src, dst, tensor, index, value):
    """A copy of the Hugging Face folder `src` with element `index` of `tensor` set to `value`."""
    shutil.copytree(src, dst)
    path = os.path.join(dst, 'model.safetensors')
    n, header = safetensors_header(path)
    info = header[tensor]
    size = {'F32': 4, 'BF16': 2, 'F16': 2}[info['dtype']]
    at = 8 + n + info['data_offsets'][0] + index * size
    if info['dtype'] == 'F32':
        raw = struct.pack('<f', value)
    elif info['dtype'] == 'BF16':
        raw = struct.pack('<f', value)[2:]  # the high half of the float32
    else:
        raw = struct.pack('<e', value)
    with open(path, 'r+b') as f:
        f.seek(at)
        f.write(raw)
    return info['shape']


def main():
    shared = ARGS.shared
    demo = os.path.join(shared, 'models', 'demo-llama-7m')
    stories = os.path.join(shared, 'models', 'stories260K')
    wiki = os.path.join(shared, 'data', 'domains', 'wiki')
    project = ARGS.project
    shutil.rmtree(ARGS.tmp, ignore_errors=True)
    os.makedirs(ARGS.tmp)

    # --- Argument parsing ----------------------------------------------------------------------
    cwd = fresh('cwd')
    case('option last without a value is an error, not the value 1', ['info', demo, '--json', '--out'], 1,
         r'option --out needs a value', cwd=cwd, after=lambda: leftovers(cwd))
    case('an option never takes the next option as its value', ['info', demo, '--out', '--json'], 1,
         r'option --out needs a value, found the option --json', cwd=cwd, after=lambda: leftovers(cwd))
    case('a short option last without a value', ['generate', demo, '-n'], 1, r'option -n needs a value')
    case('-n overflowing 64 bits is a user error', ['generate', demo, '-n', '99999999999999999999'], 1,
         r'-n = 99999999999999999999 does not fit a 64-bit integer')
    case('--seq overflowing 64 bits is refused, not saturated',
         ['ppl', demo, '--data', wiki, '--seq', '99999999999999999999'], 1, r'--seq = 99999999999999999999 does not fit')
    case('ppl --stride 0', ['ppl', demo, '--data', wiki, '--stride', '0'], 1, r'--stride must be in \[1, seq = 256\], got 0')
    case('ppl --batch 0', ['ppl', demo, '--data', wiki, '--batch', '0'], 1, r'--batch must be >= 1, got 0')
    # settings from the environment are checked before any work, as user errors (exit 1)
    case('ppl with D2M_GEMM=blis', ['ppl', demo, '--data', wiki], 1,
         r"error: D2M_GEMM='blis' is not a GEMM library \(expected 'openblas' or 'onednn'", env={'D2M_GEMM': 'blis'})
    case('ppl with D2M_PACKED_WEIGHTS_MB=lots', ['ppl', demo, '--data', wiki], 1,
         r"error: D2M_PACKED_WEIGHTS_MB='lots' is not a size \(expected a whole number of MiB, 0 = no pre-packed",
         env={'D2M_PACKED_WEIGHTS_MB': 'lots'})
    case('ppl --max-tokens -1', ['ppl', demo, '--data', wiki, '--max-tokens', '-1'], 1, r'--max-tokens must be >= 0')
    case('generate -n -1', ['generate', demo, '-n', '-1'], 1, r'-n \(new tokens\) must be >= 0, got -1')
    out = fresh('export-tp')
    case('export --tp -1 is refused before anything is written',
         ['export', ARGS.moe, '--tp', '-1', '--out', os.path.join(out, 'x')], 1, r'--tp', after=lambda: leftovers(out))
    case('ppl --seq longer than the model context (512)', ['ppl', stories + '/stories260K.bin', '--data', wiki, '--seq', '1024'],
         1, r'--seq = 1024 tokens is longer than the model\'s context of 512 positions')
    case('ppl --seq 1024 on the 512-position demo model', ['ppl', demo, '--data', wiki, '--seq', '1024'], 1,
         r'--seq = 1024 tokens is longer than the model\'s context of 512')
    long_prompt = 'Once upon a time, there was a little dog. ' * 150  # ~1,800 tokens of tok512
    case('a prompt longer than the context is refused', ['generate', stories + '/stories260K.bin', '--prompt', long_prompt,
                                                         '-n', '4'], 1,
         r'the prompt = \d+ tokens is longer than the model\'s context of 512 positions')
    case('-n is capped at the context, with a warning',
         ['generate', stories + '/stories260K.bin', '--prompt', 'Once upon a time', '-n', '100000', '--json'], 0,
         r'-n 100000 lowered to \d+: the prompt\'s \d+ tokens and the new ones fill the model\'s context of 512')

    # --- Late validation and partial outputs ------------------------------------------------------
    out = fresh('mine-k0')
    t0 = time.monotonic()
    case('mine --clusters 0 fails before any work, naming the flag',
         ['mine', project, '--clusters', '0', '--out', os.path.join(out, 'm'), '--cache-dir', os.path.join(out, 'c')], 1,
         r'--clusters', after=lambda: leftovers(out))
    report(time.monotonic() - t0 < 60, 'mine --clusters 0 fails in seconds, not after the job',
           f'{time.monotonic() - t0:.1f} s')
    out = fresh('convert-fsize')
    cache = fresh('convert-fsize-cache')
    case('convert hitting a file-size limit exits 1 and leaves no folder, no *.tmp-*',
         ['convert', project, '--recipe', 'random', '--experts', '4', '--top-k', '2', '--dtype', 'fp32', '--no-eval',
          '--out', os.path.join(out, 'moe'), '--cache-dir', cache, '--quiet'], 1,
         r'(File too large|file-size limit)', fsize=1 << 20, after=lambda: leftovers(out))
    out = fresh('export-fsize')
    case('export hitting a file-size limit exits 1 and leaves no folder, no *.tmp-*',
         ['export', ARGS.moe, '--format', 'mixtral', '--out', os.path.join(out, 'hf'), '--quiet'], 1,
         r'(File too large|file-size limit)', fsize=1 << 20, after=lambda: leftovers(out))
    # SIGTERM (a batch system's time limit) stops a job like Ctrl-C: exit 130, no output, no temporary file.
    # Sent once the job reports progress (before that, a signal terminates the process as if unhandled, which
    # is right but not what this case is about: a slow start — an ASan build, a loaded machine — must not
    # turn the case into that one).
    def terminate_when(argv, patterns):
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(p.stdout.readline, b'')), daemon=True)
        reader.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and p.poll() is None:
            seen = [ln.decode('utf-8', 'replace') for ln in list(lines)]
            if all(any(re.search(pat, ln) for ln in seen) for pat in patterns):
                break
            time.sleep(0.05)
        p.send_signal(15)
        p.wait(timeout=300)
        reader.join(timeout=60)
        return p, b''.join(lines).decode('utf-8', 'replace')

    out = fresh('mine-term')
    p, text = terminate_when([ARGS.den2moe, 'mine', project, '--domains', 'gsm8k,python,shakespeare', '--dtype', 'fp32',
                              '--out', os.path.join(out, 'm'), '--cache-dir', os.path.join(out, 'cache'), '--no-cache'],
                             [r'^\[statistics\] [1-9]'])
    tmp = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs + _ if '.tmp-' in f]
    report(p.returncode == 130 and not os.path.exists(os.path.join(out, 'm')) and not tmp,
           'SIGTERM cancels mine: exit 130, no output folder, no temporary file',
           f'exit {p.returncode}, left {tmp}, output folder {os.path.exists(os.path.join(out, "m"))}\n{text[-1500:]}')
    # the same through the local launcher (--nproc 2): it forwards the signal, both ranks cancel, exit 130
    out = fresh('mine-term-nproc')
    p, text = terminate_when([ARGS.den2moe, 'mine', project, '--domains', 'gsm8k,python,shakespeare', '--dtype', 'fp32',
                              '--out', os.path.join(out, 'm'), '--cache-dir', os.path.join(out, 'cache'), '--no-cache',
                              '--nproc', '2'], [r'^\[rank 0\] \[statistics\] [1-9]', r'^\[rank 1\] \[statistics\] [1-9]'])
    tmp = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs + _ if '.tmp-' in f]
    report(p.returncode == 130 and not os.path.exists(os.path.join(out, 'm')) and not tmp
           and text.count('cancelled') == 2,
           'SIGTERM to the --nproc 2 launcher reaches both ranks: each cancels, exit 130, nothing left',
           f'exit {p.returncode}, left {tmp}, output folder {os.path.exists(os.path.join(out, "m"))}\n{text[-1500:]}')

    # a mining folder made by hand (three domains), re-cut by `cluster`
    mdir = fresh('mining')
    mining = {'format': 'den2moe-mining-v1', 'domains': ['a', 'b', 'c'],
              'ppl': [10.0, 30.0, 12.0, 28.0, 11.0, 27.0, 11.0, 29.0, 10.5],
              'provenance': {'model': 'x'}, 'linkage': {'method': 'average', 'correlate': 'rows'}}
    with open(os.path.join(mdir, 'mining.json'), 'w') as f:
        json.dump(mining, f)
    case('cluster --height -1', ['cluster', mdir, '--height', '-1'], 1, r'--height must be >= 0, got -1')
    case('cluster --clusters 99 on 3 domains is refused, not clamped', ['cluster', mdir, '--clusters', '99'], 1,
         r'--clusters 99 is more than the 3 domains')
    case('cluster --height and --clusters together', ['cluster', mdir, '--height', '0.5', '--clusters', '2'], 1,
         r'--height and --clusters exclude each other')
    case('cluster --height cuts without the default K getting in the way', ['cluster', mdir, '--height', '0.5'], 0,
         r'clusters at K = \d')
    case('the default K above the domain count is said, not silent', ['cluster', mdir], 0,
         r'cutting at 3 clusters: the default K = \d+ is more than the 3 domains.*clusters at K = 3')
    for f in os.listdir(mdir):  # back to the hand-made mining.json alone
        if f != 'mining.json':
            os.remove(os.path.join(mdir, f))
    os.makedirs(os.path.join(mdir, 'linkage.json'))  # a name taken by a folder: nothing may be written
    case('cluster with an output name taken by a folder writes nothing', ['cluster', mdir, '--clusters', '2'], 1,
         r'linkage.json exists and is not a file',
         after=lambda: None if sorted(os.listdir(mdir)) == ['linkage.json', 'mining.json'] else f'{os.listdir(mdir)}')
    os.rmdir(os.path.join(mdir, 'linkage.json'))
    case('cluster writes its files', ['cluster', mdir, '--clusters', '2'], 0, r'clusters at K = 2',
         after=lambda: None if {'clusters.json', 'linkage.json'} <= set(os.listdir(mdir)) else f'{os.listdir(mdir)}')

    # --- Paths from files ---------------------------------------------------------------------------
    evil = fresh('evil-index')
    for f in ('config.json', 'tokenizer.model'):
        shutil.copy(os.path.join(demo, f), evil)
    with open(os.path.join(evil, 'model.safetensors.index.json'), 'w') as f:
        json.dump({'metadata': {}, 'weight_map': {'model.embed_tokens.weight': '../../../../etc/passwd'}}, f)
    case('an index naming ../../../../etc/passwd is refused', ['info', evil], 1,
         r"the shard of tensor model.embed_tokens.weight is '../../../../etc/passwd', expected a file name inside")

    # --- Non-finite weights ---------------------------------------------------------------------------
    nan_dir = os.path.join(fresh('nan'), 'model')
    poisoned_hf_copy(demo, nan_dir, 'model.layers.2.mlp.down_proj.weight', 5, float('nan'))
    for cmd in (['generate', nan_dir, '-n', '4'], ['ppl', nan_dir, '--data', wiki, '--max-tokens', '512'], ['info', nan_dir]):
        case(f'NaN in a bf16 weight: {cmd[0]} exits 1 naming the tensor', cmd, 1,
             r'Tensor model.layers.2.mlp.down_proj.weight in .*model.safetensors holds 1 non-finite value \(NaN or Inf\) '
             r'of 196608; the first is NaN at \[0, 5\]')
    inf_dir = fresh('inf')
    shutil.copy(os.path.join(stories, 'tok512.bin'), inf_dir)
    shutil.copy(os.path.join(stories, 'stories260K.bin'), inf_dir)
    with open(os.path.join(inf_dir, 'stories260K.bin'), 'r+b') as f:  # header 28 bytes, then the embedding [512, 64]
        f.seek(28 + 4 * (64 * 3 + 7))
        f.write(struct.pack('<f', float('-inf')))
    case('-Inf in a llama2.c weight', ['generate', os.path.join(inf_dir, 'stories260K.bin'), '-n', '4'], 1,
         r'Tensor model.embed_tokens.weight in .*stories260K.bin holds 1 non-finite value .* the first is -Inf at \[3, 7\]')

    # --- Smaller -----------------------------------------------------------------------------------
    bad = os.path.join(fresh('badtok'), 'tokenizer.model')
    with open(bad, 'wb') as f:
        f.write(b'\x0a\x05hello this is not a sentencepiece model')
    case("sentencepiece's internals do not leak", ['info', demo, '--tokenizer', bad], 1,
         r'cannot load the tokenizer .*tokenizer.model: the file \(\d+ bytes\) is not a SentencePiece model',
         forbid=('./src/', '.cc(', 'ParseFromArray', 'model_proto'))
    cfgdir = fresh('cfgtype')
    shutil.copy(os.path.join(demo, 'model.safetensors'), cfgdir)
    with open(os.path.join(demo, 'config.json')) as f:
        cfg = json.load(f)
    cfg['hidden_size'] = '256'
    with open(os.path.join(cfgdir, 'config.json'), 'w') as f:
        json.dump(cfg, f)
    case('a config.json type error names the key', ['info', cfgdir], 1, r'hidden_size')
    pdir = fresh('projtype')
    with open(project) as f:
        proj = json.load(f)
    proj['dtype'] = 5
    with open(os.path.join(pdir, 'p.den2moe.json'), 'w') as f:
        json.dump(proj, f)
    case('a project type error names the key', ['mine', os.path.join(pdir, 'p.den2moe.json'), '--out',
                                                 os.path.join(pdir, 'm')], 1, r"key 'dtype' has the wrong type \(found number\)")
    mbad = fresh('miningtype')
    with open(os.path.join(mbad, 'mining.json'), 'w') as f:
        json.dump(dict(mining, domains='a,b,c'), f)
    case('a mining.json type error names the key', ['cluster', mbad, '--clusters', '2'], 1,
         r"key 'domains' has the wrong type \(found string\)")
    with open(os.path.join(mbad, 'mining.json'), 'w') as f:
        json.dump(dict(mining, linkage={'method': 7}), f)
    case('a nested mining.json type error names the key', ['cluster', mbad, '--clusters', '2'], 1,
         r"key 'linkage.method' has the wrong type \(found number\)")
    out = fresh('mine-unknown')
    case('an unknown domain in --domains is named', ['mine', project, '--domains', 'wiki,no_such_domain', '--out',
                                                      os.path.join(out, 'm')], 1,
         r"domain 'no_such_domain' is not in the project", after=lambda: leftovers(out))

    # --cache-dir and --out are both relative to the working folder (not one to the project's)
    cwd = fresh('relative')
    def both_here():
        names = sorted(os.listdir(cwd))
        if names != ['relcache', 'relout']:
            return f'working folder holds {names}'
        return None if os.path.isfile(os.path.join(cwd, 'relout', 'mining.json')) else 'relout/mining.json missing'
    case('--cache-dir and --out resolve against the same folder',
         ['mine', project, '--domains', 'gsm8k,python', '--samples', '2', '--seq', '32', '--eval-windows', '1',
          '--eval-seq', '32', '--dtype', 'fp32', '--clusters', '2', '--cache-dir', 'relcache', '--out', 'relout', '--quiet'],
         0, r'clusters at K = 2', cwd=cwd, after=both_here)

    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    for a in ('--den2moe', '--shared', '--project', '--moe', '--tmp'):
        ap.add_argument(a, required=True)
    ARGS = ap.parse_args()
    for a in ('den2moe', 'shared', 'project', 'moe', 'tmp'):  # the cases run in other working folders
        setattr(ARGS, a, os.path.abspath(getattr(ARGS, a)))
    sys.exit(main())
