# CLI convert: the random-split baseline needs no statistics (fast); a DIVE conversion without
# clusters is a user error (exit 1) with a hint.
add_test(NAME cli_convert_random
         COMMAND sh -c "rm -rf '${CMAKE_BINARY_DIR}/cli-convert' && $<TARGET_FILE:den2moe> convert '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' --recipe random --experts 4 --top-k 2 --dtype fp32 --no-eval --out '${CMAKE_BINARY_DIR}/cli-convert' --quiet && grep -q '\"num_experts\": 4' '${CMAKE_BINARY_DIR}/cli-convert/moe_config.json' && test -s '${CMAKE_BINARY_DIR}/cli-convert/model.safetensors' && echo CONVERTED")
set_tests_properties(cli_convert_random PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "CONVERTED")
add_test(NAME cli_convert_needs_clusters
         COMMAND sh -c "$<TARGET_FILE:den2moe> convert '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' --recipe dive --out /tmp/d2m-never 2>&1; test $? -eq 1")
set_tests_properties(cli_convert_needs_clusters PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "needs a cluster assignment")
