#!/bin/bash
# The ASan + UBSan run of the no-Qt test suite (docs/reliability.md, "Sanitizers"), built one test at a time,
# the cheapest areas first, each test run as soon as it links: on a shared machine an interrupted run still
# leaves results, and a rerun resumes (ninja rebuilds nothing that is done).
#   bash scripts/asan_tests.sh              # the ordered tests, then the rest of the tree and the whole suite
#   D2M_ASAN_NICE=19 bash scripts/asan_tests.sh test_text test_config   # only these
# Prints one line per test (PASS / FAIL / BUILD-FAILED) and ends with the counts; the ctest logs are in
# build-asan/Testing/Temporary/LastTest*.log, the build logs in build-asan/asan-logs/.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export D2M_SHARED_DIR=${D2M_SHARED_DIR:-$(cd .. && pwd)/shared}
nice_n=${D2M_ASAN_NICE:-10}
if [ ! -f build-asan/build.ninja ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
    -DDEN2MOE_BUILD_GUI=OFF -DDEN2MOE_BUILD_BENCH=OFF -DDEN2MOE_SANITIZE=address,undefined || exit 2
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
mkdir -p build-asan/asan-logs
# core, io, cluster, tokenizer, data, project (torch-light, fast to build), the kernels, then the model
ordered=(test_text test_sha256 test_runtime test_config test_safetensors test_hardening test_linkage
         test_llama2c_tokenizer test_bpe_tokenizer test_spm_json test_text_policy test_corpus test_project test_runs
         test_causal_softmax test_swiglu test_norm_rope test_router test_model_files)
whole=1
if [ $# -gt 0 ]; then ordered=("$@"); whole=0; fi
pass=0 fail=0 broken=0
for t in "${ordered[@]}"; do
  if ! nice -n "$nice_n" ninja -C build-asan -j1 "$t" > "build-asan/asan-logs/$t.log" 2>&1; then
    echo "BUILD-FAILED $t (build-asan/asan-logs/$t.log)"; broken=$((broken + 1)); continue
  fi
  # the test and the fixtures it requires (ctest adds them: text_oracle writes test_text's python reference); a
  # test registered case by case (test_bpe_tokenizer without the HF peer: test_bpe_tokenizer_<case>) runs so
  re="^$t\$"
  (cd build-asan && ctest -N -R "$re" | grep -q "(Disabled)") && re="^${t}_"
  if (cd build-asan && nice -n "$nice_n" ctest -j1 --output-on-failure -R "$re" > "asan-logs/$t.ctest.log" 2>&1); then
    echo "PASS $t $(date -u +%T)"; pass=$((pass + 1))
  else
    echo "FAIL $t (build-asan/asan-logs/$t.ctest.log)"; fail=$((fail + 1))
  fi
done
echo "ordered tests: $pass passed, $fail failed, $broken did not build"
if [ "$whole" = 1 ]; then
  nice -n "$nice_n" ninja -C build-asan -j1 > build-asan/asan-logs/all.log 2>&1 || { echo "the rest of the tree did not build (build-asan/asan-logs/all.log)"; exit 1; }
  (cd build-asan && nice -n "$nice_n" ctest -j1 --output-on-failure 2>&1 | tee asan-logs/suite.log | tail -40)
fi
[ $fail -eq 0 ] && [ $broken -eq 0 ]
