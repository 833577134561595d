"""Interop check: llama.cpp runs a den2moe Mixtral export converted to an f32 GGUF by llama.cpp's own
convert_hf_to_gguf.py and (1) llama-perplexity's number on one chunk of C tokens (it scores positions C/2..C-2,
predicting tokens C/2+1..C-1 of the chunk) equals ours on exactly those tokens within 1 % (ours: the NLL over the
same positions from `den2moe generate --save-logits` on the same text; the token ids are compared first, read
from llama-perplexity's --kl-divergence-base file), and (2) llama-cli's greedy text (temperature 0, top-k 1) equals
`den2moe generate`'s for a few prompts. One verdict line per comparison; exit 1 on any disagreement.
"""
import argparse, gzip, json, math, os, struct, subprocess, sys

import numpy as np
from safetensors.numpy import load_file

PROMPTS = ["Once upon a time, the", "The capital of France is", "def add(a, b):\n    return"]


def run(cmd, **kw):
    # bytes decoded without newline translation: text=True would turn a generated "\r" into "\n"
    r = subprocess.run(cmd, capture_output=True, **kw)
    r.stdout, r.stderr = (b.decode("utf-8", errors="replace") for b in (r.stdout, r.stderr))
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-2000:] + r.stderr[-4000:])
        raise SystemExit(f"check_llama_cpp: {cmd[0]} failed with {r.returncode}")
    return r


def verdict(name, ok, ours, theirs, tol):
    print(f"{'PASS' if ok else 'FAIL'} llama-cpp {name}: ours {ours}, llama.cpp {theirs}, tolerance {tol}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--den2moe", required=True)
    ap.add_argument("--model", required=True, help="den2moe's Mixtral export (Hugging Face layout)")
    ap.add_argument("--gguf", required=True, help="the export converted to f32 by convert_hf_to_gguf.py")
    ap.add_argument("--llama-bin", required=True, help="folder with llama-perplexity and llama-cli")
    ap.add_argument("--work", required=True)
    ap.add_argument("--ctx", type=int, default=128, help="llama-perplexity's chunk length C")
    ap.add_argument("--new-tokens", type=int, default=24)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    shared = os.environ.get("D2M_SHARED_DIR", "")
    C, first, ok = args.ctx, args.ctx // 2, True

    # --- (1) perplexity on one chunk of each domain's first test records (>= 2C tokens: llama-perplexity's minimum)
    for dom in ("wiki", "stories", "news"):
        with gzip.open(os.path.join(shared, "data", "domains", dom, "test.jsonl.gz"), "rt", encoding="utf-8") as f:
            text = ""
            for line in f:  # about 3 characters a token: 1100 characters are ~370 tokens, under the 512 positions
                text += json.loads(line)["text"] + "\n"
                if len(text) >= 1100:
                    break
        text = text[:1100]
        tf = os.path.join(args.work, f"{dom}.txt")
        with open(tf, "w", encoding="utf-8") as f:
            f.write(text)
        lf = os.path.join(args.work, f"{dom}.logits.safetensors")
        run([args.den2moe, "generate", args.model, "--prompt", text, "-n", "1", "--save-logits", lf,
             "--quiet", "--threads", "2"])
        t = load_file(lf)
        ids, logits = t["input_ids"], t["logits"].astype(np.float64)  # [T], [T, V]
        if len(ids) < 2 * C:
            raise SystemExit(f"check_llama_cpp: {dom}: {len(ids)} tokens, llama-perplexity needs {2 * C}")
        kf = os.path.join(args.work, f"{dom}.kld")
        r = run([os.path.join(args.llama_bin, "llama-perplexity"), "-m", args.gguf, "-f", tf, "-c", str(C),
                 "-b", str(C), "--chunks", "1", "-t", "2", "--kl-divergence-base", kf])
        out = r.stdout + r.stderr
        their_ppl = float(out.split("[1]", 1)[1].split(",", 1)[0])
        with open(kf, "rb") as f:
            head = f.read(20)
            assert head[:8] == b"_logits_", "unexpected --kl-divergence-base header"
            n_ctx, n_vocab, n_chunk = struct.unpack("<iii", head[8:])
            their_ids = np.frombuffer(f.read(4 * n_ctx * n_chunk), dtype="<i4")[:C]
        same = n_ctx == C and np.array_equal(their_ids, ids[:C])
        ok &= verdict(f"{dom} chunk token ids", same, f"{C} ids from {ids[:4].tolist()}",
                      f"{len(their_ids)} ids from {their_ids[:4].tolist()}", "equal")
        z = logits[first:C - 1]  # [C-1-first, V]: positions first..C-2 predict tokens first+1..C-1
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        nll = float(np.mean(lse - z[np.arange(len(z)), ids[first + 1:C]]))
        ours = math.exp(nll)
        rel = abs(ours / their_ppl - 1)
        ok &= verdict(f"{dom} perplexity (chunk {C}, {C - 1 - first} scored tokens)", rel <= 0.01,
                      f"{ours:.4f}", f"{their_ppl:.4f} (rel {rel:.2e})", "rel 1e-2")

    # --- (2) greedy text: same prompt, temperature 0 (llama-cli prints prompt + new text on stdout)
    for p in PROMPTS:
        o = json.loads(run([args.den2moe, "generate", args.model, "--prompt", p, "-n", str(args.new_tokens),
                            "--json", "--quiet", "--threads", "2"]).stdout)
        r = run([os.path.join(args.llama_bin, "llama-cli"), "-m", args.gguf, "-p", p, "-n", str(args.new_tokens),
                 "--temp", "0", "--top-k", "1", "-no-cnv", "-t", "2", "-c", "256", "--no-warmup", "--simple-io"],
                stdin=subprocess.DEVNULL)
        theirs = r.stdout.replace("[end of text]", "").strip()
        ours = o["text"].strip()
        ok &= verdict(f"greedy {p!r}", ours == theirs, repr(ours), repr(theirs), "equal text")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
