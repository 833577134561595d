#!/usr/bin/env bash
# docs/den2moee-demo.md, "TokenScore vs uniform token weights": demo-llama-7m converted by Den2MoEE twice
# with the same project (18 domains, SAMPLES records / windows per domain of <= SEQ tokens, own cache),
# once with uniform token weights over LM windows and once with TokenScore over whole records; the
# conversion times, how many neurons change expert (scripts/den2moee_expert_diff.py), and both top-2
# models on a few MTEB-style tasks (--limit LIMIT).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build-nogui/bin/den2moe}
OUT=${OUT:-out/tokenscore-demo}
SAMPLES=${SAMPLES:-8}; SEQ=${SEQ:-256}; LIMIT=${LIMIT:-100}
TASKS=${TASKS:-STS13,SICK-R,MRPC,Banking77Clustering}
SHARED=${D2M_SHARED_DIR:-../shared}
mkdir -p "$OUT"
/usr/bin/python3 - projects/demo.den2moe.json "$OUT" "$SAMPLES" "$SEQ" <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1]))
p['calibration'] = dict(p['calibration'], samples=int(sys.argv[3]), seq_len=int(sys.argv[4]))
p['cache_dir'] = os.path.abspath(os.path.join(sys.argv[2], 'cache'))
json.dump(p, open(os.path.join(sys.argv[2], 'project.den2moe.json'), 'w'), indent=1)
PY
for w in uniform tokenscore; do
  [ -e "$OUT/$w/moe_config.json" ] || /usr/bin/time -f "$w conversion: %e s wall" "$BIN" convert "$OUT/project.den2moe.json" \
      --recipe den2moee --experts 8 --top-k 2 --token-weights "$w" --no-eval --out "$OUT/$w" --quiet
done
/usr/bin/python3 scripts/den2moee_expert_diff.py "$SHARED/models/demo-llama-7m" "$OUT/uniform" "$OUT/tokenscore"
for w in uniform tokenscore; do  # the k-means seed baseline: same statistics (cache), seed 43
  [ -e "$OUT/$w-seed43/moe_config.json" ] || "$BIN" convert "$OUT/project.den2moe.json" --recipe den2moee --experts 8 \
      --top-k 2 --token-weights "$w" --seed 43 --no-eval --out "$OUT/$w-seed43" --quiet
  /usr/bin/python3 scripts/den2moee_expert_diff.py "$SHARED/models/demo-llama-7m" "$OUT/$w" "$OUT/$w-seed43" | tail -1
done
for w in uniform tokenscore; do
  [ -e "$OUT/eval-$w/summary.json" ] || "$BIN" eval "$OUT/$w" --tasks "$TASKS" --embedding hs --prompt none \
      --limit "$LIMIT" --out "$OUT/eval-$w" --quiet
done
"$BIN" eval --table "uniform=$OUT/eval-uniform" --table "tokenscore=$OUT/eval-tokenscore"
