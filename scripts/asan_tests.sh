#!/bin/bash
# The ASan + UBSan run of the no-Qt test suite (docs/reliability.md, "Sanitizers"), built one test at a time,
# the cheapest areas first, each test run as soon as it links: on a shared machine an interrupted run still
# leaves results, and a rerun resumes (ninja rebuilds nothing that is done).
#   bash scripts/asan_tests.sh              # the ordered tests, then the rest of the tree and the whole suite
#   D2M_ASAN_NICE=19 bash scripts/asan_tests.sh test_text test_config   # only these
#   D2M_ASAN_JOBS=2 bash scripts/asan_tests.sh                           # ninja -j2 (default -j1)
# Prints one line per test program (PASS / SKIP / FAIL / BUILD-FAILED; PASS names the cases skipped inside it) and
# ends with the counts; the ctest logs are in build-asan/asan-logs/<test>.ctest.log, the build logs beside them.
# A program runs with every ctest that executes it (test_spm_tokenizer_bad_shim, test_runtime_coretype_auto, ...).
# In this build a case or a CLI run that needs the sentencepiece shim is skipped (tests/support/check.h).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export D2M_SHARED_DIR=${D2M_SHARED_DIR:-$(cd .. && pwd)/shared}
nice_n=${D2M_ASAN_NICE:-10}
jobs=${D2M_ASAN_JOBS:-1}
if [ ! -f build-asan/build.ninja ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" \
    -DDEN2MOE_BUILD_GUI=OFF -DDEN2MOE_BUILD_BENCH=OFF -DDEN2MOE_SANITIZE=address,undefined || exit 2
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
mkdir -p build-asan/asan-logs
# core, io, cluster, tokenizer, data, project (torch-light, fast to build), the kernels, the model, then the
# areas built on it in dependency order (a test after the programs its fixtures run: test_mining_oracle reads
# oracle_mining's output of test_mining)
ordered=(test_check_support test_text test_sha256 test_runtime test_config test_safetensors test_hardening test_linkage
         test_llama2c_tokenizer test_bpe_tokenizer test_spm_json test_spm_tokenizer test_text_policy test_corpus
         test_project test_runs test_causal_softmax test_swiglu test_norm_rope test_router test_model_files
         test_gemm test_llama_logits test_stories260k test_qwen test_moe_io test_moe_mixture test_active_params
         test_generate_plan test_ffn_stats test_token_score test_plan test_moe test_den2moee test_prune
         test_metrics test_perplexity test_ppl_validate test_result_import test_task_eval test_den2moee_pooling
         test_expert_load_compare test_export test_peft_adapter test_train_log test_contrastive
         test_trainer test_exec_modes test_expert_load test_mining test_mining_oracle test_dist)
whole=1
if [ $# -gt 0 ]; then ordered=("$@"); whole=0; fi
pass=0 skip=0 fail=0 broken=0
for t in "${ordered[@]}"; do
  if ! nice -n "$nice_n" ninja -C build-asan -j"$jobs" "$t" > "build-asan/asan-logs/$t.log" 2>&1; then
    echo "BUILD-FAILED $t (build-asan/asan-logs/$t.log)"; broken=$((broken + 1)); continue
  fi
  # every enabled ctest that runs this program (by name or as cmake -DEXE=...), and the fixtures they require
  # (ctest adds them: text_oracle writes test_text's python reference)
  re=$(cd build-asan && ctest --show-only=json-v1 | /usr/bin/python3 -c '
import json, os, re, sys
t = sys.argv[1]
names = [x["name"] for x in json.load(sys.stdin)["tests"]
         if not any(p["name"] == "DISABLED" and p["value"] for p in x.get("properties", []))
         and any(os.path.basename(a.split("=", 1)[-1]) == t for a in x.get("command", []))]
print("^(" + "|".join(re.escape(n) for n in names) + ")$" if names else "^$")' "$t")
  if (cd build-asan && nice -n "$nice_n" ctest -j1 --timeout 1800 --output-on-failure -R "$re" > "asan-logs/$t.ctest.log" 2>&1); then
    # ctest prints a passing test's output only to its LastTest.log: the skipped cases are counted there
    cp build-asan/Testing/Temporary/LastTest.log "build-asan/asan-logs/$t.last.log"
    cases=$(grep -c '^\[ SKIP \]' "build-asan/asan-logs/$t.last.log")
    if grep -q '(Skipped)' "build-asan/asan-logs/$t.ctest.log" && ! grep -q ' Passed ' "build-asan/asan-logs/$t.ctest.log"; then
      echo "SKIP $t $(date -u +%T)"; skip=$((skip + 1))
    else
      note=""; [ "$cases" != 0 ] && note=" ($cases cases skipped)"
      echo "PASS $t $(date -u +%T)$note"; pass=$((pass + 1))
    fi
  else
    echo "FAIL $t (build-asan/asan-logs/$t.ctest.log)"; fail=$((fail + 1))
  fi
done
echo "ordered tests: $pass passed, $skip skipped, $fail failed, $broken did not build"
if [ "$whole" = 1 ]; then
  nice -n "$nice_n" ninja -C build-asan -j"$jobs" > build-asan/asan-logs/all.log 2>&1 || { echo "the rest of the tree did not build (build-asan/asan-logs/all.log)"; exit 1; }
  (cd build-asan && nice -n "$nice_n" ctest -j"$jobs" --timeout 1800 --output-on-failure 2>&1 | tee asan-logs/suite.log | tail -40)
fi
[ $fail -eq 0 ] && [ $broken -eq 0 ]
