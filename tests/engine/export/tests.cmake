# Export oracle: test_export's `writes_oracle_fixtures` case writes sharded Mixtral and Qwen2-MoE
# exports and the native model's logits to ${CMAKE_BINARY_DIR}/export-oracle; the independent
# PyTorch forward (tests/reference/mixtral_oracle.py, no transformers) recomputes the logits from the
# exported files and fails above 1e-4 max abs difference, or when python3-torch / numpy are missing.
set_tests_properties(test_export PROPERTIES FIXTURES_SETUP export_oracle_fixtures)
foreach(fmt mixtral qwen2moe)
  add_test(NAME oracle_export_${fmt}
           COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/mixtral_oracle.py check
                   --model ${CMAKE_BINARY_DIR}/export-oracle/${fmt}
                   --logits ${CMAKE_BINARY_DIR}/export-oracle/${fmt}_logits.safetensors --tol 1e-4)
  set_tests_properties(oracle_export_${fmt} PROPERTIES FIXTURES_REQUIRED export_oracle_fixtures
                       LABELS "engine;oracle")
endforeach()
