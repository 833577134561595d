#!/usr/bin/env bash
# docs/den2moee-demo.md, "TokenScore vs uniform on an EOS-pooled embedding model": demo-llama-7m made an
# embedding model that encodes BOS text EOS and pools at the EOS (--append-eos, the token TokenScore's
# samples end with), then converted by Den2MoEE with uniform and with TokenScore token weights, each with
# SEEDS k-means seeds (the same cached statistics per weighting), each conversion recovered by the dense
# and the sparse phase; the dense embedding model, every converted (top-2, alpha 1) and every recovered
# model evaluated at the EOS on the MTEB-style tasks (--limit LIMIT; 0 = full test splits).
#   OUT, SEEDS, STEPS_EMB / STEPS_DENSE / STEPS_SPARSE, SAMPLES / SEQ (calibration), LIMIT, TASKS: the knobs.
#   EMB_PAIRS (default OUT/pairs.jsonl) and EMB_ARGS (default --steps STEPS_EMB --lr 2e-4): the dense
#   embedding training; WISE=a: the embedding model is then (1 - a)·demo LM + a·trained
#   (scripts/den2moee_wise.py; the trained one stays in OUT/emb-tuned). The recovery phases train on OUT/pairs.jsonl.
# The two weightings run as two chains side by side (one thread each: D2M_THREADS=1), under nice.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build-nogui/bin/den2moe}
OUT=${OUT:-out/eos-tokenscore}
SHARED=${D2M_SHARED_DIR:-../shared}
SEEDS=${SEEDS:-42 43 44}
SE=${STEPS_EMB:-60}; SD=${STEPS_DENSE:-30}; SS=${STEPS_SPARSE:-40}
SAMPLES=${SAMPLES:-8}; SEQ=${SEQ:-256}; LIMIT=${LIMIT:-200}; PPS=${PAIRS_PER_SOURCE:-400}
TASKS=${TASKS:-STS13,SICK-R,MRPC,Banking77Clustering}
export D2M_THREADS=${D2M_THREADS:-1}
RUN=(nice -n 5 /usr/bin/time -f "%C: %e s wall" -a -o "$OUT/times.txt")
mkdir -p "$OUT"
P=projects/demo.den2moe.json
COMMON=(--project "$P" --domains wiki,python --eval-windows 1 --batch 16 --dtype fp32 --append-eos --quiet)
[ -e "$OUT/pairs.jsonl" ] || "$BIN" pairs --from mrpc,sts12,banking77 --max-per-source "$PPS" --out "$OUT/pairs.jsonl"
# (1) the dense embedding model, BOS "text." EOS pooled at the EOS (the evaluator's --prompt none format)
EMB_PAIRS=${EMB_PAIRS:-$OUT/pairs.jsonl}
read -r -a EMB_ARGS <<< "${EMB_ARGS:---steps $SE --lr 2e-4}"
if [ -z "${WISE:-}" ]; then
  [ -e "$OUT/emb/train.json" ] || "${RUN[@]}" "$BIN" train "$SHARED/models/demo-llama-7m" "${COMMON[@]}" \
      --stage embedding --pairs "$EMB_PAIRS" "${EMB_ARGS[@]}" --out "$OUT/emb"
else
  [ -e "$OUT/emb-tuned/train.json" ] || "${RUN[@]}" "$BIN" train "$SHARED/models/demo-llama-7m" "${COMMON[@]}" \
      --stage embedding --pairs "$EMB_PAIRS" "${EMB_ARGS[@]}" --out "$OUT/emb-tuned"
  [ -e "$OUT/emb/wise.json" ] || /usr/bin/python3 scripts/den2moee_wise.py "$SHARED/models/demo-llama-7m" \
      "$OUT/emb-tuned" "$WISE" "$OUT/emb"
fi
# (2) its Hugging Face folder and a project over it: SAMPLES records / windows of <= SEQ tokens per domain
mkdir -p "$OUT/emb-hf"
cp "$SHARED/models/demo-llama-7m/"{config.json,tokenizer.model,tokenizer_config.json} "$OUT/emb-hf/"
cp "$OUT/emb/model.safetensors" "$OUT/emb-hf/model.safetensors"
/usr/bin/python3 - "$P" "$OUT" "$SAMPLES" "$SEQ" <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1]))
p['model'] = os.path.abspath(os.path.join(sys.argv[2], 'emb-hf'))
p['name'] = 'EOS-pooled demo embedding model x 18 domains'
p['calibration'] = dict(p['calibration'], samples=int(sys.argv[3]), seq_len=int(sys.argv[4]))
p['cache_dir'] = os.path.abspath(os.path.join(sys.argv[2], 'cache'))
json.dump(p, open(os.path.join(sys.argv[2], 'project.den2moe.json'), 'w'), indent=1)
PY
PE="$OUT/project.den2moe.json"
ev() {  # ev NAME MODEL: HS at the appended EOS, no prompt
  [ -e "$OUT/eval-$1/summary.json" ] || "${RUN[@]}" "$BIN" eval "$2" --tasks "$TASKS" --embedding hs --pooling last \
      --append-eos --prompt none --limit "$LIMIT" --out "$OUT/eval-$1" --quiet
}
chain() {  # chain WEIGHTS: every seed's conversion, both phases and the evaluations
  local w=$1 seed
  for seed in $SEEDS; do
    local n=$w-s$seed
    [ -e "$OUT/$n-top2/moe_config.json" ] || "${RUN[@]}" "$BIN" convert "$PE" --recipe den2moee --experts 8 --top-k 2 \
        --prior-scale 1 --token-weights "$w" --seed "$seed" --no-eval --out "$OUT/$n-top2" --quiet
    [ -e "$OUT/$n-dense/moe_config.json" ] || "${RUN[@]}" "$BIN" convert "$PE" --recipe den2moee --experts 8 --top-k 2 \
        --prior-scale 0 --dense-router --token-weights "$w" --seed "$seed" --no-eval --out "$OUT/$n-dense" --quiet
    ev "$n-top2" "$OUT/$n-top2"
    [ -e "$OUT/$n-dphase/train.json" ] || "${RUN[@]}" "$BIN" train "$OUT/$n-dense" "${COMMON[@]}" --stage den2moee-dense \
        --pairs "$OUT/pairs.jsonl" --teacher "$OUT/emb" --steps "$SD" --lr 1e-3 --alpha-warmup 15 --out "$OUT/$n-dphase"
    [ -e "$OUT/$n-sphase/train.json" ] || "${RUN[@]}" "$BIN" train "$OUT/$n-dphase" "${COMMON[@]}" --stage den2moee-sparse \
        --pairs "$OUT/pairs.jsonl" --steps "$SS" --lr 1e-4 --out "$OUT/$n-sphase"
    ev "$n-sphase" "$OUT/$n-sphase"
  done
}
ev emb "$OUT/emb"
chain uniform > "$OUT/chain-uniform.log" 2>&1 &
pu=$!
chain tokenscore > "$OUT/chain-tokenscore.log" 2>&1 &
pt=$!
wait $pu
wait $pt
# how many neurons change expert: uniform vs TokenScore (same seed), and between seeds (same weights)
for seed in $SEEDS; do
  /usr/bin/python3 scripts/den2moee_expert_diff.py "$OUT/emb-hf" "$OUT/uniform-s$seed-top2" "$OUT/tokenscore-s$seed-top2" | tail -1
done | tee "$OUT/expert_diff.txt"
/usr/bin/python3 scripts/den2moee_seed_table.py "$OUT" $SEEDS | tee "$OUT/table.md"
