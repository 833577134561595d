"""CLI check: `den2moe tokenize MODEL --lines FILE --json` gives python3-sentencepiece's ids (BOS first) for the
first lines of every bundled domain's test split, including lines that open with whitespace, and
`--no-bos` drops only the BOS. Prints SAME_IDS <n> on success; exits 1 naming the first difference."""
import gzip, json, os, subprocess, sys

import sentencepiece as spm


def main():
    den2moe, model, shared, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    lines = []
    root = os.path.join(shared, "data", "domains")
    for dom in sorted(os.listdir(root)):
        path = os.path.join(root, dom, "test.jsonl.gz")
        if not os.path.exists(path):
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            text = json.loads(f.readline())["text"]
        lines += [l for l in text.split("\n") if l.strip()][:6]
    lines += ["  two leading spaces", "\ttab first", "héllo wörld — 漢字 🙂"]
    lf = os.path.join(work, "lines.txt")
    with open(lf, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(l + "\n" for l in lines))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model, "tokenizer.model"))
    for extra, bos in (([], [sp.bos_id()]), (["--no-bos"], [])):
        out = subprocess.run([den2moe, "tokenize", model, "--lines", lf, "--json"] + extra, check=True,
                             capture_output=True)
        ours = json.loads(out.stdout)["ids"]
        if len(ours) != len(lines):
            print(f"{len(ours)} rows for {len(lines)} lines")
            return 1
        for i, l in enumerate(lines):
            if ours[i] != bos + sp.encode(l):
                print(f"line {i} {l!r}{' --no-bos' if extra else ''}: ours {ours[i][:20]} sentencepiece "
                      f"{(bos + sp.encode(l))[:20]}")
                return 1
    print(f"SAME_IDS {len(lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
