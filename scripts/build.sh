#!/usr/bin/env bash
# Configure and build. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# GUI is built when Qt 6 is installed (DEN2MOE_BUILD_GUI=ON), else engine + CLI + engine tests.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
gui=ON
[ -e /usr/lib/x86_64-linux-gnu/cmake/Qt6/Qt6Config.cmake ] || gui=OFF
[ "${D2M_NO_GUI:-0}" = 1 ] && gui=OFF
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEN2MOE_BUILD_GUI=$gui "$@" >/dev/null
ninja -C "$dir" -j "${D2M_JOBS:-$(nproc)}"
