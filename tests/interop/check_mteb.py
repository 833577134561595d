"""Interop check: the `mteb` package (1.14, the version our task definitions follow) on den2moe's saved
embeddings. (1) STS: mteb's own STSEvaluator, given the bundled pairs and gold scores and a tiny encoder that
returns our saved vector for each text (`den2moe eval --save-embeddings`: <Task>.safetensors + .texts.json),
gives the main score (cosine Spearman) of our result file within 1e-6; PairClassification: mteb's
PairClassificationEvaluator on MRPC (our texts are the prompts our eval built, MoEE's "none" template, ported
here: `none_prompt`; every one must be among the saved texts) gives our max_ap, and RerankingEvaluator on
TrecQA our map, within 1e-6. (2) Every result file we wrote
(mteb/<model>/<revision>/<Task>.json) loads with mteb's result loader (MTEBResults.from_disk) and its
main score reads back unchanged. Prints one verdict line per comparison; exits 1 on any disagreement."""
import argparse, csv, glob, json, logging, os, sys

from pathlib import Path

import numpy as np
import mteb
from mteb.evaluation.evaluators.PairClassificationEvaluator import PairClassificationEvaluator
from mteb.evaluation.evaluators.RerankingEvaluator import RerankingEvaluator
from mteb.evaluation.evaluators.STSEvaluator import STSEvaluator
from mteb.load_results.mteb_results import MTEBResults
from safetensors.numpy import load_file

TOL = 1e-6
logging.getLogger("mteb").setLevel(logging.ERROR)  # its notes on duplicate texts are expected here
STS_FILES = {"STS13": ["2013/FNWN.test.tsv", "2013/OnWN.test.tsv", "2013/headlines.test.tsv"]}


class SavedEncoder:
    """mteb's Encoder protocol over saved vectors: encode(texts) -> [n, D] by exact text."""

    def __init__(self, texts, vectors):
        self.by_text = {}
        for t, v in zip(texts, vectors):
            self.by_text.setdefault(t, v)

    def encode(self, sentences, **kwargs):
        return np.stack([self.by_text[s] for s in sentences])


def none_prompt(text):
    """engine/eval/prompts.cpp moee_prompt(text, "none", ""): MoEE's quoting (period added, " -> ', _ -> space)."""
    x = text
    if x and x[-1] not in ".?!\"'":
        x += "."
    x = x.replace('"', "'")
    return ('"' + x + '"').replace("_", " ").strip()


def mrpc_pairs(shared):
    with open(os.path.join(shared, "data", "mrpc", "msr-para-test.tsv"), encoding="utf-8-sig") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return [r[3] for r in rows], [r[4] for r in rows], [int(r[0]) for r in rows]


def trecqa_samples(shared):
    samples, at = [], {}
    with open(os.path.join(shared, "data", "trecqa", "test.csv"), encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            q = r["qtext"]
            if q not in at:
                at[q] = len(samples)
                samples.append({"query": q, "positive": [], "negative": []})
            samples[at[q]]["positive" if r["label"].strip() == "1" else "negative"].append(r["atext"])
    return samples


def sts_gold(shared, files):
    gold = []
    for f in files:
        with open(os.path.join(shared, "data", "sts_semeval", f), encoding="utf-8") as fh:
            gold += [float(line.split("\t")[0]) for line in fh if line.strip()]
    return gold


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval-dir", required=True, help="a den2moe eval --out folder run with --save-embeddings")
    args = ap.parse_args()
    shared = os.environ["D2M_SHARED_DIR"]
    results = sorted(glob.glob(os.path.join(args.eval_dir, "mteb", "*", "*", "*.json")))
    results = [r for r in results if not r.endswith("model_meta.json")]
    verdicts = []

    def saved(task, *names):
        """Our main score and an encoder over the saved vectors of `names`; None when the task did not run."""
        files = [r for r in results if os.path.basename(r) == task + ".json"]
        if not files:
            return None, None
        emb = load_file(os.path.join(args.eval_dir, "embeddings", task + ".safetensors"))
        texts = json.load(open(os.path.join(args.eval_dir, "embeddings", task + ".texts.json")))
        enc = SavedEncoder(sum((texts[n] for n in names), []), sum((list(emb[n + ".hs_raw"]) for n in names), []))
        return json.load(open(files[0]))["scores"]["test"][0]["main_score"], enc

    def verdict(what, ours, theirs, size):
        ok = abs(ours - theirs) <= TOL
        verdicts.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} mteb {mteb.__version__} {what}: ours {ours:.8f} theirs {theirs:.8f} "
              f"on {size} (tolerance {TOL:g})")

    def all_saved(enc, task, texts):
        missing = sum(1 for x in texts if x not in enc.by_text)
        assert not missing, f"{task}: {missing} prompts not among the saved texts (prompt port out of date?)"

    for task, files in STS_FILES.items():
        ours, enc = saved(task, "sentence1", "sentence2")
        if enc is None:
            continue
        texts = json.load(open(os.path.join(args.eval_dir, "embeddings", task + ".texts.json")))
        gold = sts_gold(shared, files)
        assert len(gold) == len(texts["sentence1"]), f"{task}: {len(gold)} gold scores, {len(texts['sentence1'])} pairs"
        theirs = STSEvaluator(texts["sentence1"], texts["sentence2"], gold, task_name=task)(enc)["cosine_spearman"]
        verdict(f"STSEvaluator {task} cosine_spearman", ours, theirs, f"{len(gold)} pairs")
    ours, enc = saved("MRPC", "sentences")
    if enc is not None:
        s1, s2, labels = mrpc_pairs(shared)
        s1, s2 = [none_prompt(x) for x in s1], [none_prompt(x) for x in s2]
        all_saved(enc, "MRPC", s1 + s2)
        theirs = PairClassificationEvaluator(s1, s2, labels, task_name="MRPC").compute_metrics(enc)["max_ap"]
        verdict("PairClassificationEvaluator MRPC max_ap", ours, theirs, f"{len(labels)} pairs")
    ours, enc = saved("TrecQAReranking", "queries", "docs")
    if enc is not None:
        samples = [{"query": none_prompt(s["query"]), "positive": [none_prompt(x) for x in s["positive"]],
                    "negative": [none_prompt(x) for x in s["negative"]]} for s in trecqa_samples(shared)]
        all_saved(enc, "TrecQAReranking",
                  [s["query"] for s in samples] + [x for s in samples for x in s["positive"] + s["negative"]])
        theirs = RerankingEvaluator(samples, task_name="TrecQAReranking").compute_metrics(enc)["map"]
        verdict("RerankingEvaluator TrecQAReranking map", ours, theirs, f"{len(samples)} questions")
    loaded, same = 0, 0
    for r in results:
        res = MTEBResults.from_disk(Path(r), load_historic_data=False)
        ours = json.load(open(r))["scores"]["test"][0]["main_score"]
        theirs = res.scores["test"][0]["main_score"]
        loaded += 1
        same += abs(ours - theirs) <= 0  # read back, so exactly equal
    ok = loaded > 0 and same == loaded
    verdicts.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} mteb {mteb.__version__} MTEBResults.from_disk: {loaded} result files load, "
          f"main score read back equal on {same}/{loaded} (tolerance: exact)")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
