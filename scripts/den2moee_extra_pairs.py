#!/usr/bin/python3
"""More pair sources for embedding training, from the bundled TRAIN splits (docs/den2moee-demo.md,
"An embedding training that beats the untrained EOS read"), in the pairs format of engine/train/pairs.h:

  den2moee_extra_pairs.py SHARED OUT N_NEWS N_TRECQA [BASE.jsonl]

  news    data/domains/news/train.jsonl.gz (AG News train): headline -> its description (label 1), the
          headline of another record as the hard negative; N_NEWS records evenly spread
  trecqa  data/trecqa/train.csv: question -> a correct answer sentence (label 1), a wrong answer to the
          same question as the hard negative (when it has one); one pair per question, N_TRECQA questions
          evenly spread (the split has 83 with a correct answer); 0 = none of a source
BASE (e.g. `den2moe pairs` output) is copied first. Written to OUT.tmp, then renamed.
"""
import csv, gzip, json, os, sys


def spread(items, n):
    if n <= 0:
        return []
    if n >= len(items):
        return items
    return [items[(i * len(items)) // n] for i in range(n)]


def main():
    shared, out, n_news, n_trec = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    base = sys.argv[5] if len(sys.argv) > 5 else None
    rows = []
    if base:
        rows += [json.loads(l) for l in open(base, encoding='utf-8') if l.strip()]
    recs = []
    with gzip.open(os.path.join(shared, 'data/domains/news/train.jsonl.gz'), 'rt', encoding='utf-8') as f:
        for line in f:
            t = json.loads(line)['text']
            if '\n' not in t:
                continue
            head, body = t.split('\n', 1)
            head, body = ' '.join(head.split()), ' '.join(body.split())
            if head and body:
                recs.append((head, body))
    news = spread(recs, n_news)
    for i, (h, b) in enumerate(news):
        neg = news[(i + len(news) // 2) % len(news)][0]
        rows.append({'query': h, 'positive': b, 'negatives': [neg], 'label': 1.0, 'domain': 'news'})
    qs = {}
    with open(os.path.join(shared, 'data/trecqa/train.csv'), encoding='utf-8') as f:
        for r in csv.DictReader(f):
            q = qs.setdefault(r['qtext'], {'pos': [], 'neg': []})
            (q['pos'] if r['label'] == '1' else q['neg']).append(' '.join(r['atext'].split()))
    items = [(k, v) for k, v in qs.items() if v['pos']]
    for q, v in spread(items, n_trec):
        row = {'query': ' '.join(q.split()), 'positive': v['pos'][0], 'label': 1.0, 'domain': 'trecqa'}
        if v['neg']:
            row['negatives'] = [v['neg'][0]]
        rows.append(row)
    tmp = out + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
    os.replace(tmp, out)
    print('%d pairs (%d news, %d trecqa) -> %s' % (len(rows), len(news), min(n_trec, len(items)), out))


if __name__ == '__main__':
    main()
