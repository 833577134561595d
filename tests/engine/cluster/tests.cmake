# Cluster tests: the scipy oracle (tests/reference/linkage_oracle.py) runs first as a CTest fixture
# and writes ${CMAKE_BINARY_DIR}/oracle/linkage_cases.json; test_linkage reads it (path passed in
# D2M_LINKAGE_ORACLE) and fails if it is missing.
set(D2M_LINKAGE_ORACLE_JSON ${CMAKE_BINARY_DIR}/oracle/linkage_cases.json)
add_test(NAME linkage_oracle
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/linkage_oracle.py
                 ${D2M_LINKAGE_ORACLE_JSON})
set_tests_properties(linkage_oracle PROPERTIES FIXTURES_SETUP linkage_oracle LABELS "engine;oracle")
if(TEST test_linkage)
  set_tests_properties(test_linkage PROPERTIES
    FIXTURES_REQUIRED linkage_oracle
    ENVIRONMENT "${D2M_TEST_ENV};D2M_LINKAGE_ORACLE=${D2M_LINKAGE_ORACLE_JSON}")
endif()
