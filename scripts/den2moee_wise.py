#!/usr/bin/python3
"""Weight-space interpolation of a fine-tuned model with its start (WiSE-FT, Wortsman et al. 2022):
theta = (1 - a) * theta_start + a * theta_tuned, tensor by tensor (docs/den2moee-demo.md, "An embedding
training that beats the untrained EOS read").

  den2moee_wise.py START_DIR TUNED_DIR A OUT_DIR

Both folders hold model.safetensors with the same tensor names and shapes (F32 or BF16; BF16 mixed in
float32 and rounded to nearest even). OUT_DIR gets the mixed model.safetensors (TUNED's dtypes and
metadata) and a copy of TUNED's other files (moe_config.json: the embedding record, tokenizer), and
wise.json saying what was mixed. Written to a temporary folder, then renamed.
"""
import json, os, shutil, struct, sys

import numpy as np


def read_st(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return header, data


def to_f32(raw, dtype):
    if dtype == 'F32':
        return np.frombuffer(raw, dtype='<f4').astype(np.float32)
    if dtype == 'BF16':
        return (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
    sys.exit('unsupported dtype %s' % dtype)


def from_f32(x, dtype):
    if dtype == 'F32':
        return x.astype('<f4').tobytes()
    u = x.astype(np.float32).view(np.uint32)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype('<u2')  # round to nearest even
    return r.tobytes()


def main():
    start, tuned, a, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    hs, ds = read_st(os.path.join(start, 'model.safetensors'))
    ht, dt = read_st(os.path.join(tuned, 'model.safetensors'))
    names = sorted(k for k in ht if k != '__metadata__')
    if sorted(k for k in hs if k != '__metadata__') != names:
        sys.exit('the two models hold different tensor names')
    header, blobs, off = {}, [], 0
    for k in names:
        s, t = hs[k], ht[k]
        if s['shape'] != t['shape']:
            sys.exit('%s: shape %s vs %s' % (k, s['shape'], t['shape']))
        xs = to_f32(ds[s['data_offsets'][0]:s['data_offsets'][1]], s['dtype'])
        xt = to_f32(dt[t['data_offsets'][0]:t['data_offsets'][1]], t['dtype'])
        b = from_f32((1.0 - a) * xs + a * xt, t['dtype'])
        header[k] = {'dtype': t['dtype'], 'shape': t['shape'], 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if '__metadata__' in ht:
        header['__metadata__'] = ht['__metadata__']
    hj = json.dumps(header, separators=(',', ':')).encode()
    hj += b' ' * ((8 - len(hj) % 8) % 8)
    tmp = out.rstrip('/') + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for f in os.listdir(tuned):
        if f not in ('model.safetensors', 'checkpoint.safetensors') and os.path.isfile(os.path.join(tuned, f)):
            shutil.copy(os.path.join(tuned, f), tmp)
    with open(os.path.join(tmp, 'model.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    json.dump({'start': os.path.abspath(start), 'tuned': os.path.abspath(tuned), 'a': a,
               'rule': 'theta = (1 - a) * start + a * tuned'}, open(os.path.join(tmp, 'wise.json'), 'w'), indent=1)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    print('%d tensors mixed, a = %g -> %s' % (len(names), a, out))


if __name__ == '__main__':
    main()
