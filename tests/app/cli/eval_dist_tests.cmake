# Sharded `den2moe eval` (issue 19): two small tasks (arc_easy: zero-shot multiple choice, STS13:
# MTEB embeddings) on the dense demo model, --limit 24, once on one process and once on 2 ranks
# (--nproc 2: task i on rank i mod 2, rank 0 gathers and writes); eval_shard_compare.py requires
# the same files with the same contents minus the timing fields (seconds / evaluation_time: each
# task's wall time on the rank that ran it). Also: --save-embeddings with --nproc 2 is refused.
set(D2M_CLI_EVAL_DIST ${CMAKE_BINARY_DIR}/cli-eval-dist)
set(D2M_EVAL_DIST_ARGS "--tasks arc_easy,STS13 --limit 24 --no-cache --threads 1 --quiet")
add_test(NAME cli_eval_dist_single
         COMMAND sh -c "rm -rf '${D2M_CLI_EVAL_DIST}' && $<TARGET_FILE:den2moe> eval '${D2M_SHARED_DIR}/models/demo-llama-7m' ${D2M_EVAL_DIST_ARGS} --out '${D2M_CLI_EVAL_DIST}/one' && test -s '${D2M_CLI_EVAL_DIST}/one/summary.json' && echo SINGLE_DONE")
set_tests_properties(cli_eval_dist_single PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "cli;dist"
                     FIXTURES_SETUP cli_eval_dist_one PASS_REGULAR_EXPRESSION "SINGLE_DONE")
add_test(NAME cli_eval_dist_two_ranks
         COMMAND sh -c "$<TARGET_FILE:den2moe> eval '${D2M_SHARED_DIR}/models/demo-llama-7m' ${D2M_EVAL_DIST_ARGS} --nproc 2 --dist-timeout 120 --out '${D2M_CLI_EVAL_DIST}/two' && ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/app/cli/eval_shard_compare.py '${D2M_CLI_EVAL_DIST}/one' '${D2M_CLI_EVAL_DIST}/two'")
set_tests_properties(cli_eval_dist_two_ranks PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "cli;dist"
                     FIXTURES_REQUIRED cli_eval_dist_one PASS_REGULAR_EXPRESSION "SHARDED_SAME")
add_test(NAME cli_eval_dist_no_saved_embeddings
         COMMAND sh -c "$<TARGET_FILE:den2moe> eval '${D2M_SHARED_DIR}/models/demo-llama-7m' --tasks STS13 --limit 8 --save-embeddings --nproc 2 --out '${D2M_CLI_EVAL_DIST}/refused' 2>&1; test $? -eq 1 && test ! -e '${D2M_CLI_EVAL_DIST}/refused' && echo REFUSED")
set_tests_properties(cli_eval_dist_no_saved_embeddings PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "cli;dist"
                     PASS_REGULAR_EXPRESSION "--save-embeddings is not supported on several processes.*REFUSED")

# A multiple-choice task split by item (issue 19): MMLU, 2 questions per subject (114 items, 5-shot),
# on 2 ranks = 1 process, every file equal but the timings; each rank's progress shows its share of
# the batches (both non-empty, together the 114 items). Then with a result cache: the 2-rank run
# stores the task once (rank 0), and a second 2-rank run takes it from the cache on every rank and
# writes what a single process writes from its cache (a cached result is marked as such).
set(D2M_EVAL_MMLU "--tasks mmlu --limit 2 --threads 1")
add_test(NAME cli_eval_dist_mmlu_items_sharded
         COMMAND sh -c "D='${D2M_CLI_EVAL_DIST}-mmlu' && T=$<TARGET_FILE:den2moe> && M='${D2M_SHARED_DIR}/models/demo-llama-7m' && rm -rf $D && mkdir -p $D && $T eval $M ${D2M_EVAL_MMLU} --cache-dir $D/cache1 --quiet --out $D/one && $T eval $M ${D2M_EVAL_MMLU} --cache-dir $D/cache --nproc 2 --dist-timeout 120 --out $D/two > $D/two.log 2>&1 && awk '/\\[mmlu\\]/ { split($4, a, \"/\"); if (a[1] == a[2] && a[2] > 0) n[$2] = a[2] } END { printf \"split %d+%d = %d\\n\", n[\"0]\"], n[\"1]\"], n[\"0]\"] + n[\"1]\"] }' $D/two.log && ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/app/cli/eval_shard_compare.py $D/one $D/two && $T eval $M ${D2M_EVAL_MMLU} --cache-dir $D/cache --nproc 2 --dist-timeout 120 --out $D/again 2>&1 | grep 'tasks from the cache' && $T eval $M ${D2M_EVAL_MMLU} --cache-dir $D/cache1 --quiet --out $D/one-again > /dev/null && ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/app/cli/eval_shard_compare.py $D/one-again $D/again")
set_tests_properties(cli_eval_dist_mmlu_items_sharded PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "cli;dist"
                     PASS_REGULAR_EXPRESSION "split [1-9][0-9]*\\+[1-9][0-9]* = 114\n.*SHARDED_SAME.*1 of 1 tasks from the cache.*SHARDED_SAME")
