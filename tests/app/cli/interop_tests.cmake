# CLI pieces the interop suite (tests/interop, scripts/run_interop.sh) compares outside tools with:
# `den2moe tokenize` equals python3-sentencepiece on corpus lines; the Mixtral export carries the tokenizer.json
# the exporter writes (its encodings against transformers are the interop suite's); `generate --save-logits`
# writes input_ids [T] and logits [T, V] whose last row's argmax is the first generated token.
add_test(NAME cli_tokenize_sentencepiece
         COMMAND ${D2M_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/tokenize_check.py $<TARGET_FILE:den2moe>
                 ${D2M_SHARED_DIR}/models/demo-llama-7m ${D2M_SHARED_DIR} ${CMAKE_BINARY_DIR}/cli-tokenize)
set_tests_properties(cli_tokenize_sentencepiece PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "SAME_IDS [0-9]+")
add_test(NAME cli_export_tokenizer_json
         COMMAND sh -c "test -s '${CMAKE_BINARY_DIR}/cli-export/mixtral/tokenizer.json' && grep -q 'written from tokenizer.model' '${CMAKE_BINARY_DIR}/cli-export/mixtral/den2moe_provenance.json' && echo TOKENIZER_JSON")
set_tests_properties(cli_export_tokenizer_json PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_export_mixtral PASS_REGULAR_EXPRESSION "TOKENIZER_JSON")
add_test(NAME cli_generate_save_logits
         COMMAND sh -c "D=${CMAKE_BINARY_DIR}/cli-logits && mkdir -p $D && $<TARGET_FILE:den2moe> generate ${D2M_SHARED_DIR}/models/demo-llama-7m --prompt 'Once upon a time' -n 1 --json --save-logits $D/l.safetensors > $D/g.json && ${D2M_PYTHON} -c \"import json,struct,numpy as np; b=open('$D/l.safetensors','rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n]); g=json.load(open('$D/g.json')); o=8+n; i=h['input_ids']; l=h['logits']; ids=np.frombuffer(b[o+i['data_offsets'][0]:o+i['data_offsets'][1]],dtype=np.int64); L=np.frombuffer(b[o+l['data_offsets'][0]:o+l['data_offsets'][1]],dtype=np.float32).reshape(l['shape']); assert ids.tolist()==g['prompt_ids'] and l['dtype']=='F32' and L.shape[0]==len(ids) and int(L[-1].argmax())==g['ids'][0]; print('LOGITS_OK', L.shape)\"")
set_tests_properties(cli_generate_save_logits PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "LOGITS_OK")
