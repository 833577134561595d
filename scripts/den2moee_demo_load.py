#!/usr/bin/python3
# Expert load per source of docs/den2moee-demo.md: for the Den2MoEE model before (converted, top-2) and
# after the sparse phase, `den2moe route` over ~350 tokens of each source's queries (the first of
# out/den2moee-demo/pairs.jsonl); prints the share of tokens that select each routed expert (mean over the
# 6 layers) and the routed experts per token (2 = the null expert never takes a slot). Run from the repo root.
import json, subprocess, sys, collections
B = 'build-nogui/bin/den2moe'; O = 'out/den2moee-demo'
pairs = [json.loads(l) for l in open(O + '/pairs.jsonl')]
texts = {}
for d in ['mrpc', 'sts12', 'banking77']:
    q = [p['query'] for p in pairs if p['domain'] == d][:60]
    t = ''
    for s in q:
        if len(t) + len(s) > 1300: break
        t += s + ' '
    texts[d] = t.strip()
for m in ['moee-sparse', 'sparse-phase']:
    for d, t in texts.items():
        j = json.loads(subprocess.run([B, 'route', O + '/' + m, '--text', t, '--json', '--quiet', '--threads', '1'],
                                      capture_output=True, text=True, check=True).stdout)
        L = j['layers']; E = j['n_experts']
        load = [sum(l['load'][e] for l in L) / len(L) for e in range(E)]
        ntok = len(L[0]['tokens'])
        routed = sum(len(tok) for l in L for tok in l['tokens']) / (len(L) * ntok)
        print('%s | %s | %d | %s | %.2f' % (m, d, ntok, ' '.join('%.2f' % x for x in load), routed))
# Expert load per LM domain (`den2moe ppl --expert-load`, written by den2moee_demo.sh as load-MODEL.json: 8 x 256
# test tokens of each of the 18 domains): per domain the share of its routed token slots of each expert (mean over
# the 6 layers; Den2MoEE: the 6 routed experts, slots the null expert took are not counted; DIVE: its 8 experts).
import os
print()
for m in ['moee-sparse', 'sparse-phase', 'dive', 'dive-trained']:
    f = O + '/load-' + m + '.json'
    if not os.path.exists(f):
        continue
    j = json.load(open(f))['expert_load']
    for d in j['domains']:
        print('%s | %s | %s' % (m, d['domain'], ' '.join('%.2f' % x for x in d['mean_over_layers'])))
