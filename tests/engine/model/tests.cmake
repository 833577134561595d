# Oracle fixtures for the model tests: the independent PyTorch reference writes logits for batched,
# padded prompts (fp32 and bf16) that test_llama_logits compares against.
add_test(NAME oracle_llama_logits
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/llama_reference.py logits
                 --model ${D2M_SHARED_DIR}/models/demo-llama-7m
                 --out ${CMAKE_BINARY_DIR}/oracle/demo_logits.safetensors)
set_tests_properties(oracle_llama_logits PROPERTIES FIXTURES_SETUP llama_logits LABELS oracle)
set_tests_properties(test_llama_logits PROPERTIES FIXTURES_REQUIRED llama_logits
                     ENVIRONMENT "${D2M_TEST_ENV};D2M_ORACLE=${CMAKE_BINARY_DIR}/oracle/demo_logits.safetensors")
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/oracle)
# The native MoE loader's shape checks: test_moe_io writes folders with a wrong-shaped expert /
# router / a missing tensor to the build folder; the CLI must report them as user errors (exit 1)
# naming the tensor and both shapes.
set_tests_properties(test_moe_io PROPERTIES FIXTURES_SETUP bad_moe_folders)
add_test(NAME cli_info_bad_moe_shape
         COMMAND sh -c "$<TARGET_FILE:den2moe> info '${CMAKE_BINARY_DIR}/bad-moe-expert' 2>&1; test $? -eq 1")
set_tests_properties(cli_info_bad_moe_shape PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED bad_moe_folders
                     PASS_REGULAR_EXPRESSION "experts.1.up_proj.weight has shape \\[100, 256\\]; moe_config.json implies \\[768, 256\\]")
