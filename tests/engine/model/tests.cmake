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
