# `den2moe export --handoff` (issue 19): the random-split MoE of cli_export_convert exported with a
# hand-off bundle over a small two-domain project (handoff_check.py prepare); handoff_check.py
# check parses the JSON, runs `sh -n` on the launch script and checks the files it names, compares
# the manifest with hashlib, py_compiles train_handoff.py and runs ONE step of it on CPU without
# transformers (a PyTorch model carrying the export's tensors under their HF names) against its own
# loss and AdamW bounds. Mixtral + DeepSpeed (experts stage, LoRA), Qwen2-MoE + torchrun (router
# stage, dense mixture), a bf16 Mixtral export (ds_config bf16; files only), and the refusal
# without --project (exit 1 before anything is written).
set(D2M_CLI_HANDOFF ${CMAKE_BINARY_DIR}/cli-handoff)
set(D2M_HANDOFF_CHECK "${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/app/cli/handoff_check.py")
set(D2M_HANDOFF_NATIVE ${CMAKE_BINARY_DIR}/cli-export/native)
add_test(NAME cli_handoff_prepare
         COMMAND sh -c "rm -rf '${D2M_CLI_HANDOFF}' && ${D2M_HANDOFF_CHECK} prepare --dir '${D2M_CLI_HANDOFF}/data'")
set_tests_properties(cli_handoff_prepare PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_SETUP cli_handoff_data PASS_REGULAR_EXPRESSION "PREPARED")
foreach(cfg "mixtral;deepspeed;experts;fp32;" "qwen2moe;torchrun;router;fp32;" "mixtral;deepspeed;experts;bf16;--no-step")
  list(GET cfg 0 fmt)
  list(GET cfg 1 launcher)
  list(GET cfg 2 stage)
  list(GET cfg 3 dtype)
  list(GET cfg 4 extra)
  set(dir ${D2M_CLI_HANDOFF}/${fmt}-${launcher}-${dtype})
  add_test(NAME cli_handoff_${fmt}_${launcher}_${stage}_${dtype}
           COMMAND sh -c "$<TARGET_FILE:den2moe> export '${D2M_HANDOFF_NATIVE}' --format ${fmt} --dtype ${dtype} --out '${dir}' --handoff ${launcher} --handoff-stage ${stage} --handoff-nproc 4 --project '${D2M_CLI_HANDOFF}/data/project.den2moe.json' --quiet && ${D2M_HANDOFF_CHECK} check --bundle '${dir}/handoff' ${extra}")
  set_tests_properties(cli_handoff_${fmt}_${launcher}_${stage}_${dtype} PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}"
                       LABELS "cli;oracle" FIXTURES_REQUIRED "cli_export_native;cli_handoff_data"
                       PASS_REGULAR_EXPRESSION "HANDOFF_OK")
endforeach()
add_test(NAME cli_handoff_needs_project
         COMMAND sh -c "$<TARGET_FILE:den2moe> export '${D2M_HANDOFF_NATIVE}' --format mixtral --out '${D2M_CLI_HANDOFF}/refused' --handoff torchrun 2>&1; test $? -eq 1 && test ! -e '${D2M_CLI_HANDOFF}/refused' && echo REFUSED")
set_tests_properties(cli_handoff_needs_project PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED "cli_export_native;cli_handoff_data"
                     PASS_REGULAR_EXPRESSION "--handoff torchrun needs the project.*REFUSED")
# the DDP check reads the Mixtral + DeepSpeed fp32 bundle: that test is its fixture (run alone with -R dist too)
set_tests_properties(cli_handoff_mixtral_deepspeed_experts_fp32 PROPERTIES FIXTURES_SETUP cli_handoff_mixtral_bundle)
# the generated script's data-parallel path: 2 torchrun processes (Gloo, DDP with unused LoRA
# experts) = 1 process with twice the batch, 3 steps of the experts stage
add_test(NAME cli_handoff_script_ddp_equals_single
         COMMAND sh -c "${D2M_HANDOFF_CHECK} ddp --bundle '${D2M_CLI_HANDOFF}/mixtral-deepspeed-fp32/handoff' --steps 3")
set_tests_properties(cli_handoff_script_ddp_equals_single PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "cli;dist"
                     FIXTURES_REQUIRED "cli_export_native;cli_handoff_data;cli_handoff_mixtral_bundle"
                     PASS_REGULAR_EXPRESSION "DDP_SAME")
