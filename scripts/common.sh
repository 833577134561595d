# Sourced by README command 1 (run_demo.sh) and command 2 (run_tests.sh): where the shared data is,
# how many jobs, the build configurations both commands share, and a timer per phase.
# Every configure call states every cache option it relies on, so the two commands work in either
# order, repeatedly, and after an interrupted run (a cached value from the other command never wins).
export D2M_SHARED_DIR=${D2M_SHARED_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared}
D2M_JOBS=${D2M_JOBS:-$(nproc)}
if command -v ccache >/dev/null 2>&1 && [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi

d2m_phase_start=$SECONDS
d2m_phase_name=""
d2m_phase_log=()
# phase NAME: ends the previous phase (printing its time) and starts NAME; `phase` alone ends the last.
phase() {
  if [ -n "$d2m_phase_name" ]; then
    local s=$((SECONDS - d2m_phase_start))
    printf '== %s: %dm%02ds\n' "$d2m_phase_name" $((s / 60)) $((s % 60)) >&2
    d2m_phase_log+=("$(printf '%-34s %dm%02ds' "$d2m_phase_name" $((s / 60)) $((s % 60)))")
  fi
  d2m_phase_name=${1:-}
  d2m_phase_start=$SECONDS
  [ -n "$d2m_phase_name" ] && echo "== $d2m_phase_name" >&2
  return 0
}
phase_summary() {
  phase
  echo "== time per phase" >&2
  local l
  for l in "${d2m_phase_log[@]}"; do echo "   $l" >&2; done
}

d2m_have_qt() { [ -e /usr/lib/x86_64-linux-gnu/cmake/Qt6/Qt6Config.cmake ]; }

# configure DIR GUI TESTS BENCH: the one configure call of both commands (every option explicit).
configure() {
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEN2MOE_BUILD_GUI="$2" -DDEN2MOE_BUILD_TESTS="$3" \
    -DDEN2MOE_BUILD_BENCH="$4" -DDEN2MOE_KERNELS=ON >/dev/null
}
