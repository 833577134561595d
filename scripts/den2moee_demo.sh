#!/usr/bin/env bash
# docs/den2moee-demo.md on demo-llama-7m, no download: (1) the dense LM made a small embedding model by
# InfoNCE on pairs from the bundled TRAIN splits (MRPC, STS 2012, Banking77), (2) converted by
# Den2MoEE (8 clusters: 2 shared + 6 routed + 1 null, top-2), (3) the dense phase (routers only,
# cos-MSE to the dense embedding model's cosines, alpha ramp), (4) the sparse phase (MoE blocks,
# InfoNCE, budget bias). Every model evaluated with HS embeddings on a few MTEB-style tasks (--limit).
#   STEPS_EMB / STEPS_DENSE / STEPS_SPARSE, LIMIT, PAIRS_PER_SOURCE, OUT: the knobs (defaults below).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build-nogui/bin/den2moe}
OUT=${OUT:-out/den2moee-demo}
SHARED=${D2M_SHARED_DIR:-../shared}
SE=${STEPS_EMB:-60}; SD=${STEPS_DENSE:-30}; SS=${STEPS_SPARSE:-40}
LIMIT=${LIMIT:-200}; PPS=${PAIRS_PER_SOURCE:-400}
TASKS=${TASKS:-STS13,SICK-R,MRPC,Banking77Clustering}
mkdir -p "$OUT"
P=projects/demo.den2moe.json
COMMON=(--project "$P" --domains wiki,python --eval-windows 1 --batch 16 --dtype fp32 --quiet)
[ -e "$OUT/pairs.jsonl" ] || "$BIN" pairs --from mrpc,sts12,banking77 --max-per-source "$PPS" --out "$OUT/pairs.jsonl"
# (1) dense embedding model
[ -e "$OUT/emb/train.json" ] || "$BIN" train "$SHARED/models/demo-llama-7m" "${COMMON[@]}" --stage embedding \
    --pairs "$OUT/pairs.jsonl" --steps "$SE" --lr 2e-4 --out "$OUT/emb"
# (2) Den2MoEE conversion of the embedding model: a project whose model is it (calibration: the demo domains).
# A project names a Hugging Face folder: the trained weights (HF names) beside the demo model's config and tokenizer.
mkdir -p "$OUT/emb-hf"
cp "$SHARED/models/demo-llama-7m/"{config.json,tokenizer.model,tokenizer_config.json} "$OUT/emb-hf/"
cp "$OUT/emb/model.safetensors" "$OUT/emb-hf/model.safetensors"
/usr/bin/python3 - "$P" "$OUT" <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1]))
p['model'] = os.path.abspath(os.path.join(sys.argv[2], 'emb-hf'))
p['name'] = 'den2moee demo: the embedding model x 18 domains'
p['calibration']['samples'] = 32
json.dump(p, open(os.path.join(sys.argv[2], 'project.den2moe.json'), 'w'), indent=1)
PY
PE="$OUT/project.den2moe.json"
conv() {  # conv NAME ARGS...
  local n=$1; shift
  [ -e "$OUT/$n/moe_config.json" ] || "$BIN" convert "$PE" --recipe den2moee --experts 8 --top-k 2 "$@" --no-eval --out "$OUT/$n" --quiet
}
conv moee-dense --prior-scale 0 --dense-router  # the release's converted checkpoint: alpha 0, dense mode
conv moee-sparse --prior-scale 1                 # the same experts, routed top-2 with alpha 1 (no recovery)
# (3) dense phase, (4) sparse phase
[ -e "$OUT/dense-phase/train.json" ] || "$BIN" train "$OUT/moee-dense" "${COMMON[@]}" --stage den2moee-dense \
    --pairs "$OUT/pairs.jsonl" --teacher "$OUT/emb" --steps "$SD" --lr 1e-3 --alpha-warmup 15 --out "$OUT/dense-phase"
[ -e "$OUT/sparse-phase/train.json" ] || "$BIN" train "$OUT/dense-phase" "${COMMON[@]}" --stage den2moee-sparse \
    --pairs "$OUT/pairs.jsonl" --steps "$SS" --lr 1e-4 --out "$OUT/sparse-phase"
# evaluation: HS (last token), no prompt
ev() {  # ev NAME MODEL
  [ -e "$OUT/eval-$1/summary.json" ] || "$BIN" eval "$2" --tasks "$TASKS" --embedding hs --prompt none \
      --limit "$LIMIT" --out "$OUT/eval-$1" --quiet
}
ev dense-lm "$SHARED/models/demo-llama-7m"
ev emb "$OUT/emb"
ev moee-dense "$OUT/moee-dense"
ev moee-sparse "$OUT/moee-sparse"
ev dense-phase "$OUT/dense-phase"
ev sparse-phase "$OUT/sparse-phase"
"$BIN" eval --table "dense LM=$OUT/eval-dense-lm" --table "dense embedding=$OUT/eval-emb" \
    --table "Den2MoEE converted, dense mode=$OUT/eval-moee-dense" --table "Den2MoEE converted, top-2=$OUT/eval-moee-sparse" \
    --table "after dense phase=$OUT/eval-dense-phase" --table "after sparse phase=$OUT/eval-sparse-phase" | tee "$OUT/table.md"
