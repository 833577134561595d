# CLI convert: the random-split baseline needs no statistics (fast); a DIVE conversion without
# clusters is a user error (exit 1) with a hint.
add_test(NAME cli_convert_random
         COMMAND sh -c "rm -rf '${CMAKE_BINARY_DIR}/cli-convert' && $<TARGET_FILE:den2moe> convert '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' --recipe random --experts 4 --top-k 2 --dtype fp32 --no-eval --out '${CMAKE_BINARY_DIR}/cli-convert' --quiet && grep -q '\"num_experts\": 4' '${CMAKE_BINARY_DIR}/cli-convert/moe_config.json' && test -s '${CMAKE_BINARY_DIR}/cli-convert/model.safetensors' && echo CONVERTED")
set_tests_properties(cli_convert_random PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "CONVERTED")
add_test(NAME cli_convert_needs_clusters
         COMMAND sh -c "$<TARGET_FILE:den2moe> convert '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' --recipe dive --out /tmp/d2m-never 2>&1; test $? -eq 1")
set_tests_properties(cli_convert_needs_clusters PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "needs a cluster assignment")
set_tests_properties(cli_convert_random PROPERTIES FIXTURES_SETUP cli_convert)
# route and ppl read the converted folder back (native MoE format, tokenizer copied beside it)
add_test(NAME cli_route
         COMMAND $<TARGET_FILE:den2moe> route ${CMAKE_BINARY_DIR}/cli-convert --text "Two plus two is four." --json)
set_tests_properties(cli_route PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_convert
                     PASS_REGULAR_EXPRESSION "\"n_experts\": 4")
add_test(NAME cli_ppl_moe
         COMMAND $<TARGET_FILE:den2moe> ppl ${CMAKE_BINARY_DIR}/cli-convert --data ${D2M_SHARED_DIR}/data/domains/wiki --max-tokens 1024 --seq 128)
set_tests_properties(cli_ppl_moe PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_convert
                     PASS_REGULAR_EXPRESSION "wiki")
# ppl --expert-load: each domain's share of token slots per expert (4 experts, top-2, 6 MoE layers; every
# layer's shares sum to 1, not all equal); a dense model is refused before any work (exit 1)
add_test(NAME cli_ppl_expert_load
         COMMAND sh -c "$<TARGET_FILE:den2moe> ppl ${CMAKE_BINARY_DIR}/cli-convert --data ${D2M_SHARED_DIR}/data/domains/wiki --data ${D2M_SHARED_DIR}/data/domains/python --max-tokens 1024 --seq 128 --expert-load --json --quiet | ${D2M_PYTHON} -c \"import json,sys; j=json.load(sys.stdin)['expert_load']; d=j['domains']; assert j['n_experts']==4 and len(j['moe_layers'])==6 and [x['domain'] for x in d]==['wiki','python']; assert all(abs(sum(r)-1)<1e-9 for x in d for r in x['per_layer']); assert max(abs(v-0.25) for x in d for v in x['mean_over_layers'])>1e-3; print('LOAD_OK', d[0]['mean_over_layers'])\" && ($<TARGET_FILE:den2moe> ppl ${D2M_SHARED_DIR}/models/demo-llama-7m --data ${D2M_SHARED_DIR}/data/domains/wiki --max-tokens 256 --expert-load; echo exit $?)")
set_tests_properties(cli_ppl_expert_load PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_convert
                     PASS_REGULAR_EXPRESSION "LOAD_OK.*has no MoE layer.*exit 1")
# issue 25: any text in, any text out (route/generate/ppl/info --json on every script of
# tests/data/multilingual.jsonl, checked with python3-sentencepiece; a Latin-1 corpus exits 1)
add_test(NAME cli_text_any_script
         COMMAND ${D2M_PYTHON} ${CMAKE_SOURCE_DIR}/tests/app/cli/text_cli_check.py
                 --den2moe $<TARGET_FILE:den2moe> --moe ${CMAKE_BINARY_DIR}/cli-convert
                 --dense ${D2M_SHARED_DIR}/models/demo-llama-7m --corpus ${CMAKE_SOURCE_DIR}/tests/data/multilingual.jsonl
                 --tmp ${CMAKE_BINARY_DIR}/cli-text)
set_tests_properties(cli_text_any_script PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_convert)
# Den2MoEE with TokenScore token weights (issue 17 item 2) on the demo project cut to 2 records of
# <= 96 tokens per domain (a copy of the project with its own cache): the provenance and moe_config
# say which weighting was used; a mask id outside the vocabulary is refused before any work (exit 1).
set(D2M_TS_DIR ${CMAKE_BINARY_DIR}/cli-tokenscore)
add_test(NAME cli_convert_den2moee_tokenscore
         COMMAND sh -c "rm -rf '${D2M_TS_DIR}' && mkdir -p '${D2M_TS_DIR}' && ${D2M_PYTHON} -c \"import json,sys; p=json.load(open(sys.argv[1])); p['calibration']=dict(p.get('calibration',{}),samples=2,seq_len=96); p['cache_dir']=sys.argv[2]+'/cache'; json.dump(p,open(sys.argv[2]+'/p.den2moe.json','w'))\" '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' '${D2M_TS_DIR}' && $<TARGET_FILE:den2moe> convert '${D2M_TS_DIR}/p.den2moe.json' --recipe den2moee --experts 8 --top-k 2 --token-weights tokenscore --dtype fp32 --no-eval --out '${D2M_TS_DIR}/moe' --quiet && grep -q '\"token_weights\": \"tokenscore\"' '${D2M_TS_DIR}/moe/provenance.json' && grep -q '\"token_weights\": \"tokenscore\"' '${D2M_TS_DIR}/moe/moe_config.json' && grep -q '\"rss_model\"' '${D2M_TS_DIR}/moe/moe_config.json' && echo TOKENSCORE_CONVERTED")
set_tests_properties(cli_convert_den2moee_tokenscore PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "TOKENSCORE_CONVERTED")
add_test(NAME cli_convert_tokenscore_bad_mask
         COMMAND sh -c "out=$($<TARGET_FILE:den2moe> convert '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' --recipe den2moee --token-weights tokenscore --ts-mask-id 5000 --out /tmp/d2m-never-ts 2>&1); rc=$?; echo \"$out\"; test $rc -eq 1 && ! test -e /tmp/d2m-never-ts && echo \"$out\" | grep -q 'mask id 5000 is outside the vocabulary' && echo EXIT1_NAMED")
set_tests_properties(cli_convert_tokenscore_bad_mask PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "EXIT1_NAMED")
