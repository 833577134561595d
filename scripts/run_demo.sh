#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job on the demo model:
# model info, a greedy continuation, and the per-domain perplexity table over the 18 domains; then
# the desktop app on the demo project: the window when there is a display, else the headless form
# (domain-affinity mining, K = 8 clusters) writing out/demo-affinity.png.
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

if [ -e /usr/lib/x86_64-linux-gnu/cmake/Qt6/Qt6Config.cmake ]; then
  echo
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEN2MOE_BUILD_GUI=ON -DDEN2MOE_BUILD_BENCH=OFF >/dev/null
  ninja -C build -j "${D2M_JOBS:-$(nproc)}" den2moe-studio
  studio=build/bin/den2moe-studio
  if [ -n "${DISPLAY:-}" ]; then
    echo "opening den2moe-studio on projects/demo.den2moe.json (Run > Run mining)" >&2
    $studio --project projects/demo.den2moe.json
  else
    QT_QPA_PLATFORM=offscreen $studio --project projects/demo.den2moe.json --run mining --clusters 8 \
      --screenshot out/demo-affinity.png
  fi
else
  echo "Qt 6 not installed: skipping the desktop app" >&2
fi
