# CLI runs (issue 18): a CLI-made conversion and a training run from it listed by `den2moe runs --json`
# with their lineage; rename, delete (only with --yes, naming the runs made from it), strict parsing.
add_test(NAME cli_runs
         COMMAND ${D2M_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/runs_cli_check.py $<TARGET_FILE:den2moe> ${CMAKE_SOURCE_DIR}
                 ${CMAKE_BINARY_DIR}/cli-runs)
set_tests_properties(cli_runs PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli PASS_REGULAR_EXPRESSION "RUNS_CLI_OK"
                     TIMEOUT 600)
