# Core test registrations (included by tests/CMakeLists.txt after the test_*.cpp executables):
# - text_oracle: Python's bytes.decode('replace'), sentencepiece's decode and the regex module's \X on
#   tests/data/multilingual.jsonl (fixture for test_text and tokenizer/test_text_policy)
set(D2M_TEXT_ORACLE_JSON ${CMAKE_BINARY_DIR}/oracle/text_oracle.json)
add_test(NAME text_oracle
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/text_oracle.py
                 --shared ${D2M_SHARED_DIR} --corpus ${CMAKE_SOURCE_DIR}/tests/data/multilingual.jsonl
                 --out ${D2M_TEXT_ORACLE_JSON})
set_tests_properties(text_oracle PROPERTIES FIXTURES_SETUP text_oracle LABELS "engine;oracle")
if(TARGET test_text)
  set_tests_properties(test_text PROPERTIES FIXTURES_REQUIRED text_oracle
    ENVIRONMENT "${D2M_TEST_ENV};D2M_TEXT_ORACLE=${D2M_TEXT_ORACLE_JSON}")
endif()
# Issue 20: the BLAS switch under an explicit OPENBLAS_CORETYPE (respected, with a hint) and under
# D2M_BLAS_CORE=auto (switched, then the same sgemm sweep against float64 on the new kernels).
if(TARGET test_runtime)
  add_test(NAME test_runtime_coretype_pinned COMMAND test_runtime)
  set_tests_properties(test_runtime_coretype_pinned PROPERTIES ENVIRONMENT "${D2M_TEST_ENV};OPENBLAS_CORETYPE=Haswell"
                       LABELS engine SKIP_RETURN_CODE 77)
  add_test(NAME test_runtime_coretype_auto COMMAND test_runtime)
  set_tests_properties(test_runtime_coretype_auto PROPERTIES
                       ENVIRONMENT "${D2M_TEST_ENV};OPENBLAS_CORETYPE=Haswell;D2M_BLAS_CORE=auto" LABELS engine SKIP_RETURN_CODE 77)
endif()
