#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job on the demo model:
# model info, a greedy continuation, and the per-domain perplexity table over the 18 domains.
# (The desktop app joins here once it exists; this is the headless form.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
export D2M_SHARED_DIR=${D2M_SHARED_DIR:-$(cd .. && pwd)/shared}
bash scripts/build.sh build-nogui -DDEN2MOE_BUILD_GUI=OFF -DDEN2MOE_BUILD_TESTS=OFF -DDEN2MOE_BUILD_BENCH=OFF
bin=build-nogui/bin/den2moe
model=$D2M_SHARED_DIR/models/demo-llama-7m
mkdir -p out
$bin info "$model"
echo
$bin generate "$model" --prompt "Question: Natalia sold clips to 48 of her friends in April." -n 48
echo
$bin ppl "$model" --data "$D2M_SHARED_DIR/data/domains" --seq 256 --max-tokens 8192 --dtype bf16 --out out/demo_ppl.json
echo "wrote out/demo_ppl.json" >&2
