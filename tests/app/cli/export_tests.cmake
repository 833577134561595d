# CLI export: a random-split MoE (its own folder) exported to Mixtral (sharded), then read back by
# `ppl` (the same perplexity as the native folder: the export is exact) and `info`; --lint-only on a
# DIVE model with FLAP biases (tiny calibration, its own cache) and on a shared-expert model
# (test_export's Qwen2-MoE fixture) prints the finding; bad input exits 1 with a message.
set(D2M_CLI_EXPORT ${CMAKE_BINARY_DIR}/cli-export)
set(D2M_CLI_PPL_ARGS "--data ${D2M_SHARED_DIR}/data/domains/wiki --max-tokens 1024 --seq 128")
add_test(NAME cli_export_convert
         COMMAND sh -c "rm -rf '${D2M_CLI_EXPORT}' && mkdir -p '${D2M_CLI_EXPORT}' && $<TARGET_FILE:den2moe> convert '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' --recipe random --experts 4 --top-k 2 --dtype fp32 --no-eval --out '${D2M_CLI_EXPORT}/native' --quiet && echo CONVERTED")
set_tests_properties(cli_export_convert PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_SETUP cli_export_native PASS_REGULAR_EXPRESSION "CONVERTED")
add_test(NAME cli_export_mixtral
         COMMAND sh -c "$<TARGET_FILE:den2moe> export '${D2M_CLI_EXPORT}/native' --format mixtral --out '${D2M_CLI_EXPORT}/mixtral' --shard-size 8000000 --quiet && test -s '${D2M_CLI_EXPORT}/mixtral/model.safetensors.index.json' && test -s '${D2M_CLI_EXPORT}/mixtral/tokenizer.model' && echo EXPORTED")
set_tests_properties(cli_export_mixtral PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_export_native FIXTURES_SETUP cli_export_mixtral
                     PASS_REGULAR_EXPRESSION "width-not-multiple-256.*EXPORTED")
add_test(NAME cli_export_ppl_same
         COMMAND sh -c "N=$($<TARGET_FILE:den2moe> ppl '${D2M_CLI_EXPORT}/native' ${D2M_CLI_PPL_ARGS} | grep wiki) && M=$($<TARGET_FILE:den2moe> ppl '${D2M_CLI_EXPORT}/mixtral' ${D2M_CLI_PPL_ARGS} | grep wiki) && echo \"native  $N\" && echo \"mixtral $M\" && test \"$N\" = \"$M\" && echo SAME_PPL")
set_tests_properties(cli_export_ppl_same PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_export_mixtral PASS_REGULAR_EXPRESSION "SAME_PPL")
add_test(NAME cli_export_info
         COMMAND $<TARGET_FILE:den2moe> info ${D2M_CLI_EXPORT}/mixtral)
set_tests_properties(cli_export_info PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_export_mixtral PASS_REGULAR_EXPRESSION "hf-mixtral")
# DIVE with FLAP biases on a copy of the demo project with 4 calibration samples of 64 tokens
add_test(NAME cli_export_lint_bias
         COMMAND sh -c "D=${D2M_CLI_EXPORT}-dive && rm -rf $D && mkdir -p $D && sed -e 's/\"samples\": 128/\"samples\": 4/' -e 's/\"seq_len\": 256/\"seq_len\": 64/' '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' > $D/tiny.den2moe.json && printf '{\"members\": [[\"wiki\"], [\"gsm8k\"]]}' > $D/clusters.json && $<TARGET_FILE:den2moe> convert $D/tiny.den2moe.json --recipe dive --clusters $D/clusters.json --dtype fp32 --no-eval --out $D/moe --quiet && $<TARGET_FILE:den2moe> export $D/moe --format qwen2moe --lint-only && echo LINTED; $<TARGET_FILE:den2moe> export $D/moe --format qwen2moe --out $D/never --strict; test $? -eq 1 && ! test -e $D/never && echo STRICT_REFUSED")
set_tests_properties(cli_export_lint_bias PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "warning expert-bias-dropped: 12 of 12 FFNs.*relative effect.*LINTED.*error   expert-bias-dropped.*STRICT_REFUSED")
add_test(NAME cli_export_lint_shared
         COMMAND sh -c "$<TARGET_FILE:den2moe> export '${CMAKE_BINARY_DIR}/export-oracle/qwen2moe' --format mixtral --lint-only; test $? -eq 1 && echo REFUSED")
set_tests_properties(cli_export_lint_shared PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED export_oracle_fixtures
                     PASS_REGULAR_EXPRESSION "error   shared-expert-unsupported: layers 0, 1, 3, 4, 5 have an always-on shared expert.*REFUSED")
# a broken export (config.json disagrees with the tensors) and an unknown format: exit 1, a message
add_test(NAME cli_export_bad_folder
         COMMAND sh -c "B=${D2M_CLI_EXPORT}/broken && rm -rf $B && cp -r '${D2M_CLI_EXPORT}/mixtral' $B && sed -i 's/\"num_local_experts\": 4/\"num_local_experts\": 8/' $B/config.json && $<TARGET_FILE:den2moe> export $B --format qwen2moe --out ${D2M_CLI_EXPORT}/never; test $? -eq 1 && ! test -e ${D2M_CLI_EXPORT}/never && echo EXIT1")
set_tests_properties(cli_export_bad_folder PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_export_mixtral
                     PASS_REGULAR_EXPRESSION "block_sparse_moe.gate.weight has shape \\[4, 256\\]; config.json implies \\[8, 256\\].*EXIT1")
add_test(NAME cli_export_bad_format
         COMMAND sh -c "$<TARGET_FILE:den2moe> export '${D2M_CLI_EXPORT}/native' --format deepseek --out ${D2M_CLI_EXPORT}/never2; test $? -eq 1 && echo EXIT1")
set_tests_properties(cli_export_bad_format PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_export_native PASS_REGULAR_EXPRESSION "--format must be one of mixtral, qwen2moe, qwen3moe, got 'deepseek'.*EXIT1")
# switches never swallow the next word: the folder may follow --lint-only
add_test(NAME cli_export_switch_before_dir
         COMMAND $<TARGET_FILE:den2moe> export --lint-only --format mixtral ${D2M_CLI_EXPORT}/native)
set_tests_properties(cli_export_switch_before_dir PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_export_native PASS_REGULAR_EXPRESSION "export lint \\(mixtral\\)")
