# Training tests build their MoE models with the engine's convert functions (and export one).
target_link_libraries(test_exec_modes PRIVATE d2m_convert)
target_link_libraries(test_trainer PRIVATE d2m_convert d2m_export)
# The PyTorch oracle (tests/reference/train_oracle.py, written from DIVE's description, not from the
# engine) recomputes the loss and every gradient of test_trainer's fixtures (router stage, experts
# stage with LoRA, top-1 and top-2, the probability gate) and torch.optim.AdamW + LambdaLR +
# clip_grad_norm_ over test_trainer's optimizer steps; it fails above fp32 rel 1e-4 (gradients) /
# 1e-6 (AdamW) or when python3-torch is missing.
set_tests_properties(test_trainer PROPERTIES FIXTURES_SETUP train_oracle_fixtures)
foreach(fx router_dive experts_dive experts_random experts_dive_probability)
  add_test(NAME oracle_train_grads_${fx}
           COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/train_oracle.py grads
                   --fixture ${CMAKE_BINARY_DIR}/train-oracle/${fx}.safetensors --tol 1e-4)
  set_tests_properties(oracle_train_grads_${fx} PROPERTIES FIXTURES_REQUIRED train_oracle_fixtures
                       ENVIRONMENT "${D2M_TEST_ENV}" LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "ORACLE_OK")
endforeach()
add_test(NAME oracle_train_adamw
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/train_oracle.py adamw
                 --fixture ${CMAKE_BINARY_DIR}/train-oracle/adamw.safetensors --tol 1e-6)
set_tests_properties(oracle_train_adamw PROPERTIES FIXTURES_REQUIRED train_oracle_fixtures
                     ENVIRONMENT "${D2M_TEST_ENV}" LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "ORACLE_OK")
# a trained model (experts stage, biases dropped) exported to Mixtral passes the Mixtral oracle
add_test(NAME oracle_train_export_mixtral
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/mixtral_oracle.py check
                 --model ${CMAKE_BINARY_DIR}/train-oracle/trained-mixtral
                 --logits ${CMAKE_BINARY_DIR}/train-oracle/trained-mixtral_logits.safetensors --tol 1e-4)
set_tests_properties(oracle_train_export_mixtral PROPERTIES FIXTURES_REQUIRED train_oracle_fixtures
                     LABELS "engine;oracle")
# Embedding training: the PyTorch oracle (tests/reference/contrastive_oracle.py, each text run alone
# through an independent Llama forward) recomputes test_contrastive's InfoNCE (last-token pooling,
# hard negatives) and cos-MSE (mean pooling) loss and every trainable gradient; fp32 rel 1e-4.
# training.distill (InfoNCE + 20 x mean(1 - cos(e, e_start)); cos-MSE + 200 x Gram MSE) is recorded after 3
# steps at LR 1e-2 so that the term is not 0: the oracle embeds each text with the start model and the
# fixture's trained tensors, and fails when the term is under 5 % of the loss (so that a wrong term cannot pass unseen).
target_link_libraries(test_contrastive PRIVATE d2m_convert d2m_eval)  # eval: the EOS-pooling round trip
set_tests_properties(test_contrastive PROPERTIES FIXTURES_SETUP contrastive_oracle_fixtures)
foreach(fx infonce_last cosmse_mean infonce_distill_embedding cosmse_distill_similarity)
  add_test(NAME oracle_contrastive_${fx}
           COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/contrastive_oracle.py grads
                   --fixture ${CMAKE_BINARY_DIR}/contrastive-oracle/${fx}.safetensors --tol 1e-4)
  set_tests_properties(oracle_contrastive_${fx} PROPERTIES FIXTURES_REQUIRED contrastive_oracle_fixtures
                       ENVIRONMENT "${D2M_TEST_ENV}" LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "ORACLE_OK")
endforeach()
# The contrastive benchmark's eager peer (contrastive_oracle.py bench: every text of a step in one
# left-padded batch with an attention mask, bench_train's stages infonce / cosmse) computes the same
# loss and gradients as the engine on the same fixtures (check_grads: loss rel 1e-5, every gradient
# fp32 rel 1e-4), so the benchmark's tokens/s time the same arithmetic.
foreach(fx infonce_last cosmse_mean)
  add_test(NAME oracle_contrastive_batched_${fx}
           COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/contrastive_oracle.py grads --batched
                   --fixture ${CMAKE_BINARY_DIR}/contrastive-oracle/${fx}.safetensors --tol 1e-4)
  set_tests_properties(oracle_contrastive_batched_${fx} PROPERTIES FIXTURES_REQUIRED contrastive_oracle_fixtures
                       ENVIRONMENT "${D2M_TEST_ENV}" LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "ORACLE_OK")
endforeach()
add_test(NAME oracle_contrastive_budget_bias
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/contrastive_oracle.py budget
                 --fixture ${CMAKE_BINARY_DIR}/contrastive-oracle/budget.safetensors)
set_tests_properties(oracle_contrastive_budget_bias PROPERTIES FIXTURES_REQUIRED contrastive_oracle_fixtures
                     ENVIRONMENT "${D2M_TEST_ENV}" LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "ORACLE_OK")
# Cross-rank InfoNCE: the oracle splits the infonce fixture's 4 pairs over 2 ranks as ms-swift does
# (each rank: all anchors vs all candidates, its own embeddings differentiable, the others detached);
# the sum of the ranks' gradients (what the engine's all-reduce forms) must equal the engine's
# one-process gradient to fp32 rel 1e-4 (the engine's 2-rank run equals one process:
# cli_dist_infonce_gathered_equals_single); it also prints how far the local-anchor variant is.
add_test(NAME oracle_contrastive_gathered
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/contrastive_oracle.py gathered --ranks 2
                 --fixture ${CMAKE_BINARY_DIR}/contrastive-oracle/infonce_last.safetensors --tol 1e-4)
set_tests_properties(oracle_contrastive_gathered PROPERTIES FIXTURES_REQUIRED contrastive_oracle_fixtures
                     ENVIRONMENT "${D2M_TEST_ENV}" LABELS "engine;oracle" PASS_REGULAR_EXPRESSION "ORACLE_OK")
