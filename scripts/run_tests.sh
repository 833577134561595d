#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the whole test suite.
#  1. the no-Qt configuration (engine + CLI + engine tests; what a GPU box builds) in build-nogui/
#  2. the GUI configuration's Qt targets and their tests (widgets, app) in build/
# Needs ../shared beside the checkout (or D2M_SHARED_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
export D2M_SHARED_DIR=${D2M_SHARED_DIR:-$(cd .. && pwd)/shared}
[ -d "$D2M_SHARED_DIR/models" ] || { echo "error: shared data not found at $D2M_SHARED_DIR (set D2M_SHARED_DIR)" >&2; exit 1; }
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
jobs=${D2M_JOBS:-$(nproc)}

echo "== no-Qt build: engine + CLI + engine tests" >&2
cmake -S . -B build-nogui -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEN2MOE_BUILD_GUI=OFF -DDEN2MOE_BUILD_BENCH=OFF >/dev/null
ninja -C build-nogui -j "$jobs"
(cd build-nogui && ctest --output-on-failure -j "$jobs")

if [ -e /usr/lib/x86_64-linux-gnu/cmake/Qt6/Qt6Config.cmake ] && [ -d widgets ] && ls widgets/*.cpp >/dev/null 2>&1; then
  echo "== GUI build: widgets and app tests" >&2
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEN2MOE_BUILD_GUI=ON -DDEN2MOE_BUILD_BENCH=OFF >/dev/null
  gui_targets=$(ninja -C build -t targets all | sed -n 's/^\(tst_[A-Za-z0-9_]*\): .*/\1/p' | sort -u | tr '\n' ' ')
  if [ -n "$gui_targets" ]; then
    ninja -C build -j "$jobs" $gui_targets
    (cd build && ctest --output-on-failure -j "$jobs" -R 'tst_|oracle_dendrogram|dendrogram')
  fi
fi
