#!/usr/bin/env bash
# The recovery-training comparison of docs/training-demo.md on demo-llama-7m, at 50 % active FFN
# width and equal budget: dense, FLAP-only, DIVE (mined K = 8 clusters of docs/affinity-demo.md),
# DIVE with random clusters, random split (LLaMA-MoE, 8 x 96 top-4). MoE models: router stage, then
# experts stage; dense and FLAP-only: the experts stage only (they have no router). Per-domain
# perplexity (32 x 256 tokens of each test split, bf16) before training, after stage 1, after stage 2.
#   ROUTER_TOKENS (default 500000) and EXPERT_TOKENS (2000000): the budgets; OUT: the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build-nogui/bin/den2moe}
P=projects/demo.den2moe.json
OUT=${OUT:-out/training-demo}
R=${ROUTER_TOKENS:-500000}
X=${EXPERT_TOKENS:-2000000}
SHARED=${D2M_SHARED_DIR:-../shared}
mkdir -p "$OUT"
cat > "$OUT/clusters.json" <<'EOF'
{"names": ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8"],
 "members": [["python"], ["pubmed"], ["mmlu_humanities", "logiqa"], ["mmlu_stem", "arc", "openbookqa"], ["gsm8k"],
             ["banking", "reviews"], ["truthfulqa", "web", "trecqa", "wiki", "qnli", "news"], ["stories", "shakespeare"]]}
EOF
ppl() {  # ppl NAME DIR
  "$BIN" ppl "$2" --data "$SHARED/data/domains" --max-tokens 8192 --seq 256 --dtype bf16 --out "$OUT/ppl-$1.json" > /dev/null
}
conv() {  # conv NAME ARGS...
  local n=$1; shift
  [ -e "$OUT/$n/moe_config.json" ] || "$BIN" convert "$P" "$@" --no-eval --out "$OUT/$n" --quiet
}
train() {  # train NAME-IN NAME-OUT STAGE TOKENS
  [ -e "$OUT/$2/train.json" ] || "$BIN" train "$OUT/$1" --project "$P" --stage "$3" --tokens "$4" --out "$OUT/$2" --quiet \
      ${TRAIN_ARGS:-} 2> "$OUT/$2.log" || { "$BIN" train "$OUT/$1" --project "$P" --stage "$3" --tokens "$4" --out "$OUT/$2" --resume --quiet 2>> "$OUT/$2.log"; }
}
start=$(date +%s)
conv dive --recipe dive --clusters "$OUT/clusters.json" --router-init random
conv dive-random --recipe dive-random --clusters "$OUT/clusters.json" --router-init random
conv random --recipe random --experts 8 --top-k 4
conv flap --recipe flap
[ -e "$OUT/dense/train.json" ] || ln -sfn "$(cd "$SHARED/models/demo-llama-7m" && pwd)" "$OUT/dense-src"
for m in dive dive-random random flap; do ppl "$m-0" "$OUT/$m"; done
ppl dense-0 "$SHARED/models/demo-llama-7m"
for m in dive dive-random random; do
  train "$m" "$m-router" router "$R"; ppl "$m-1" "$OUT/$m-router"
  train "$m-router" "$m-experts" experts "$X"; ppl "$m-2" "$OUT/$m-experts"
done
for m in flap dense-src; do
  train "$m" "${m%-src}-experts" experts "$X"; ppl "${m%-src}-2" "$OUT/${m%-src}-experts"
done
echo "training demo: $(( $(date +%s) - start )) s wall" | tee "$OUT/wall.txt"
/usr/bin/python3 scripts/training_demo_report.py "$OUT"
