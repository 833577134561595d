# CLI: `den2moe mine` on three demo domains (tiny sample counts), then `den2moe cluster` re-cutting
# the folder with another linkage without recomputing; bad input exits 1 with a message.
set(D2M_CLI_MINE_DIR ${CMAKE_BINARY_DIR}/cli-mine)
add_test(NAME cli_mine
         COMMAND sh -c "rm -rf '${D2M_CLI_MINE_DIR}' && $<TARGET_FILE:den2moe> mine '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' --out '${D2M_CLI_MINE_DIR}' --domains gsm8k,python,shakespeare --samples 4 --seq 64 --eval-windows 2 --eval-seq 64 --dtype fp32 --clusters 2 --cache-dir '${D2M_CLI_MINE_DIR}/cache' --quiet && test -s '${D2M_CLI_MINE_DIR}/linkage.json' && test -s '${D2M_CLI_MINE_DIR}/ppl_matrix.csv'")
set_tests_properties(cli_mine PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_SETUP cli_mine
                     PASS_REGULAR_EXPRESSION "clusters at K = 2.*statistics cache: 0 hit, 3 computed")
add_test(NAME cli_cluster
         COMMAND $<TARGET_FILE:den2moe> cluster ${D2M_CLI_MINE_DIR} --clusters 3 --linkage ward)
set_tests_properties(cli_cluster PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_mine
                     PASS_REGULAR_EXPRESSION "clusters at K = 3 \\(ward linkage")
add_test(NAME cli_mine_needs_out
         COMMAND $<TARGET_FILE:den2moe> mine ${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json)
set_tests_properties(cli_mine_needs_out PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "--out DIR is required")
add_test(NAME cli_mine_bad_project
         COMMAND sh -c "$<TARGET_FILE:den2moe> mine /nonexistent.den2moe.json --out /tmp/x; test $? -eq 1")
set_tests_properties(cli_mine_bad_project PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli)
