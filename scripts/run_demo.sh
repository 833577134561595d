#!/usr/bin/env bash
# README command 1: install what is missing, build, and run the main job on the demo model:
# model info, a greedy continuation, and the per-domain perplexity table over the 18 domains; then
# the desktop app on the demo project: the window when there is a display, else the headless form
# (domain-affinity mining, K = 8 clusters) writing out/demo-affinity.png.
# --build-only: install and build what this command runs, run nothing (CI checks the two commands
# in sequence with it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
build_only=0
[ "${1:-}" = --build-only ] && build_only=1

phase "install (apt, only what is missing)"
bash scripts/install_deps.sh
[ -d "$D2M_SHARED_DIR/models" ] || { echo "error: shared data not found at $D2M_SHARED_DIR (set D2M_SHARED_DIR)" >&2; exit 1; }

phase "build: engine + CLI (build-nogui/)"
configure build-nogui OFF OFF OFF
ninja -C build-nogui -j "$D2M_JOBS" den2moe spm_shim
if d2m_have_qt; then
  phase "build: desktop app (build/)"
  configure build ON OFF OFF
  ninja -C build -j "$D2M_JOBS" den2moe-studio
fi
if [ $build_only = 1 ]; then phase_summary; exit 0; fi

phase "demo job: info, generate, perplexity table"
bin=build-nogui/bin/den2moe
model=$D2M_SHARED_DIR/models/demo-llama-7m
mkdir -p out
$bin info "$model"
echo
$bin generate "$model" --prompt "Question: Natalia sold clips to 48 of her friends in April." -n 48
echo
$bin ppl "$model" --data "$D2M_SHARED_DIR/data/domains" --seq 256 --max-tokens 8192 --dtype bf16 --out out/demo_ppl.json
echo "wrote out/demo_ppl.json" >&2

if d2m_have_qt; then
  echo
  studio=build/bin/den2moe-studio
  if [ -n "${DISPLAY:-}" ]; then
    phase "desktop app"
    echo "opening den2moe-studio on projects/demo.den2moe.json (Run > Run mining)" >&2
    $studio --project projects/demo.den2moe.json
  else
    phase "demo job: headless mining + affinity screenshot"
    QT_QPA_PLATFORM=offscreen $studio --project projects/demo.den2moe.json --run mining --clusters 8 \
      --screenshot out/demo-affinity.png
  fi
else
  echo "Qt 6 not installed: skipping the desktop app" >&2
fi
phase_summary
