# TokenScore (issue 17 item 2): tests/reference/tokenscore_oracle.py writes the final token's attention
# per layer (demo-llama-7m and the tiny Qwen2 / Qwen3 of oracle_qwen_*, padded rows) and SCS / RSS / tau /
# the tau-weighted profiles of two samples on the demo model, from its own float64 PyTorch forward.
target_link_libraries(test_token_score PRIVATE d2m_convert)
set(D2M_TS_ORACLE ${CMAKE_BINARY_DIR}/oracle/tokenscore)
add_test(NAME oracle_tokenscore
         COMMAND sh -c "${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/tokenscore_oracle.py attn \
--model ${D2M_SHARED_DIR}/models/demo-llama-7m --out ${D2M_TS_ORACLE}/demo_attn.safetensors && \
${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/tokenscore_oracle.py attn \
--model ${CMAKE_BINARY_DIR}/oracle/qwen/qwen3 --out ${D2M_TS_ORACLE}/qwen3_attn.safetensors && \
${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/tokenscore_oracle.py attn \
--model ${CMAKE_BINARY_DIR}/oracle/qwen/qwen2 --out ${D2M_TS_ORACLE}/qwen2_attn.safetensors && \
${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/tokenscore_oracle.py score \
--model ${D2M_SHARED_DIR}/models/demo-llama-7m --out ${D2M_TS_ORACLE}/demo_score.safetensors \
--span 16 --ngram 4 --stride 2 --mask-id 0")
set_tests_properties(oracle_tokenscore PROPERTIES FIXTURES_SETUP tokenscore_oracle FIXTURES_REQUIRED qwen_models
                     LABELS oracle)
set_tests_properties(test_token_score PROPERTIES FIXTURES_REQUIRED "tokenscore_oracle;qwen_models"
                     ENVIRONMENT "${D2M_TEST_ENV};D2M_TOKENSCORE_ORACLE=${D2M_TS_ORACLE};D2M_QWEN_ORACLE=${CMAKE_BINARY_DIR}/oracle/qwen")
