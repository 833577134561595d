#!/usr/bin/env bash
# docs/den2moee-demo.md on demo-llama-7m, no download: (1) the dense LM made a small embedding model by
# InfoNCE on pairs from the bundled TRAIN splits (MRPC, STS 2012, Banking77), (2) converted by
# Den2MoEE (8 clusters: 2 shared + 6 routed + 1 null, top-2), (3) the dense phase (routers only,
# cos-MSE to the dense embedding model's cosines, alpha ramp), (4) the sparse phase (MoE blocks,
# InfoNCE, budget bias), (5) beside it a DIVE-built MoE of the same embedding model (8 FLAP experts of
# the mined clusters, top-1: the same active FFN width) trained with the sparse phase's contrastive
# budget (steps, batch, pairs, tau, LR and schedule). Every model evaluated with HS embeddings on a few
# MTEB-style tasks (--limit), the Den2MoEE models also with Den2MoEE's pooling; active parameters per
# token from `den2moe info`, the expert load per LM domain from `den2moe ppl --expert-load`.
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
# (5) DIVE of the same embedding model: one FLAP-pruned expert (ratio 0.5: 384 channels) per mined cluster of
# docs/affinity-demo.md, centroid routers, top-1 (= Den2MoEE's 192 shared + 2 x 96 routed channels per token);
# then the sparse phase's budget: InfoNCE tau 0.1, the same pairs, batch, steps, LR 1e-4, cosine schedule,
# on the MoE blocks (experts and routers; top-1 renormalised gates are exactly 1, so the routers get no gradient)
cat > "$OUT/clusters.json" <<'EOF2'
{"names": ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"],
 "members": [["python"], ["pubmed"], ["mmlu_humanities", "logiqa"], ["mmlu_stem", "arc", "openbookqa"], ["gsm8k"],
             ["banking", "reviews"], ["truthfulqa", "web", "trecqa", "wiki", "qnli", "news"], ["stories", "shakespeare"]]}
EOF2
[ -e "$OUT/dive/moe_config.json" ] || "$BIN" convert "$PE" --recipe dive --clusters "$OUT/clusters.json" --top-k 1 \
    --ratio 0.5 --no-eval --out "$OUT/dive" --quiet
[ -e "$OUT/dive-trained/train.json" ] || "$BIN" train "$OUT/dive" "${COMMON[@]}" --stage embedding \
    --trainable '*.mlp.experts.*,*.mlp.router.weight' --pairs "$OUT/pairs.jsonl" --steps "$SS" --lr 1e-4 \
    --out "$OUT/dive-trained"
# evaluation: HS (last token), no prompt
ev() {  # ev NAME MODEL [EMBEDDING]
  [ -e "$OUT/eval-$1/summary.json" ] || "$BIN" eval "$2" --tasks "$TASKS" --embedding "${3:-hs}" --prompt none \
      --limit "$LIMIT" --out "$OUT/eval-$1" --quiet
}
ev dense-lm "$SHARED/models/demo-llama-7m"
ev emb "$OUT/emb"
ev moee-dense "$OUT/moee-dense"
ev moee-sparse "$OUT/moee-sparse"
ev dense-phase "$OUT/dense-phase"
ev sparse-phase "$OUT/sparse-phase"
ev dive "$OUT/dive"
ev dive-trained "$OUT/dive-trained"
ev moee-sparse-d2mpool "$OUT/moee-sparse" den2moee
ev sparse-phase-d2mpool "$OUT/sparse-phase" den2moee
# active parameters per token (non-embedding) of every model, from the engine (model/active_params.h)
for m in emb moee-dense moee-sparse dense-phase sparse-phase dive dive-trained; do
  printf '%s ' "$m"; "$BIN" info "$OUT/$m" --json | /usr/bin/python3 -c \
      "import json,sys; print(json.load(sys.stdin)['active_parameters_per_token']['non_embedding'])"
done | tee "$OUT/active_params.txt"
# expert load per LM domain (8 x 256 test tokens of each of the 18 domains) before and after the sparse phase
for m in moee-sparse sparse-phase dive dive-trained; do
  [ -e "$OUT/load-$m.json" ] || "$BIN" ppl "$OUT/$m" --data "$SHARED/data/domains" --max-tokens 2048 --seq 256 \
      --expert-load --out "$OUT/load-$m.json" --quiet > /dev/null
done
"$BIN" eval --table "dense LM=$OUT/eval-dense-lm" --table "dense embedding=$OUT/eval-emb" \
    --table "Den2MoEE converted, dense mode=$OUT/eval-moee-dense" --table "Den2MoEE converted, top-2=$OUT/eval-moee-sparse" \
    --table "after dense phase=$OUT/eval-dense-phase" --table "after sparse phase=$OUT/eval-sparse-phase" \
    --table "converted, top-2, Den2MoEE pooling=$OUT/eval-moee-sparse-d2mpool" \
    --table "after sparse phase, Den2MoEE pooling=$OUT/eval-sparse-phase-d2mpool" \
    --table "DIVE converted=$OUT/eval-dive" --table "DIVE after the same InfoNCE budget=$OUT/eval-dive-trained" \
    | tee "$OUT/table.md"
