#!/usr/bin/python3
"""Independent oracles for task evaluation (issue 16), run with Debian's /usr/bin/python3
(numpy, scipy, sklearn, python3-torch, sentencepiece). Nothing here imports the C++ engine.

  metrics --out FILE.json
      random inputs (with ties, zero rows, unused classes) and what scipy / sklearn / numpy / MTEB 1.14's
      evaluator code compute on them: Pearson, Spearman, paired cosine / manhattan / euclidean / dot,
      torch cos_sim, average precision, MRR@10, v-measure, accuracy, macro / weighted F1, pair-
      classification thresholds, NumPy RandomState streams, MTEB's undersampling walk, MoEE's per-chunk
      z-scoring (a chunk of one included). test_metrics compares at 1e-9.
  classifiers --in DIR
      DIR/eval_emb.safetensors + DIR/eval_ours.json written by test_eval_protocol: sklearn
      LogisticRegression(max_iter=100, random_state=42) per experiment and MiniBatchKMeans(batch_size=500,
      n_init="auto") with RandomState(42) on the same embeddings; exit 1 unless the accuracy is within
      0.5 points and the v-measure within 1 point of ours.
  mc --model DIR --in FILE.json [--tol 1e-4]
      multiple-choice items and the engine's log-likelihoods (and last-token hidden states) written by
      test_multiple_choice: recomputed with the PyTorch Llama of llama_reference.py (no KV cache, no
      padding) and lm-eval's _encode_pair tokenisation; exit 1 beyond --tol.
  recompute --dir OUT --shared SHARED --limit N
      a folder written by `den2moe eval --save-embeddings --limit N` (HS, prompt none): STS13, MRPC and
      TrecQAReranking recomputed here from the saved matrices and the raw data files — the texts read and
      put through MoEE's "none" pipeline in Python, looked up in the saved prompt lists, scored with
      scipy / sklearn as MTEB 1.14's evaluators do — and compared with the task files (1e-9).
  rw --model MOE_DIR --emb FILE.safetensors --texts FILE.texts.json [--tol 1e-4]
      routing weights saved by `den2moe eval --embedding rw --save-embeddings` on a Mixtral / Qwen2-MoE
      export: recomputed with the independent PyTorch MoE of mixtral_oracle.py (router logits of every MoE
      layer at the last token, layer-major) and the final-norm hidden state at the last token; exit 1
      beyond --tol.
  results --dir OUT
      a folder written by `den2moe eval --out OUT`, read back with MTEB's rules: every task file has
      dataset_revision, task_name, mteb_version (a real version), scores -> split -> [entries with
      main_score, hf_subset, languages], evaluation_time; model_meta.json has name and revision; summary.json
      / summary.csv agree with the task files (Mean(Task), Mean(TaskType)). Exit 1 on any violation.
"""
import argparse
import csv
import glob
import itertools
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    sys.stderr.write('eval_oracle: FAILED: %s\n' % msg)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# MTEB 1.14 evaluator functions, copied from mteb/evaluation/evaluators (PairClassification, Reranking)

def find_best_acc_and_threshold(scores, labels, high_score_more_similar):
    rows = list(zip(scores, labels))
    rows = sorted(rows, key=lambda x: x[0], reverse=high_score_more_similar)
    max_acc = 0
    best_threshold = -1
    positive_so_far = 0
    remaining_negatives = sum(np.array(labels) == 0)
    for i in range(len(rows) - 1):
        score, label = rows[i]
        if label == 1:
            positive_so_far += 1
        else:
            remaining_negatives -= 1
        acc = (positive_so_far + remaining_negatives) / len(labels)
        if acc > max_acc:
            max_acc = acc
            best_threshold = (rows[i][0] + rows[i + 1][0]) / 2
    return max_acc, best_threshold


def find_best_f1_and_threshold(scores, labels, high_score_more_similar):
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    rows = list(zip(scores, labels))
    rows = sorted(rows, key=lambda x: x[0], reverse=high_score_more_similar)
    best_f1 = best_precision = best_recall = 0
    threshold = 0
    nextract = 0
    ncorrect = 0
    total_num_duplicates = sum(labels)
    for i in range(len(rows) - 1):
        score, label = rows[i]
        nextract += 1
        if label == 1:
            ncorrect += 1
        if ncorrect > 0:
            precision = ncorrect / nextract
            recall = ncorrect / total_num_duplicates
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1 = f1
                best_precision = precision
                best_recall = recall
                threshold = (rows[i][0] + rows[i + 1][0]) / 2
    return best_f1, best_precision, best_recall, threshold


def mrr_at_k_score(is_relevant, pred_ranking, k):
    mrr_score = 0
    for rank, index in enumerate(pred_ranking[:k]):
        if is_relevant[index]:
            mrr_score = 1 / (rank + 1)
            break
    return mrr_score


def undersample(idxs, y, samples_per_label):
    """AbsTaskClassification._undersample_data: np.random.shuffle on the global RNG, then walk."""
    from collections import defaultdict
    np.random.shuffle(idxs)
    label_counter = defaultdict(int)
    kept = []
    for i in idxs:
        if label_counter[y[i]] < samples_per_label:
            kept.append(int(i))
            label_counter[y[i]] += 1
    return kept, idxs


def zscore_chunks(x, chunk):
    """MoEE moee.py: per chunk, (v - mean) / (std(ddof=1) + 1e-8), then nan -> 0 (numpy, float64)."""
    out = []
    for c0 in range(0, len(x), chunk):
        b = x[c0:c0 + chunk]
        with np.errstate(invalid='ignore', divide='ignore'):
            sd = b.std(axis=0, ddof=1) if len(b) > 1 else np.full(b.shape[1], np.nan)
            z = (b - b.mean(axis=0)) / (sd + 1e-8)
        out.append(z)
    return np.nan_to_num(np.concatenate(out), nan=0.0)


def cmd_metrics(a):
    import scipy.stats
    import sklearn.metrics as skm
    from sklearn.metrics.pairwise import (paired_cosine_distances, paired_euclidean_distances,
                                          paired_manhattan_distances)
    rs = np.random.RandomState(0)
    out = {}
    # correlations with ties
    x = np.round(rs.randn(200), 1)
    y = np.round(0.6 * x + rs.randn(200), 1)
    out['corr'] = {'x': x.tolist(), 'y': y.tolist(),
                   'pearson': float(scipy.stats.pearsonr(x, y)[0]),
                   'spearman': float(scipy.stats.spearmanr(x, y)[0]),
                   'ranks': scipy.stats.rankdata(x).tolist()}
    # paired scores; row 3 of a is zero (sklearn normalises it to zero), row 5 of both is zero
    A = rs.randn(40, 7)
    B = rs.randn(40, 7)
    A[3] = 0
    A[5] = 0
    B[5] = 0
    out['paired'] = {'a': A.ravel().tolist(), 'b': B.ravel().tolist(), 'd': 7,
                     'cosine': (1 - paired_cosine_distances(A, B)).tolist(),
                     'manhattan': paired_manhattan_distances(A, B).tolist(),
                     'euclidean': paired_euclidean_distances(A, B).tolist(),
                     'dot': [float(np.dot(A[i], B[i])) for i in range(len(A))]}
    import torch
    ta, tb = torch.tensor(A), torch.tensor(B)
    cs = torch.nn.functional.normalize(ta, p=2, dim=1) @ torch.nn.functional.normalize(tb, p=2, dim=1).T
    out['paired']['cos_sim_diag'] = [float(cs[i, i]) for i in range(len(A))]
    # average precision with tied scores; MRR@10 (MTEB's loop over a stable descending argsort)
    ap_cases = []
    for n, nlev in [(30, 5), (57, 1000), (12, 2), (200, 7)]:
        lab = (rs.rand(n) < 0.3).astype(int)
        lab[0] = 1
        sc = np.round(rs.rand(n) * nlev) / nlev
        order = np.argsort(-sc, kind='stable')
        ap_cases.append({'labels': lab.tolist(), 'scores': sc.tolist(),
                         'ap': float(skm.average_precision_score(lab, sc)),
                         'mrr10': float(mrr_at_k_score(lab.astype(bool).tolist(), order.tolist(), 10))})
    out['ap'] = ap_cases
    # expected AP of a random ranking: exact by enumeration
    n, r = 7, 3
    aps = []
    for perm in itertools.permutations(range(n)):
        lab = [1 if p < r else 0 for p in perm]
        sc = [n - i for i in range(n)]
        aps.append(skm.average_precision_score(lab, sc))
    out['random_ap'] = {'n': n, 'r': r, 'expected': float(np.mean(aps))}
    # v-measure, accuracy, F1 (class 4 in y_true is never predicted, class 9 only predicted)
    lt = rs.randint(0, 6, 300)
    lp = (lt + (rs.rand(300) < 0.4) * rs.randint(0, 6, 300)) % 6
    lp[lp == 4] = 9
    out['cls'] = {'true': lt.tolist(), 'pred': lp.tolist(),
                  'v_measure': float(skm.v_measure_score(lt, lp)),
                  'accuracy': float(skm.accuracy_score(lt, lp)),
                  'f1_macro': float(skm.f1_score(lt, lp, average='macro')),
                  'f1_weighted': float(skm.f1_score(lt, lp, average='weighted'))}
    # float cluster labels as categories (MoEE (sum) clustering)
    ch, cr = rs.randint(0, 4, 300), rs.randint(0, 4, 300)
    mixed = (ch + 1.0 * cr) / 2.0
    out['cls']['mixed'] = mixed.tolist()
    out['cls']['v_measure_mixed'] = float(skm.v_measure_score(lt, mixed))
    # pair classification metrics of MTEB 1.14, similarity and distance families
    pl = (rs.rand(150) < 0.4).astype(int)
    ps = np.round(rs.rand(150) + 0.3 * pl, 2)
    pairs = {'labels': pl.tolist(), 'scores': ps.tolist()}
    for name, high in [('sim', True), ('dist', False)]:
        acc, acc_t = find_best_acc_and_threshold(ps, pl, high)
        f1, p, rc, f1_t = find_best_f1_and_threshold(ps, pl, high)
        ap = skm.average_precision_score(pl, ps * (1 if high else -1))
        pairs[name] = {'accuracy': float(acc), 'accuracy_threshold': float(acc_t), 'f1': float(f1),
                       'precision': float(p), 'recall': float(rc), 'f1_threshold': float(f1_t), 'ap': float(ap)}
    out['pairs'] = pairs
    # NumPy legacy RandomState streams
    g = np.random.RandomState(42)
    out['rng'] = {'randint': g.randint(0, 1000, 20).tolist(), 'random_sample': g.random_sample(5).tolist(),
                  'permutation': g.permutation(17).tolist(), 'randint1': int(g.randint(77)),
                  'choice': g.choice(500, replace=False, size=6).tolist()}
    # MTEB undersampling over 3 experiments, each preceded by a reseed (the evaluator's constructor)
    yl = rs.randint(0, 5, 60)
    idxs = np.arange(len(yl))
    kept_all = []
    for e in range(3):
        np.random.seed(42)
        kept, idxs = undersample(idxs, yl, 4)
        kept_all.append(kept)
    out['undersample'] = {'labels': yl.tolist(), 'per_label': 4, 'kept': kept_all}
    # MoEE chunk z-scoring: chunks of 128, the last one a single row (NaN -> 0)
    Z = rs.randn(257, 5) * 3 + 1
    out['zscore'] = {'x': Z.ravel().tolist(), 'n': 257, 'd': 5, 'chunk': 128,
                     'z': zscore_chunks(Z, 128).ravel().tolist()}
    json.dump(out, open(a.out, 'w'))
    print('wrote', a.out)


def read_st(path):
    from llama_reference import read_safetensors
    return {k: v.double().numpy() for k, v in read_safetensors(path).items()}


def cmd_classifiers(a):
    import warnings
    import sklearn
    from sklearn.linear_model import LogisticRegression
    warnings.filterwarnings('ignore')
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import v_measure_score
    t = read_st(os.path.join(a.in_dir, 'eval_emb.safetensors'))
    ours = json.load(open(os.path.join(a.in_dir, 'eval_ours.json')))
    bad = []
    ver = tuple(int(p) for p in sklearn.__version__.split('.')[:2])
    # sklearn >= 1.4 minimises the mean log-loss, <= 1.3 the summed one (the gradient tolerance differs)
    ctag = '_14' if ver >= (1, 4) else '_12'
    for task in ours['classification']:
        name = task['name']
        accs = []
        for e, exp in enumerate(task['experiments']):
            Xtr = t['%s.train_%d' % (name, e)]
            Xte = t['%s.test' % name]
            clf = LogisticRegression(max_iter=100, random_state=42)
            clf.fit(Xtr, np.array(exp['y_train']))
            acc = float((clf.predict(Xte) == np.array(task['y_test'])).mean())
            accs.append(acc)
            print('%s exp %d: sklearn %.4f ours %.4f (n_iter %s)' % (name, e, acc, exp['accuracy' + ctag],
                                                                     clf.n_iter_), flush=True)
        mean_sk, mean_ours = float(np.mean(accs)), task['accuracy' + ctag]
        print('%s mean accuracy: sklearn %.4f ours %.4f diff %.2f points' % (name, mean_sk, mean_ours,
                                                                             100 * abs(mean_sk - mean_ours)))
        if abs(mean_sk - mean_ours) > 0.005:
            bad.append('%s accuracy %.4f vs sklearn %.4f' % (name, mean_ours, mean_sk))
    # our port draws the first k-means++ centre as sklearn 1.2 does (randint) or as >= 1.3 (choice with p)
    tag = '13' if ver >= (1, 3) else '12'
    for task in ours['clustering']:
        X = t['%s.set' % task['name']]
        labels = np.array(task['labels'])
        km = MiniBatchKMeans(n_clusters=len(set(labels.tolist())), batch_size=500, n_init='auto',
                             random_state=np.random.RandomState(42))
        km.fit(X)
        v = float(v_measure_score(labels, km.labels_))
        mine = task['v_measure_' + tag]
        print('%s v-measure: sklearn %s %.4f ours %.4f (same labels for %.1f%% of the texts)' % (
            task['name'], sklearn.__version__, v, mine,
            100 * float((km.labels_ == np.array(task['pred_' + tag])).mean())))
        if abs(v - mine) > 0.01:
            bad.append('%s v-measure %.4f vs sklearn %.4f' % (task['name'], mine, v))
    if bad:
        fail('; '.join(bad))
    print('classifiers: OK')


def cmd_mc(a):
    import torch
    from llama_reference import Llama, load_sp
    torch.set_num_threads(2)
    data = json.load(open(a.in_path))
    sp = load_sp(a.model)
    m = Llama(a.model, torch.float32)
    worst = 0.0

    def enc(s):
        return ([1] if data['bos'] else []) + sp.encode(s)

    with torch.no_grad():
        for item in data['items']:
            ctx = item['context']
            n_sp = len(ctx) - len(ctx.rstrip(' '))
            moved = ctx[len(ctx) - n_sp:] if n_sp else ''
            ctx = ctx[:len(ctx) - n_sp]
            cenc = enc(ctx)
            for c, cont in enumerate(item['continuations']):
                whole = enc(ctx + moved + cont)
                cont_enc = whole[len(cenc):]
                ids = torch.tensor([cenc + cont_enc[:-1]])
                lp = m.logits(ids)[0].log_softmax(-1)
                tail = lp[len(cenc) - 1:]
                ll = float(sum(tail[i, t] for i, t in enumerate(cont_enc)))
                ours = item['loglik'][c]
                worst = max(worst, abs(ll - ours))
                print('%-60s ll %.6f ours %.6f (%d tokens)' % (repr(cont)[:60], ll, ours, len(cont_enc)))
        for e in data.get('embeddings', []):
            ids = torch.tensor([[1] + sp.encode(e['prompt'])])
            h = m.hidden(ids)[0, -1].double().numpy()
            d = float(np.abs(h - np.array(e['hs'])).max())
            worst = max(worst, d)
            print('HS %-50s max diff %.2e' % (repr(e['prompt'])[:50], d))
    print('max abs difference %.3e (tol %g)' % (worst, a.tol))
    if not worst <= a.tol:
        fail('log-likelihood / hidden state differs by %.3e > %g' % (worst, a.tol))


def spread(n, limit):
    if limit <= 0 or limit >= n:
        return list(range(n))
    return [int(i * n / limit) for i in range(limit)]


def none_prompt(text):
    """MoEE's pipeline with the "none" template and no instruction (MOEE-MTEB.md A3)."""
    x = text
    if x and x[-1] not in '.?!"\'':
        x += '.'
    x = x.replace('"', "'")
    return ('"%s"' % x).replace('_', ' ').strip()


def cmd_recompute(a):
    import scipy.stats
    import sklearn.metrics as skm
    from sklearn.metrics.pairwise import paired_cosine_distances
    from llama_reference import read_safetensors
    mdir = glob.glob(os.path.join(a.dir, 'mteb', '*', '*'))[0]
    emb_dir = os.path.join(a.dir, 'embeddings')

    def load(task):
        t = {k: v.double().numpy() for k, v in read_safetensors(os.path.join(emb_dir, task + '.safetensors')).items()}
        texts = json.load(open(os.path.join(emb_dir, task + '.texts.json')))
        return t, texts

    def main_score(task):
        return json.load(open(os.path.join(mdir, task + '.json')))['scores']['test'][0]['main_score']

    def row(t, texts, call, text):
        return t[call + '.hs_raw'][texts[call].index(none_prompt(text))]

    bad = []
    # STS13: sentence1 / sentence2 in two calls; Spearman of the paired cosine with the gold scores
    rows = []
    for f in ('FNWN', 'OnWN', 'headlines'):
        for line in open(os.path.join(a.shared, 'data/sts_semeval/2013/%s.test.tsv' % f), encoding='utf-8'):
            line = line.rstrip('\n').rstrip('\r')
            if line:
                sc, s1, s2 = line.split('\t')[:3]
                rows.append((float(sc), s1, s2))
    rows = [rows[i] for i in spread(len(rows), a.limit)]
    t, texts = load('STS13')
    e1 = np.array([row(t, texts, 'sentence1', r[1]) for r in rows])
    e2 = np.array([row(t, texts, 'sentence2', r[2]) for r in rows])
    cos = 1 - paired_cosine_distances(e1, e2)
    want = float(scipy.stats.spearmanr([r[0] / 5 for r in rows], cos)[0])
    print('STS13 cosine_spearman: python %.12f engine %.12f' % (want, main_score('STS13')))
    if abs(want - main_score('STS13')) > 1e-9:
        bad.append('STS13')
    # MRPC: unique sentences in one call; max AP over similarity, cosine, manhattan, euclidean, dot
    lines = open(os.path.join(a.shared, 'data/mrpc/msr-para-test.tsv'), encoding='utf-8-sig').read().split('\n')
    hdr = lines[0].split('\t')
    pr = [l.split('\t') for l in lines[1:] if l.strip()]
    pr = [pr[i] for i in spread(len(pr), a.limit)]
    i1, i2, iq = hdr.index('#1 String'), hdr.index('#2 String'), hdr.index('Quality')
    t, texts = load('MRPC')
    a1 = np.array([row(t, texts, 'sentences', p[i1]) for p in pr])
    a2 = np.array([row(t, texts, 'sentences', p[i2]) for p in pr])
    lab = np.array([int(p[iq]) for p in pr])
    fams = [1 - paired_cosine_distances(a1, a2), -np.abs(a1 - a2).sum(1), -np.sqrt(((a1 - a2) ** 2).sum(1)),
            (a1 * a2).sum(1)]
    want = max(float(skm.average_precision_score(lab, f)) for f in fams)
    print('MRPC max_ap: python %.12f engine %.12f' % (want, main_score('MRPC')))
    if abs(want - main_score('MRPC')) > 1e-9:
        bad.append('MRPC')
    # TrecQA: per question positives then negatives; AP of torch-style cosines; skip one-sided samples
    samples = {}
    order = []
    for r in csv.DictReader(open(os.path.join(a.shared, 'data/trecqa/test.csv'), encoding='utf-8')):
        if r['qtext'] not in samples:
            samples[r['qtext']] = ([], [])
            order.append(r['qtext'])
        samples[r['qtext']][0 if r['label'] == '1' else 1].append(r['atext'])
    order = [order[i] for i in spread(len(order), a.limit)]
    t, texts = load('TrecQAReranking')
    aps = []
    for q in order:
        pos, neg = samples[q]
        if not pos or not neg:
            continue
        qe = row(t, texts, 'queries', q)
        de = np.array([row(t, texts, 'docs', d) for d in pos + neg])
        qn = qe / max(np.linalg.norm(qe), 1e-12)
        dn = de / np.maximum(np.linalg.norm(de, axis=1, keepdims=True), 1e-12)
        aps.append(skm.average_precision_score([1] * len(pos) + [0] * len(neg), dn @ qn))
    want = float(np.mean(aps))
    print('TrecQAReranking map: python %.12f engine %.12f (%d queries)' % (want, main_score('TrecQAReranking'),
                                                                          len(aps)))
    if abs(want - main_score('TrecQAReranking')) > 1e-9:
        bad.append('TrecQAReranking')
    if bad:
        fail('recomputed main scores differ: ' + ', '.join(bad))
    print('recompute: OK')


def cmd_rw(a):
    import torch
    from llama_reference import read_safetensors, load_sp
    from mixtral_oracle import Model
    torch.set_num_threads(2)
    m = Model(a.model)
    sp = load_sp(a.model)
    saved = read_safetensors(a.emb)
    texts = json.load(open(a.texts))
    worst = 0.0
    captured = []
    orig_lin = m.lin

    def lin(x, name, bias=None):  # record every router's output
        y = orig_lin(x, name, bias)
        if name.endswith('.gate') or name.endswith('block_sparse_moe.gate'):
            captured.append(y)
        return y

    m.lin = lin
    final = {}
    orig_rms = m.rms

    def rms(x, w):  # the final norm is the last rms call of a forward
        y = orig_rms(x, w)
        final['h'] = y
        return y

    m.rms = rms
    with torch.no_grad():
        for call, prompts in texts.items():
            rw = saved[call + '.rw_raw'].double()
            hs = saved[call + '.hs_raw'].double()
            for i, p in enumerate(prompts):
                captured.clear()
                m.forward(torch.tensor([[1] + sp.encode(p)]))
                want_rw = torch.cat([c.view(-1, c.shape[-1])[-1] for c in captured]).double()
                want_hs = final['h'][0, -1].double()
                d = max(float((want_rw - rw[i]).abs().max()), float((want_hs - hs[i]).abs().max()))
                worst = max(worst, d)
    print('rw: %d prompts, RW width %d, max abs difference %.3e (tol %g)' % (
        sum(len(v) for v in texts.values()), rw.shape[1], worst, a.tol))
    if not worst <= a.tol:
        fail('routing weights / hidden states differ by %.3e' % worst)
    print('rw: OK')


def cmd_results(a):
    root = a.dir
    files = sorted(glob.glob(os.path.join(root, 'mteb', '*', '*', '*.json')))
    task_files = [f for f in files if os.path.basename(f) != 'model_meta.json']
    metas = [f for f in files if os.path.basename(f) == 'model_meta.json']
    if not task_files:
        fail('no mteb/<model>/<revision>/<Task>.json under %s' % root)
    if not metas:
        fail('no model_meta.json beside the task files')
    for m in metas:
        meta = json.load(open(m))
        for k in ('name', 'revision'):
            if k not in meta:
                fail('%s lacks %s' % (m, k))
        if os.path.basename(os.path.dirname(m)) != meta['revision']:
            fail('%s: the revision folder is not the model revision' % m)
    mains = {}
    for f in task_files:
        j = json.load(open(f))
        for k in ('dataset_revision', 'task_name', 'mteb_version', 'scores', 'evaluation_time'):
            if k not in j:
                fail('%s lacks the key %s' % (f, k))
        v = j['mteb_version'].split('.')
        if len(v) < 2 or not all(p.isdigit() for p in v) or j['mteb_version'] == '1.4':
            fail('%s: mteb_version %r is not a real version' % (f, j['mteb_version']))
        if j['task_name'] + '.json' != os.path.basename(f):
            fail('%s: task_name %s differs from the file name' % (f, j['task_name']))
        for split, entries in j['scores'].items():
            if not isinstance(entries, list) or not entries:
                fail('%s: scores[%s] is not a list of subset entries' % (f, split))
            for e in entries:
                for k in ('main_score', 'hf_subset', 'languages'):
                    if k not in e:
                        fail('%s: a %s entry lacks %s' % (f, split, k))
                if not isinstance(e['languages'], list):
                    fail('%s: languages is not a list' % f)
        mains[j['task_name']] = j['scores']['test'][0]['main_score']
    summary = json.load(open(os.path.join(root, 'summary.json')))
    rows = list(csv.DictReader(open(os.path.join(root, 'summary.csv'))))
    by_task = {t['task']: t for t in summary['tasks']}
    for name, main in mains.items():
        if name not in by_task or abs(by_task[name]['main_score'] - main) > 1e-12:
            fail('summary.json disagrees with %s.json' % name)
    mteb_scores = [t['main_score'] for t in summary['tasks'] if t['type'] != 'MultipleChoice']
    if mteb_scores and abs(np.mean(mteb_scores) - summary['mean_task']) > 1e-12:
        fail('Mean(Task) %.6f is not the mean of the task scores %.6f' % (summary['mean_task'],
                                                                          np.mean(mteb_scores)))
    types = {}
    for t in summary['tasks']:
        if t['type'] != 'MultipleChoice':
            types.setdefault(t['type'], []).append(t['main_score'])
    if types:
        want = np.mean([np.mean(v) for v in types.values()])
        if abs(want - summary['mean_task_type']) > 1e-12:
            fail('Mean(TaskType) %.6f, expected %.6f' % (summary['mean_task_type'], want))
    csv_tasks = {r['task']: r for r in rows}
    for name in by_task:
        if name not in csv_tasks:
            fail('summary.csv lacks %s' % name)
    for z in glob.glob(os.path.join(root, 'zeroshot', '*.json')):
        j = json.load(open(z))
        task = os.path.basename(z)[:-5]
        if 'acc,none' not in j['results'][task]:
            fail('%s lacks results.%s["acc,none"]' % (z, task))
    print('results: %d MTEB task files, %d model_meta, summary consistent: OK' % (len(task_files), len(metas)))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('metrics')
    p.add_argument('--out', required=True)
    p = sub.add_parser('classifiers')
    p.add_argument('--in', dest='in_dir', required=True)
    p = sub.add_parser('mc')
    p.add_argument('--model', required=True)
    p.add_argument('--in', dest='in_path', required=True)
    p.add_argument('--tol', type=float, default=1e-4)
    p = sub.add_parser('recompute')
    p.add_argument('--dir', required=True)
    p.add_argument('--shared', required=True)
    p.add_argument('--limit', type=int, default=0)
    p = sub.add_parser('rw')
    p.add_argument('--model', required=True)
    p.add_argument('--emb', required=True)
    p.add_argument('--texts', required=True)
    p.add_argument('--tol', type=float, default=1e-4)
    p = sub.add_parser('results')
    p.add_argument('--dir', required=True)
    a = ap.parse_args()
    {'metrics': cmd_metrics, 'classifiers': cmd_classifiers, 'mc': cmd_mc, 'results': cmd_results,
     'recompute': cmd_recompute, 'rw': cmd_rw}[a.cmd](a)


if __name__ == '__main__':
    main()
