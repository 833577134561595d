#!/usr/bin/env bash
# Configure and build by hand. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# GUI is built when Qt 6 is installed (DEN2MOE_BUILD_GUI=ON), else engine + CLI + engine tests.
# Tests and benchmarks are ON unless the extra arguments say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
dir=${1:-build}; shift || true
gui=ON
d2m_have_qt || gui=OFF
[ "${D2M_NO_GUI:-0}" = 1 ] && gui=OFF
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEN2MOE_BUILD_GUI=$gui -DDEN2MOE_BUILD_TESTS=ON \
  -DDEN2MOE_BUILD_BENCH=ON -DDEN2MOE_KERNELS=ON "$@" >/dev/null
ninja -C "$dir" -j "$D2M_JOBS"
