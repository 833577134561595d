"""Interop check: the `mteb` package (1.14, the version our task definitions follow) on den2moe's saved
embeddings. (1) STS: mteb's own STSEvaluator, given the bundled pairs and gold scores and a tiny encoder that
returns our saved vector for each text (`den2moe eval --save-embeddings`: <Task>.safetensors + .texts.json),
gives the main score (cosine Spearman) of our result file within 1e-6; PairClassification: mteb's
PairClassificationEvaluator on MRPC (our texts are the prompts our eval built, MoEE's "none" template, ported
here: `none_prompt`; every one must be among the saved texts) gives our max_ap, and RerankingEvaluator on
TrecQA our map, within 1e-6. Classification: AbsTaskClassification's own experiment loop and undersampling with
logRegClassificationEvaluator on SST2Classification draws exactly the training texts we encoded and gives our
accuracy; Clustering: ClusteringEvaluator on Banking77Clustering gives our v_measure; both within 1e-6 under
MTEB's scikit-learn (>= 1.4), KNOWN within 2e-3 / 1e-2 under an older one (the reason printed).
(2) Every result file we wrote
(mteb/<model>/<revision>/<Task>.json) loads with mteb's result loader (MTEBResults.from_disk) and its
main score reads back unchanged. Prints one verdict line per comparison; exits 1 on any disagreement."""
import argparse, csv, glob, json, logging, os, sys, warnings

from pathlib import Path

import numpy as np
import mteb
import sklearn
from sklearn.exceptions import ConvergenceWarning
from mteb.abstasks.AbsTaskClassification import AbsTaskClassification
from mteb.evaluation.evaluators.ClusteringEvaluator import ClusteringEvaluator
from mteb.evaluation.evaluators.PairClassificationEvaluator import PairClassificationEvaluator
from mteb.evaluation.evaluators.RerankingEvaluator import RerankingEvaluator
from mteb.evaluation.evaluators.STSEvaluator import STSEvaluator
from mteb.load_results.mteb_results import MTEBResults
from safetensors.numpy import load_file

TOL = 1e-6
logging.getLogger("mteb").setLevel(logging.ERROR)  # its notes on duplicate texts are expected here
# lbfgs stops at max_iter=100 as in MTEB itself (also in joblib's worker processes, hence the environment;
# ConvergenceWarning is a UserWarning)
os.environ["PYTHONWARNINGS"] = "ignore::UserWarning"
warnings.filterwarnings("ignore", category=ConvergenceWarning)
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


def sst2_rows(shared, name):
    """(text, label) of data/sst2/<name>.tsv as engine/eval/task_data.cpp read_sst2 (no trimming of the text)."""
    with open(os.path.join(shared, "data", "sst2", name + ".tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return [(r[0], 1 if r[1].strip() == "1" else 0) for r in rows]


def banking_test(shared):
    """Banking77 test texts and intent ids (first-occurrence order; v-measure ignores the numbering)."""
    with open(os.path.join(shared, "data", "banking77", "test.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    ids = {}
    return [r["text"] for r in rows], [ids.setdefault(r["category"], len(ids)) for r in rows]


def mteb_classification(enc, train, test, n_experiments, samples_per_label, seed=42):
    """mteb 1.14's AbsTaskClassification._evaluate_subset (method logReg) itself, on a stand-in task object:
    its experiment loop, its _undersample_data (np.random.shuffle of one persistent index array) and
    logRegClassificationEvaluator. np.random.seed(seed) first stands for AbsTask.__init__'s reseed; each
    evaluator's constructor reseeds again before the next experiment's shuffle. Also returns the
    training texts every experiment drew (to compare with the ones we saved)."""
    from types import SimpleNamespace
    drawn = []
    task = SimpleNamespace(method="logReg", n_experiments=n_experiments, samples_per_label=samples_per_label, k=3,
                           metadata=SimpleNamespace(name="SST2Classification"))

    def undersample(X, y, n, idxs=None):
        out = AbsTaskClassification._undersample_data(task, X, y, n, idxs)
        drawn.append(out[0])
        return out

    task._undersample_data = undersample
    np.random.seed(seed)
    data = {"train": {"text": [t for t, _ in train], "label": [l for _, l in train]},
            "test": {"text": [t for t, _ in test], "label": [l for _, l in test]}}
    return AbsTaskClassification._evaluate_subset(task, enc, data), drawn


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

    def verdict(what, ours, theirs, size, known=None, tol=TOL):
        """known: why an exact match is not expected here (then `tol` is the bound, and KNOWN is printed
        when within it); otherwise PASS within TOL."""
        ok = abs(ours - theirs) <= tol
        verdicts.append(ok)
        word = ("KNOWN" if known else "PASS") if ok else "FAIL"
        print(f"{word} mteb {mteb.__version__} {what}: ours {ours:.8f} theirs {theirs:.8f} "
              f"(difference {ours - theirs:+.6f}) on {size} (tolerance {tol:g})" + (f"; {known}" if known else ""))

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
    sk = tuple(int(x) for x in sklearn.__version__.split(".")[:2])
    ours, enc = saved("SST2Classification", "test")
    if enc is not None:
        names = json.load(open(os.path.join(args.eval_dir, "embeddings", "SST2Classification.texts.json")))
        trains = sorted((n for n in names if n.startswith("train_")), key=lambda n: int(n[6:]))
        enc = SavedEncoder(sum((names[n] for n in ["test"] + trains), []),
                           sum((list(load_file(os.path.join(args.eval_dir, "embeddings", "SST2Classification.safetensors"))
                                     [n + ".hs_raw"]) for n in ["test"] + trains), []))
        train = [(none_prompt(t), l) for t, l in sst2_rows(shared, "dev")]
        test = [(none_prompt(t), l) for t, l in sst2_rows(shared, "test")]
        assert [t for t, _ in test] == names["test"], "SST2Classification: saved test texts differ (use no --limit)"
        per_label = len(names["train_0"]) // 2
        try:
            theirs, drawn = mteb_classification(enc, train, test, len(trains), per_label)
        except KeyError as e:  # mteb drew a training text we never encoded: another undersampling
            theirs, drawn = None, [[str(e)]]
        same = sum(list(d) == names[n] for d, n in zip(drawn, trains))
        ok = same == len(trains)
        verdicts.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} mteb {mteb.__version__} AbsTaskClassification._undersample_data "
              f"SST2Classification: {same}/{len(trains)} experiments draw our {per_label}-per-label training texts "
              f"in our order (tolerance: exact)")
        # sklearn 1.4 made LogisticRegression's lbfgs minimise the mean loss (was: the summed one): the same
        # optimum, but the stopping test and the 100-iteration cap bite at other points
        known = (f"scikit-learn {sklearn.__version__} here minimises LogisticRegression's summed loss; we follow "
                 f"MTEB 1.14's scikit-learn >= 1.4 (mean loss): the 100-iteration lbfgs stops elsewhere") \
            if sk < (1, 4) else None
        if theirs is not None:
            verdict("logRegClassificationEvaluator SST2Classification accuracy", ours, theirs["accuracy"],
                    f"{len(test)} test texts x {len(trains)} experiments", known, 0.002 if known else TOL)
    ours, enc = saved("Banking77Clustering", "set_0")
    if enc is not None:
        texts, labels = banking_test(shared)
        texts = [none_prompt(t) for t in texts]
        all_saved(enc, "Banking77Clustering", texts)
        theirs = ClusteringEvaluator(texts, labels, task_name="Banking77Clustering")(enc)["v_measure"]
        # sklearn 1.3 changed k-means++'s first centre (random_state.choice over the sample weights, was
        # randint): another start, another local optimum of MiniBatchKMeans
        known = (f"scikit-learn {sklearn.__version__} here draws k-means++'s first centre with randint; we follow "
                 f"MTEB 1.14's scikit-learn >= 1.3 (choice): another start, another MiniBatchKMeans optimum") \
            if sk < (1, 3) else None
        verdict("ClusteringEvaluator Banking77Clustering v_measure", ours, theirs,
                f"{len(texts)} texts, {len(set(labels))} clusters, one set", known, 0.01 if known else TOL)
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
