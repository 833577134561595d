# Mining: test_mining's 18-domain run writes ${CMAKE_BINARY_DIR}/mining18; the scipy oracle reads it;
# test_mining_oracle compares. Chained with CTest fixtures so `ctest -R mining` runs them in order.
set_tests_properties(test_mining PROPERTIES FIXTURES_SETUP mining18 TIMEOUT 900)
add_test(NAME oracle_mining
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/mining_oracle.py
                 ${CMAKE_BINARY_DIR}/mining18 ${CMAKE_BINARY_DIR}/oracle/mining_oracle.json)
set_tests_properties(oracle_mining PROPERTIES FIXTURES_REQUIRED mining18 FIXTURES_SETUP mining_oracle
                     LABELS "engine;oracle")
set_tests_properties(test_mining_oracle PROPERTIES FIXTURES_REQUIRED mining_oracle)
