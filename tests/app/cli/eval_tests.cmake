# CLI `den2moe eval` (issue 16): the task list, the prompt printout, a small run on the dense demo model
# whose files an MTEB-style loader reads back, the cache on a second run, MoEE (sum) on the converted MoE
# of cli_convert_random, and one message + exit 1 for each kind of bad input.
set(D2M_CLI_EVAL_DIR ${CMAKE_BINARY_DIR}/cli-eval)
set(D2M_DEMO_MODEL ${D2M_SHARED_DIR}/models/demo-llama-7m)
add_test(NAME cli_eval_list_tasks COMMAND $<TARGET_FILE:den2moe> eval --list-tasks)
set_tests_properties(cli_eval_list_tasks PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "Banking77Classification.*TrecQAReranking.*groups: all")
add_test(NAME cli_eval_show_prompt
         COMMAND $<TARGET_FILE:den2moe> eval --show-prompt --tasks STS13,arc_easy --prompt prompteol)
set_tests_properties(cli_eval_show_prompt PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "Question: Which technology.*prompt: +This sentence : \"there exist[^\n]*mentioned\.\" means in one word:\"")
add_test(NAME cli_eval_dense
         COMMAND sh -c "rm -rf '${D2M_CLI_EVAL_DIR}/dense' '${D2M_CLI_EVAL_DIR}/cache' && $<TARGET_FILE:den2moe> eval '${D2M_DEMO_MODEL}' --tasks arc_easy,STS13,SST2Classification,AGNewsClustering,MRPC,TrecQAReranking --limit 24 --n-experiments 2 --out '${D2M_CLI_EVAL_DIR}/dense' --cache-dir '${D2M_CLI_EVAL_DIR}/cache' --save-embeddings --quiet && test -s '${D2M_CLI_EVAL_DIR}/dense/embeddings/STS13.safetensors' && $<TARGET_FILE:den2moe> eval '${D2M_DEMO_MODEL}' --tasks arc_easy,STS13,SST2Classification,AGNewsClustering,MRPC,TrecQAReranking --limit 24 --n-experiments 2 --out '${D2M_CLI_EVAL_DIR}/dense' --cache-dir '${D2M_CLI_EVAL_DIR}/cache' --quiet")
set_tests_properties(cli_eval_dense PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_SETUP cli_eval
                     PASS_REGULAR_EXPRESSION "TrecQAReranking[^\n]*\\(cache\\).*Mean\\(TaskType\\)")
add_test(NAME oracle_eval_results
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/eval_oracle.py results --dir ${D2M_CLI_EVAL_DIR}/dense)
set_tests_properties(oracle_eval_results PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "cli;oracle"
                     FIXTURES_REQUIRED cli_eval PASS_REGULAR_EXPRESSION "summary consistent: OK")
add_test(NAME cli_eval_moee_sum
         COMMAND $<TARGET_FILE:den2moe> eval ${CMAKE_BINARY_DIR}/cli-convert --tasks STS13,SST2Classification,AGNewsClustering,MRPC,TrecQAReranking
                 --embedding moee-sum --prompt prompteol --limit 24 --n-experiments 2 --out ${D2M_CLI_EVAL_DIR}/moee --no-cache --quiet)
set_tests_properties(cli_eval_moee_sum PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_convert
                     PASS_REGULAR_EXPRESSION "STS13: cosine_spearman = Spearman\\(gold, cos\\(HS\\) \\+ alpha\\*cos\\(RW\\)\\)")
# bad input: one message each, exit 1
add_test(NAME cli_eval_unknown_task
         COMMAND sh -c "$<TARGET_FILE:den2moe> eval '${D2M_DEMO_MODEL}' --tasks STS13,STS99 2>&1; test $? -eq 1")
set_tests_properties(cli_eval_unknown_task PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "unknown task 'STS99'.*known tasks: arc_easy")
add_test(NAME cli_eval_rw_on_dense
         COMMAND sh -c "$<TARGET_FILE:den2moe> eval '${D2M_DEMO_MODEL}' --tasks STS13 --embedding rw 2>&1; test $? -eq 1")
set_tests_properties(cli_eval_rw_on_dense PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "needs routing weights \\(RW\\), but [^\n]* is a dense model.*hint: RW, MoEE and Den2MoEE need an MoE model")
add_test(NAME cli_eval_missing_data
         COMMAND sh -c "mkdir -p '${CMAKE_BINARY_DIR}/empty-shared/data' && D2M_SHARED_DIR='${CMAKE_BINARY_DIR}/empty-shared' $<TARGET_FILE:den2moe> eval '${D2M_DEMO_MODEL}' --tasks SICK-R 2>&1; test $? -eq 1")
set_tests_properties(cli_eval_missing_data PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "task SICK-R: data file [^\n]*empty-shared/data/sick2014/SICK_train.txt is missing")
add_test(NAME cli_eval_bad_setting
         COMMAND sh -c "$<TARGET_FILE:den2moe> eval '${D2M_DEMO_MODEL}' --tasks STS13 --prompt eol 2>&1; test $? -eq 1")
set_tests_properties(cli_eval_bad_setting PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "--prompt must be one of none, prompteol")
# every loadable MoE is evaluable: the Mixtral export of cli_export_convert gives the same RW-embedding
# STS score as its native folder
set(D2M_CLI_EVAL_EXPORT ${CMAKE_BINARY_DIR}/cli-export)
add_test(NAME cli_eval_mixtral_export
         COMMAND sh -c "a=$($<TARGET_FILE:den2moe> eval '${D2M_CLI_EVAL_EXPORT}/native' --tasks STS13 --embedding rw --limit 16 --no-cache --quiet --json | grep -o '\"main_score\": [-0-9.e]*'); b=$($<TARGET_FILE:den2moe> eval '${D2M_CLI_EVAL_EXPORT}/mixtral' --tasks STS13 --embedding rw --limit 16 --no-cache --quiet --json | grep -o '\"main_score\": [-0-9.e]*'); echo \"native $a mixtral $b\"; test -n \"$a\" && test \"$a\" = \"$b\" && echo SAME_RW")
set_tests_properties(cli_eval_mixtral_export PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_export_mixtral PASS_REGULAR_EXPRESSION "SAME_RW")
# raw embeddings are cached per task: an RW run after an HS run computes nothing and scores as a fresh run
add_test(NAME cli_eval_embedding_cache
         COMMAND sh -c "rm -rf '${D2M_CLI_EVAL_DIR}/ecache' && $<TARGET_FILE:den2moe> eval '${CMAKE_BINARY_DIR}/cli-convert' --tasks STS13 --limit 20 --cache-dir '${D2M_CLI_EVAL_DIR}/ecache' --quiet > /dev/null && a=$($<TARGET_FILE:den2moe> eval '${CMAKE_BINARY_DIR}/cli-convert' --tasks STS13 --limit 20 --embedding rw --cache-dir '${D2M_CLI_EVAL_DIR}/ecache' --quiet --json | grep -o '\"main_score\": [-0-9.e]*'); b=$($<TARGET_FILE:den2moe> eval '${CMAKE_BINARY_DIR}/cli-convert' --tasks STS13 --limit 20 --embedding rw --no-cache --quiet --json | grep -o '\"main_score\": [-0-9.e]*'); echo \"cached $a fresh $b\"; ls '${D2M_CLI_EVAL_DIR}/ecache/embeddings'/*.safetensors > /dev/null && test -n \"$a\" && test \"$a\" = \"$b\" && echo SAME_FROM_CACHE")
set_tests_properties(cli_eval_embedding_cache PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_convert PASS_REGULAR_EXPRESSION "SAME_FROM_CACHE")
# earlier runs side by side (the app's and the docs' comparison table)
add_test(NAME cli_eval_table
         COMMAND $<TARGET_FILE:den2moe> eval --table a=${D2M_CLI_EVAL_DIR}/dense --table b=${D2M_CLI_EVAL_DIR}/dense)
set_tests_properties(cli_eval_table PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_eval
                     PASS_REGULAR_EXPRESSION "\\| task \\| main score \\| chance \\| a \\| b \\|.*\\*\\*Mean\\(TaskType\\)\\*\\*")
# the same run's MTEB-layout files imported as the Python mteb package's result folder (issue 18): one
# run (labelled by the argument, as a summary folder is), its STS13 row
add_test(NAME cli_eval_table_mteb_import
         COMMAND $<TARGET_FILE:den2moe> eval --table ${D2M_CLI_EVAL_DIR}/dense/mteb)
set_tests_properties(cli_eval_table_mteb_import PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_eval
                     PASS_REGULAR_EXPRESSION "\\| chance \\| [^|]*/dense/mteb \\|\n.*\\| STS13 \\| cosine_spearman \\| 0.00 \\| [0-9.-]+ \\|")
# the saved embeddings of cli_eval_dense rescored in Python from the raw data files (MTEB's evaluator logic)
add_test(NAME oracle_eval_recompute
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/eval_oracle.py recompute --dir ${D2M_CLI_EVAL_DIR}/dense
                 --shared ${D2M_SHARED_DIR} --limit 24)
set_tests_properties(oracle_eval_recompute PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "cli;oracle"
                     FIXTURES_REQUIRED cli_eval PASS_REGULAR_EXPRESSION "recompute: OK")
# Ctrl-C once the first task's file is written: exit 130, that file complete, no file of the second task,
# no temporary file left
add_test(NAME cli_eval_ctrl_c
         COMMAND sh -c "d='${D2M_CLI_EVAL_DIR}/sigint'; rm -rf \"$d\"; $<TARGET_FILE:den2moe> eval '${D2M_DEMO_MODEL}' --tasks arc_easy,mmlu --limit 20 --no-cache --out \"$d\" --quiet & p=$!; i=0; while [ ! -s \"$d/zeroshot/arc_easy.json\" ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done; kill -INT $p; wait $p; rc=$?; echo rc=$rc; test $rc -eq 130 && grep -q 'acc,none' \"$d/zeroshot/arc_easy.json\" && test ! -e \"$d/zeroshot/mmlu.json\" && test -z \"$(find \"$d\" -name '*.tmp*')\" && echo CLEAN_CANCEL")
set_tests_properties(cli_eval_ctrl_c PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli PASS_REGULAR_EXPRESSION "CLEAN_CANCEL")
# RW and HS of a Mixtral export, saved by --save-embeddings, against the independent PyTorch MoE of mixtral_oracle.py
add_test(NAME oracle_eval_rw
         COMMAND sh -c "rm -rf '${D2M_CLI_EVAL_DIR}/rw' && $<TARGET_FILE:den2moe> eval '${D2M_CLI_EVAL_EXPORT}/mixtral' --tasks STS13 --limit 6 --embedding rw --save-embeddings --no-cache --out '${D2M_CLI_EVAL_DIR}/rw' --quiet > /dev/null && ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/eval_oracle.py rw --model '${D2M_CLI_EVAL_EXPORT}/mixtral' --emb '${D2M_CLI_EVAL_DIR}/rw/embeddings/STS13.safetensors' --texts '${D2M_CLI_EVAL_DIR}/rw/embeddings/STS13.texts.json'")
set_tests_properties(oracle_eval_rw PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS "cli;oracle"
                     FIXTURES_REQUIRED cli_export_mixtral PASS_REGULAR_EXPRESSION "rw: OK")
# the project's "task_eval" section gives the settings (flags override), and a bad value in it is named
set(D2M_EVAL_PROJECT_DIR ${D2M_CLI_EVAL_DIR}/project)
add_test(NAME cli_eval_project_section
         COMMAND sh -c "mkdir -p '${D2M_EVAL_PROJECT_DIR}' && printf '%s' '{\"format_version\": 3, \"name\": \"e\", \"model\": \"$SHARED/models/demo-llama-7m\", \"domains\": [], \"task_eval\": {\"tasks\": \"STS13\", \"prompt\": \"prompteol\"}}' > '${D2M_EVAL_PROJECT_DIR}/p.den2moe.json' && $<TARGET_FILE:den2moe> eval --project '${D2M_EVAL_PROJECT_DIR}/p.den2moe.json' --show-prompt && $<TARGET_FILE:den2moe> eval --project '${D2M_EVAL_PROJECT_DIR}/p.den2moe.json' --prompt none --show-prompt")
set_tests_properties(cli_eval_project_section PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "== STS13 \\(STS\\)\ntemplate \\(prompteol\\).*== STS13 \\(STS\\)\ntemplate \\(none\\)")
add_test(NAME cli_eval_project_bad_section
         COMMAND sh -c "mkdir -p '${D2M_EVAL_PROJECT_DIR}' && printf '%s' '{\"format_version\": 3, \"name\": \"e\", \"model\": \"x\", \"domains\": [], \"task_eval\": {\"prompt\": \"eol\"}}' > '${D2M_EVAL_PROJECT_DIR}/bad.den2moe.json' && $<TARGET_FILE:den2moe> eval --project '${D2M_EVAL_PROJECT_DIR}/bad.den2moe.json' --show-prompt 2>&1; test $? -eq 1")
set_tests_properties(cli_eval_project_bad_section PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "task_eval.prompt must be one of none, prompteol")
