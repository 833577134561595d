# Per-domain perplexity of demo-llama-7m on the 18 domains vs the PyTorch reference (1e-3 relative).
add_test(NAME oracle_domain_ppl
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/llama_reference.py ppl
                 --model ${D2M_SHARED_DIR}/models/demo-llama-7m --domains ${D2M_SHARED_DIR}/data/domains
                 --seq 256 --max-tokens 4096 --out ${CMAKE_BINARY_DIR}/oracle/domain_ppl.json)
set_tests_properties(oracle_domain_ppl PROPERTIES FIXTURES_SETUP domain_ppl LABELS oracle)
set_tests_properties(test_perplexity PROPERTIES FIXTURES_REQUIRED domain_ppl
                     ENVIRONMENT "${D2M_TEST_ENV};D2M_ORACLE=${CMAKE_BINARY_DIR}/oracle/domain_ppl.json")
# Task evaluation (issue 16): scipy / sklearn / numpy oracles for the metrics, RNG streams and z-scoring.
add_test(NAME oracle_eval_metrics
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/eval_oracle.py metrics
                 --out ${CMAKE_BINARY_DIR}/oracle/eval_metrics.json)
set_tests_properties(oracle_eval_metrics PROPERTIES FIXTURES_SETUP eval_metrics LABELS oracle)
set_tests_properties(test_metrics PROPERTIES FIXTURES_REQUIRED eval_metrics
                     ENVIRONMENT "${D2M_TEST_ENV};D2M_ORACLE=${CMAKE_BINARY_DIR}/oracle/eval_metrics.json")
# test_task_eval writes the engine's multiple-choice log-likelihoods, hidden states, embeddings and
# protocol results; the oracles recompute them (PyTorch Llama; sklearn) and fail beyond tolerance.
set_tests_properties(test_task_eval PROPERTIES FIXTURES_SETUP eval_written TIMEOUT 900)
add_test(NAME oracle_eval_mc
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/eval_oracle.py mc
                 --model ${D2M_SHARED_DIR}/models/demo-llama-7m --in ${CMAKE_BINARY_DIR}/oracle/eval_mc_ours.json)
set_tests_properties(oracle_eval_mc PROPERTIES FIXTURES_REQUIRED eval_written LABELS "engine;oracle")
add_test(NAME oracle_eval_classifiers
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/eval_oracle.py classifiers
                 --in ${CMAKE_BINARY_DIR}/oracle)
set_tests_properties(oracle_eval_classifiers PROPERTIES FIXTURES_REQUIRED eval_written LABELS "engine;oracle")
# Den2MoEE pooling (issue 17): test_den2moee_pooling converts the demo model (den2moee, tiny calibration),
# writes its den2moee embeddings of a left-padded batch; den2moee_oracle.py recomputes them with an
# independent PyTorch forward of the native folder (router arithmetic of DEN2MOEE.md §1.3), rel 1e-5.
target_link_libraries(test_den2moee_pooling PRIVATE d2m_convert)
set_tests_properties(test_den2moee_pooling PROPERTIES FIXTURES_SETUP den2moee_pool_written TIMEOUT 600)
add_test(NAME oracle_den2moee_pooling
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/den2moee_oracle.py
                 --in ${CMAKE_BINARY_DIR}/oracle/den2moee_pool_ours.json --tol 1e-5)
set_tests_properties(oracle_den2moee_pooling PROPERTIES FIXTURES_REQUIRED den2moee_pool_written
                     LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "den2moee pooling: OK")
# --append-eos: BOS text EOS, HS at the EOS (the oracle appends sentencepiece's own eos id)
add_test(NAME oracle_den2moee_pooling_eos
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/den2moee_oracle.py
                 --in ${CMAKE_BINARY_DIR}/oracle/den2moee_pool_eos_ours.json --tol 1e-5)
set_tests_properties(oracle_den2moee_pooling_eos PROPERTIES FIXTURES_REQUIRED den2moee_pool_written
                     LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "den2moee pooling: OK")
