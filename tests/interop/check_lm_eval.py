"""Interop check: lm-evaluation-harness (HF backend, CPU, fp32) on our Mixtral export vs `den2moe eval` on the
same export and the same items: ARC-Easy, OpenBookQA and an MMLU subset (zero-shot), from the bundled files.
lm-eval runs its **own task YAMLs** (arc_easy, openbookqa, mmlu_<subject>: prompts, choices, metrics), included
from the installed package with only the dataset replaced by a local JSON file in the Hugging Face dataset's
schema (no download); the items are the ones `den2moe eval --limit N` picks (N evenly spread, per subject for
MMLU), read here with Python's csv module. Compared: acc and acc_norm (exact), and item by item the option
chosen under each (from lm-eval's --log_samples) — our `items` record in the zeroshot result file.
One verdict line per task; exit 1 on any disagreement."""
import argparse, csv, glob, gzip, io, json, os, re, subprocess, sys

import numpy as np

TASKS = ("arc_easy", "openbookqa", "mmlu")
LETTERS = "ABCD"


def spread(n, limit):  # engine/eval/task_data.cpp spread_indices
    if limit <= 0 or limit >= n:
        return list(range(n))
    return [int(float(i) * n / limit) for i in range(limit)]


def read_text(path):
    raw = gzip.open(path, "rb").read() if path.endswith(".gz") else open(path, "rb").read()
    return raw.decode("utf-8")


def letter_csv(path):
    docs = []
    for r in csv.reader(io.StringIO(read_text(path), newline="")):
        key = r[5].strip() if len(r) >= 6 else ""
        gold = LETTERS.index(key) if key in LETTERS else "1234".index(key) if key in "1234" and key else None
        opts = list(r[1:5])
        while opts and not opts[-1].strip():
            opts.pop()  # ARC's 3-option questions
        if gold is None or len(opts) < 2 or gold >= len(opts) or any(not o.strip() for o in opts):
            continue  # as den2moe: fifth-option answers and items whose options were lost are skipped
        docs.append({"question": r[0], "options": opts, "gold": gold})
    return docs


def items(shared, task, limit):
    if task == "arc_easy":
        docs = letter_csv(os.path.join(shared, "data/arc/ARC-E/arc_easy_test.csv"))
        return [(None, d) for d in (docs[i] for i in spread(len(docs), limit))]
    if task == "openbookqa":
        rows = read_text(os.path.join(shared, "data/openbookqa/Main/test.tsv")).split("\n")
        head = rows[0].split("\t")
        docs = []
        for line in rows[1:]:
            if not line.strip():
                continue
            r = line.rstrip("\r").split("\t")
            ch = r[head.index("Choices")]
            opts = [o.strip() for o in re.split(r"\s?\([ABCD]\) ", ch)[1:]]
            docs.append({"question": r[head.index("Question Stem")], "options": opts,
                         "gold": LETTERS.index(r[head.index("Answer Key")].strip())})
        return [(None, d) for d in (docs[i] for i in spread(len(docs), limit))]
    out = []
    for path in sorted(glob.glob(os.path.join(shared, "data/mmlu/test/*_test.csv.gz"))):
        subject = os.path.basename(path)[: -len("_test.csv.gz")]
        docs = letter_csv(path)
        out += [(subject, docs[i]) for i in spread(len(docs), limit)]
    return out


def hf_record(task, subject, d, k):  # the Hugging Face dataset's schema, which lm-eval's YAMLs read
    ch = {"text": d["options"], "label": list(LETTERS[: len(d["options"])])}
    if task == "arc_easy":
        return {"id": str(k), "question": d["question"], "choices": ch, "answerKey": LETTERS[d["gold"]]}
    if task == "openbookqa":
        return {"id": str(k), "question_stem": d["question"], "choices": ch, "answerKey": LETTERS[d["gold"]]}
    return {"question": d["question"], "subject": subject, "choices": d["options"], "answer": d["gold"]}


def write_tasks(work, shared, limits):
    import lm_eval
    tdir = os.path.join(os.path.dirname(lm_eval.__file__), "tasks")
    inc = os.path.join(work, "tasks")
    os.makedirs(inc, exist_ok=True)
    names, expected = {}, {}
    for task in TASKS:
        its = items(shared, task, limits[task])
        expected[task] = [d["gold"] for _, d in its]
        groups = {}
        for k, (subject, d) in enumerate(its):
            groups.setdefault(subject, []).append(hf_record(task, subject, d, k))
        names[task] = []
        for subject, recs in groups.items():
            data = os.path.join(inc, f"{task}{'_' + subject if subject else ''}.jsonl")
            with open(data, "w", encoding="utf-8") as f:
                for r in recs:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            base = {"arc_easy": "arc/arc_easy.yaml", "openbookqa": "openbookqa/openbookqa.yaml"}.get(task) or \
                f"mmlu/default/mmlu_{subject}.yaml"
            name = f"d2m_{task}{'_' + subject if subject else ''}"
            with open(os.path.join(inc, name + ".yaml"), "w") as f:
                f.write(f"include: {os.path.join(tdir, base)}\ntask: {name}\ntag: []\n"
                        f"dataset_path: json\ndataset_name: null\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
                        f"training_split: null\nvalidation_split: null\ntest_split: test\nfewshot_split: test\n"
                        f"num_fewshot: 0\n")
            names[task].append(name)
    return inc, names, expected


def lm_eval_samples(out_dir, name):
    """lm-eval's per-item log-likelihoods (--log_samples) -> the option chosen under acc and acc_norm (argmax of
    the sums / of sum / len(choice); ties to the first, as np.argmax), the gold one, and lm-eval's own 0/1 scores."""
    path = sorted(glob.glob(os.path.join(out_dir, "**", f"samples_{name}_*.jsonl"), recursive=True))[-1]
    rows = [json.loads(l) for l in open(path, encoding="utf-8")]
    rows.sort(key=lambda r: r["doc_id"])
    pred, pred_norm, gold, acc = [], [], [], []
    for r in rows:
        ll = [float(x[0]) for x in r["filtered_resps"]]
        args = [r["arguments"][f"gen_args_{i}"]["arg_1"] for i in range(len(ll))]
        lens = [len(a[1:] if a.startswith(" ") else a) for a in args]  # len(choice): the delimiter is not counted
        with np.errstate(divide="ignore", invalid="ignore"):  # lm-eval's own arithmetic (an empty choice: -inf)
            pred.append(int(np.argmax(np.array(ll))))
            pred_norm.append(int(np.argmax(np.array(ll) / np.array(lens, dtype=float))))
        gold.append(int(r["target"]))
        acc.append((float(r["acc"]), float(r.get("acc_norm", float(pred_norm[-1] == gold[-1])))))
    return pred, pred_norm, gold, acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--den2moe", required=True)
    ap.add_argument("--model", required=True, help="our Hugging Face export")
    ap.add_argument("--work", required=True)
    ap.add_argument("--limit", type=int, default=40, help="ARC-Easy / OpenBookQA items")
    ap.add_argument("--mmlu-limit", type=int, default=1, help="MMLU items per subject (57 subjects)")
    ap.add_argument("--perturb", action="store_true",
                    help="run lm-eval without BOS (den2moe keeps it): another input, so the check must FAIL")
    args = ap.parse_args()
    shared = os.environ["D2M_SHARED_DIR"]
    os.makedirs(args.work, exist_ok=True)
    limits = {"arc_easy": args.limit, "openbookqa": args.limit, "mmlu": args.mmlu_limit}

    ours = {}
    for task in TASKS:
        od = os.path.join(args.work, "den2moe-" + task)
        subprocess.run([args.den2moe, "eval", args.model, "--tasks", task, "--limit", str(limits[task]),
                        "--no-cache", "--out", od], check=True, capture_output=True)
        ours[task] = json.load(open(os.path.join(od, "zeroshot", task + ".json")))

    inc, names, expected = write_tasks(args.work, shared, limits)
    import lm_eval
    out = os.path.join(args.work, "lm-eval")
    all_names = [n for t in TASKS for n in names[t]]
    cmd = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
           f"pretrained={args.model},dtype=float32,add_bos_token={not args.perturb}", "--device", "cpu", "--batch_size", "8",
           "--include_path", inc, "--tasks", ",".join(all_names), "--output_path", out, "--log_samples"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-3000:], r.stderr[-3000:], file=sys.stderr)
        print(f"FAIL lm-eval {lm_eval.__version__}: did not run (exit {r.returncode})")
        return 1
    ok_all = True
    for task in TASKS:
        pred, pred_norm, gold, acc_lm = [], [], [], []
        for n in names[task]:
            a, b, c, d = lm_eval_samples(out, n)
            pred += a; pred_norm += b; gold += c; acc_lm += d
        # our reading of lm-eval's samples agrees with lm-eval's own per-item acc
        assert [(float(p == g), float(q == g)) for p, q, g in zip(pred, pred_norm, gold)] == acc_lm, \
            f"{task}: our reading of lm-eval's samples disagrees with its per-item acc / acc_norm"
        it = ours[task]["items"]
        assert it["gold"] == expected[task] == gold, f"{task}: the items differ (gold answers in another order)"
        n = len(gold)
        acc_t = sum(p == g for p, g in zip(pred, gold)) / n
        accn_t = sum(p == g for p, g in zip(pred_norm, gold)) / n
        acc_o = ours[task]["results"][task]["acc,none"]
        accn_o = ours[task]["results"][task]["acc_norm,none"]
        same = sum(a == b for a, b in zip(it["pred"], pred))
        same_n = sum(a == b for a, b in zip(it["pred_norm"], pred_norm))
        ok = same == n and same_n == n and abs(acc_o - acc_t) < 1e-12 and abs(accn_o - accn_t) < 1e-12
        ok_all &= ok
        print(f"{'PASS' if ok else 'FAIL'} lm-eval {lm_eval.__version__} {task} ({n} items"
              f"{', 57 subjects' if task == 'mmlu' else ''}): acc ours {acc_o:.4f} / theirs {acc_t:.4f}, acc_norm ours "
              f"{accn_o:.4f} / theirs {accn_t:.4f}; same choice on {same}/{n} items (acc), {same_n}/{n} (acc_norm) "
              f"(tolerance: exact)")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
