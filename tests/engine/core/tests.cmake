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
