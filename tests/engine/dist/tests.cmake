# The DDP oracle (tests/reference/ddp_oracle.py): python3-torch's DistributedDataParallel over Gloo,
# 2 processes, one window each, on test_trainer's gradient fixtures (router stage, experts stage
# with LoRA top-1, top-2 random split); DDP's averaged gradients must equal the engine's mean-batch
# gradients (which the engine's 2-rank run reproduces: tests/app/cli/dist_tests.cmake) to fp32 rel 1e-4.
foreach(fx router_dive experts_dive experts_random)
  add_test(NAME oracle_ddp_grads_${fx}
           COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/ddp_oracle.py
                   --fixture ${CMAKE_BINARY_DIR}/train-oracle/${fx}.safetensors --tol 1e-4)
  set_tests_properties(oracle_ddp_grads_${fx} PROPERTIES FIXTURES_REQUIRED train_oracle_fixtures
                       ENVIRONMENT "${D2M_TEST_ENV}" LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "ORACLE_OK")
endforeach()
