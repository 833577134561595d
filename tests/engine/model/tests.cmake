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
target_link_libraries(test_qwen PRIVATE d2m_convert d2m_export)
# Qwen2 / Qwen3 (issue 17 item 1): tests/reference/qwen_reference.py writes two tiny random-weight
# checkpoints (Hugging Face layout, demo-llama-7m's 4096-piece tokenizer beside them) and its own
# PyTorch forward's logits (from transformers' formulas) into ${CMAKE_BINARY_DIR}/oracle/qwen.
foreach(arch qwen2 qwen3)
  add_test(NAME oracle_qwen_${arch}
           COMMAND sh -c "${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/qwen_reference.py make --arch ${arch} \
--out ${CMAKE_BINARY_DIR}/oracle/qwen/${arch} --tokenizer ${D2M_SHARED_DIR}/models/demo-llama-7m/tokenizer.model && \
${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/qwen_reference.py logits --model ${CMAKE_BINARY_DIR}/oracle/qwen/${arch} \
--out ${CMAKE_BINARY_DIR}/oracle/qwen/${arch}_logits.safetensors")
  set_tests_properties(oracle_qwen_${arch} PROPERTIES FIXTURES_SETUP qwen_models LABELS oracle)
endforeach()
set_tests_properties(test_qwen PROPERTIES FIXTURES_REQUIRED qwen_models
                     ENVIRONMENT "${D2M_TEST_ENV};D2M_QWEN_ORACLE=${CMAKE_BINARY_DIR}/oracle/qwen")
# The CLI on them: `den2moe generate` (tokenizer, KV cache, greedy) equals the reference's greedy continuation,
# and `den2moe info` names the attention extras.
foreach(arch qwen2 qwen3)
  add_test(NAME cli_qwen_generate_${arch}
           COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/qwen_reference.py greedy
                   --model ${CMAKE_BINARY_DIR}/oracle/qwen/${arch} --den2moe $<TARGET_FILE:den2moe>
                   --prompt "Once upon a time, there was" -n 16)
  set_tests_properties(cli_qwen_generate_${arch} PROPERTIES FIXTURES_REQUIRED qwen_models LABELS "cli;oracle"
                       ENVIRONMENT "${D2M_TEST_ENV}" PASS_REGULAR_EXPRESSION "GREEDY_EQUAL")
endforeach()
add_test(NAME cli_qwen_info COMMAND $<TARGET_FILE:den2moe> info ${CMAKE_BINARY_DIR}/oracle/qwen/qwen3)
set_tests_properties(cli_qwen_info PROPERTIES FIXTURES_REQUIRED qwen_models LABELS cli ENVIRONMENT "${D2M_TEST_ENV}"
                     PASS_REGULAR_EXPRESSION "Qwen3ForCausalLM.*heads 4 \\(kv 2, dim 32\\).*per-head q/k RMSNorm before RoPE")
