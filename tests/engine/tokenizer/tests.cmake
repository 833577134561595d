# Tokenizer test registrations (included by tests/CMakeLists.txt after the test_*.cpp executables):
# - spm_oracle: python3-sentencepiece writes the expected ids/decodes (fixture for test_spm_tokenizer)
# - test_spm_tokenizer reads it via $D2M_SPM_ORACLE
# - test_spm_tokenizer_missing_oracle: the oracle case must FAIL, naming the file, when it is absent
# - test_spm_tokenizer_bad_shim: a D2M_SPM_SHIM that does not exist gives an error naming that path
set(D2M_SPM_ORACLE_JSON ${CMAKE_BINARY_DIR}/oracle/spm_oracle.json)
add_test(NAME spm_oracle
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/spm_oracle.py
                 --shared ${D2M_SHARED_DIR} --out ${D2M_SPM_ORACLE_JSON})
set_tests_properties(spm_oracle PROPERTIES FIXTURES_SETUP spm_oracle LABELS "engine;oracle")

if(TARGET test_spm_tokenizer)
  set_tests_properties(test_spm_tokenizer PROPERTIES
    FIXTURES_REQUIRED spm_oracle
    ENVIRONMENT "${D2M_TEST_ENV};D2M_SPM_ORACLE=${D2M_SPM_ORACLE_JSON}")

  add_test(NAME test_spm_tokenizer_missing_oracle
           COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:test_spm_tokenizer>
                   -DCASE=oracle_matches_python "-DEXPECT=not found"
                   -P ${CMAKE_CURRENT_LIST_DIR}/expect_failure.cmake)
  set_tests_properties(test_spm_tokenizer_missing_oracle PROPERTIES LABELS engine
    ENVIRONMENT "${D2M_TEST_ENV};D2M_SPM_ORACLE=${CMAKE_BINARY_DIR}/oracle/no_such_oracle.json")

  add_test(NAME test_spm_tokenizer_bad_shim COMMAND test_spm_tokenizer shim_missing_reports_path)
  set_tests_properties(test_spm_tokenizer_bad_shim PROPERTIES LABELS engine
    ENVIRONMENT "${D2M_TEST_ENV};D2M_SPM_SHIM=${CMAKE_BINARY_DIR}/no_such_dir/libspm_shim.so;D2M_EXPECT_SHIM_FAILURE=1")
endif()

# test_text_policy: the text policy through the tokenizers, against core/tests.cmake's text_oracle
if(TARGET test_text_policy)
  set_tests_properties(test_text_policy PROPERTIES FIXTURES_REQUIRED text_oracle
    ENVIRONMENT "${D2M_TEST_ENV};D2M_TEXT_ORACLE=${D2M_TEXT_ORACLE_JSON}")
endif()
