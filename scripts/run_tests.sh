#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the whole test suite.
#  1. the no-Qt configuration (engine + CLI + engine tests; what a GPU box builds) in build-nogui/
#  2. the GUI configuration's Qt targets and their tests (widgets, app) in build/
# Both folders are shared with README command 1, which configures them with tests off: every option
# is stated again here (scripts/common.sh), so the order of the two commands never matters.
# A configuration that should have tests and has none fails the run, and so does one that runs fewer
# engine tests than there are test sources (tests/engine/**/test_*.cpp, tests/kernels/test_*.cpp).
# Needs ../shared beside the checkout (or D2M_SHARED_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}

phase "install (apt, only what is missing)"
bash scripts/install_deps.sh
[ -d "$D2M_SHARED_DIR/models" ] || { echo "error: shared data not found at $D2M_SHARED_DIR (set D2M_SHARED_DIR)" >&2; exit 1; }

# count_tests DIR [ctest args...]: how many tests ctest would run
count_tests() { (cd "$1" && shift && ctest -N "$@" | sed -n 's/^Total Tests: //p'); }
summary=()

phase "test peers: Hugging Face tokenizers (PyPI, pinned) in build-nogui/hfvenv"
# the second BPE oracle (tests/engine/tokenizer/tests.cmake registers bpe_oracle_hf when it exists)
hf_peer="HF tokenizers peer: ran"
if [ ! -x build-nogui/hfvenv/bin/python ]; then
  mkdir -p build-nogui
  if ! { /usr/bin/python3 -m venv --system-site-packages build-nogui/hfvenv &&
         build-nogui/hfvenv/bin/pip install -q --disable-pip-version-check --no-deps tokenizers==0.23.3; }; then
    rm -rf build-nogui/hfvenv
    echo "WARNING: could not install tokenizers==0.23.3 from PyPI: the HF tokenizers peer does not run" >&2
    hf_peer="HF tokenizers peer: NOT RUN (PyPI unreachable)"
  fi
fi

phase "build: no-Qt configuration (build-nogui/)"
configure build-nogui OFF ON OFF
ninja -C build-nogui -j "$D2M_JOBS"
n_engine_sources=$(find tests/engine tests/kernels -name 'test_*.cpp' | wc -l)
n_nogui=$(count_tests build-nogui)
if [ "${n_nogui:-0}" -lt "$n_engine_sources" ]; then
  echo "error: build-nogui has ${n_nogui:-0} tests, fewer than the $n_engine_sources engine/kernel test sources" >&2
  echo "hint: was it configured with -DDEN2MOE_BUILD_TESTS=OFF? (README command 1 does that; this script sets it ON)" >&2
  exit 1
fi
phase "tests: no-Qt configuration ($n_nogui tests)"
(cd build-nogui && ctest --output-on-failure --no-tests=error -j "$D2M_JOBS")
summary+=("no-Qt configuration: $n_nogui tests passed" "$hf_peer")

if d2m_have_qt && [ -d widgets ] && ls widgets/*.cpp >/dev/null 2>&1; then
  phase "build: GUI configuration's Qt tests (build/)"
  configure build ON ON OFF
  gui_targets=$(ninja -C build -t targets all | sed -n 's/^\(tst_[A-Za-z0-9_]*\): .*/\1/p' | sort -u | tr '\n' ' ')
  if [ -z "$gui_targets" ]; then
    echo "error: the GUI configuration has no tst_* targets" >&2
    exit 1
  fi
  ninja -C build -j "$D2M_JOBS" den2moe-studio $gui_targets
  gui_regex='tst_|studio_|oracle_dendrogram|dendrogram'
  n_gui=$(count_tests build -R "$gui_regex")
  phase "tests: GUI configuration ($n_gui tests)"
  (cd build && ctest --output-on-failure --no-tests=error -j "$D2M_JOBS" -R "$gui_regex")
  summary+=("GUI configuration: $n_gui tests passed")
fi
phase_summary
for s in "${summary[@]}"; do echo "$s"; done
total=$(( n_nogui + ${n_gui:-0} ))
echo "$total passed, 0 failed"
