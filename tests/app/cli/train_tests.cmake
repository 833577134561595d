# CLI train: a DIVE model (2 clusters, tiny calibration, FLAP biases, top-1) converted once, then
# the router stage (progress line with loss, LR, tokens/s, ETA; the output loads with ppl, route and
# export), a run killed with SIGKILL mid-way and resumed equals the uninterrupted run byte for byte,
# and each bad input exits 1 with one message and leaves the output folder as it was.
set(D2M_CLI_TRAIN ${CMAKE_BINARY_DIR}/cli-train)
set(D2M_TRAIN_ARGS "--project ${D2M_CLI_TRAIN}/tiny.den2moe.json --domains truthfulqa,python --seq-len 32 --batch 2 --eval-windows 2 --dtype fp32")
add_test(NAME cli_train_setup
         COMMAND sh -c "D=${D2M_CLI_TRAIN} && rm -rf $D && mkdir -p $D && sed -e 's/\"samples\": 128/\"samples\": 4/' -e 's/\"seq_len\": 256/\"seq_len\": 64/' '${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' > $D/tiny.den2moe.json && printf '{\"members\": [[\"wiki\"], [\"gsm8k\"]]}' > $D/clusters.json && $<TARGET_FILE:den2moe> convert $D/tiny.den2moe.json --recipe dive --clusters $D/clusters.json --dtype fp32 --no-eval --out $D/moe --quiet && echo CONVERTED")
set_tests_properties(cli_train_setup PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_SETUP cli_train
                     PASS_REGULAR_EXPRESSION "CONVERTED")

add_test(NAME cli_train_router
         COMMAND sh -c "D=${D2M_CLI_TRAIN} && rm -rf $D/router && $<TARGET_FILE:den2moe> train $D/moe ${D2M_TRAIN_ARGS} --stage router --tokens 640 --out $D/router && for f in model.safetensors moe_config.json provenance.json train_log.jsonl train.json checkpoint.safetensors tokenizer.model; do test -s $D/router/$f || exit 1; done && grep -q '\"type\":\"eval\"' $D/router/train_log.jsonl && echo TRAINED")
set_tests_properties(cli_train_router PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_train
                     FIXTURES_SETUP cli_train_router
                     PASS_REGULAR_EXPRESSION "note: router stage: every expert runs on every token.*\\[train\\] 10/10 +loss [0-9.]+  lr 0.0001  tokens/s [0-9]+.*ETA.*held-out ppl.*TRAINED")
add_test(NAME cli_train_output_loads
         COMMAND sh -c "D=${D2M_CLI_TRAIN} && $<TARGET_FILE:den2moe> ppl $D/router --data ${D2M_SHARED_DIR}/data/domains/wiki --max-tokens 512 --seq 128 && $<TARGET_FILE:den2moe> route $D/router --text 'Two plus two' --json | grep -q n_experts && $<TARGET_FILE:den2moe> export $D/router --format mixtral --lint-only && echo LOADS")
set_tests_properties(cli_train_output_loads PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_train_router PASS_REGULAR_EXPRESSION "wiki.*expert-bias-dropped.*LOADS")

# kill -9 at step 17 of 30 (checkpoints every 7 steps: the resumed run redoes 15..17), LoRA dropout on
add_test(NAME cli_train_kill_resume_bit_exact
         COMMAND sh -c "D=${D2M_CLI_TRAIN} && rm -rf $D/a $D/b && A='${D2M_TRAIN_ARGS} --stage experts --tokens 1920 --save-every 7 --eval-every 10 --quiet' && $<TARGET_FILE:den2moe> train $D/moe $A --out $D/a && (D2M_TRAIN_TEST_KILL_AT_STEP=17 $<TARGET_FILE:den2moe> train $D/moe $A --out $D/b; echo exit $?) && ! test -e $D/b/model.safetensors && $<TARGET_FILE:den2moe> train $D/moe ${D2M_TRAIN_ARGS} --stage experts --tokens 1920 --save-every 7 --eval-every 10 --out $D/b --resume 2>&1 | grep 'resumed at step' && cmp $D/a/model.safetensors $D/b/model.safetensors && cmp $D/a/checkpoint.safetensors $D/b/checkpoint.safetensors && test $(grep -c '\"type\":\"step\"' $D/b/train_log.jsonl) -eq 30 && echo BIT_EXACT")
set_tests_properties(cli_train_kill_resume_bit_exact PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_train FIXTURES_SETUP cli_train_runs
                     PASS_REGULAR_EXPRESSION "exit 137.*resumed at step 14 of 30.*BIT_EXACT")

# bad input: one message, exit 1, nothing written or overwritten
set(D2M_TRAIN_BAD "D=${D2M_CLI_TRAIN} && T=$<TARGET_FILE:den2moe>")
foreach(case
    "dense_router|$T train ${D2M_SHARED_DIR}/models/demo-llama-7m ${D2M_TRAIN_ARGS} --stage router --out $D/never|holds a dense model"
    "lr_zero|$T train $D/moe ${D2M_TRAIN_ARGS} --stage router --lr 0 --out $D/never|--lr = 0 is out of range"
    "tiny_budget|$T train $D/moe ${D2M_TRAIN_ARGS} --stage router --tokens 10 --out $D/never|smaller than one optimizer step"
    "no_stage|$T train $D/moe ${D2M_TRAIN_ARGS} --out $D/never|--stage router.experts.extra.embedding.den2moee-dense.den2moee-sparse is required"
    "bad_device|$T train $D/moe ${D2M_TRAIN_ARGS} --stage router --device gpu7 --out $D/never|training.device 'gpu7' is not a device")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 name)
  list(GET parts 1 cmd)
  list(GET parts 2 msg)
  add_test(NAME cli_train_bad_${name}
           COMMAND sh -c "${D2M_TRAIN_BAD} && rm -rf $D/never && ${cmd} 2>&1; test $? -eq 1 && ! test -e $D/never && echo EXIT1")
  set_tests_properties(cli_train_bad_${name} PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                       FIXTURES_REQUIRED cli_train PASS_REGULAR_EXPRESSION "${msg}.*EXIT1")
endforeach()
# a checkpoint from another model (the router-trained one resumes the experts run of $D/a), a
# truncated checkpoint, and an output folder that already holds a run: exit 1, the folder unchanged
add_test(NAME cli_train_bad_checkpoints
         COMMAND sh -c "${D2M_TRAIN_BAD} && A='${D2M_TRAIN_ARGS} --stage experts --tokens 1920 --save-every 7 --eval-every 10' && rm -rf $D/c $D/t && cp -r $D/a $D/c && cp -r $D/a $D/t && truncate -s 2000 $D/t/checkpoint.safetensors && ($T train $D/router $A --out $D/c --resume 2>&1; echo exit $?) && cmp $D/a/model.safetensors $D/c/model.safetensors && ($T train $D/moe $A --out $D/t --resume 2>&1; echo exit $?) && cmp $D/a/model.safetensors $D/t/model.safetensors && ($T train $D/moe $A --out $D/c 2>&1; echo exit $?) && cmp $D/a/checkpoint.safetensors $D/c/checkpoint.safetensors && echo UNCHANGED")
set_tests_properties(cli_train_bad_checkpoints PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED "cli_train_runs;cli_train_router"
                     PASS_REGULAR_EXPRESSION "belongs to another model.*exit 1.*cannot be read.*exit 1.*already holds a model or a training run.*exit 1.*UNCHANGED")

# embedding training: a pairs file from the bundled MRPC train split, InfoNCE on the dense demo model;
# a run killed at step 3 of 5 and resumed equals the uninterrupted run byte for byte; the saved model
# records its embedding setting; a contrastive loss without a pairs file exits 1 before any work
add_test(NAME cli_train_embedding_pairs
         COMMAND sh -c "D=${D2M_CLI_TRAIN} && rm -rf $D/ea $D/eb && $<TARGET_FILE:den2moe> pairs --from mrpc,banking77 --max-per-source 24 --out $D/pairs.jsonl && A='${D2M_TRAIN_ARGS} --stage embedding --pairs ${D2M_CLI_TRAIN}/pairs.jsonl --batch 8 --steps 5 --quiet' && $<TARGET_FILE:den2moe> train ${D2M_SHARED_DIR}/models/demo-llama-7m $A --out $D/ea && grep -q '\"pooling\": \"last\"' $D/ea/moe_config.json && (D2M_TRAIN_TEST_KILL_AT_STEP=3 $<TARGET_FILE:den2moe> train ${D2M_SHARED_DIR}/models/demo-llama-7m $A --out $D/eb; echo exit $?) && $<TARGET_FILE:den2moe> train ${D2M_SHARED_DIR}/models/demo-llama-7m $A --out $D/eb --resume && cmp $D/ea/model.safetensors $D/eb/model.safetensors && echo EMBEDDING_BIT_EXACT")
set_tests_properties(cli_train_embedding_pairs PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_train FIXTURES_SETUP cli_train_embedding
                     PASS_REGULAR_EXPRESSION "mrpc +24 pairs.*exit 137.*EMBEDDING_BIT_EXACT")
# eval of a saved embedding model with no --embedding takes the pooling its moe_config.json records (here
# edited to mean): it says so, its score equals an explicit --embedding hs --pooling mean and differs from
# last-token pooling; the summary names the record as the embedding's source
add_test(NAME cli_eval_recorded_embedding
         COMMAND sh -c "D=${D2M_CLI_TRAIN} && T=$<TARGET_FILE:den2moe> && rm -rf $D/er && cp -r $D/ea $D/er && sed -i 's/\"pooling\": \"last\"/\"pooling\": \"mean\"/' $D/er/moe_config.json && E='--tasks STS13 --limit 16 --no-cache --quiet --json' && $T eval $D/er $E > $D/er-auto.json && a=$(grep -o '\"main_score\": [-0-9.e]*' $D/er-auto.json) && b=$($T eval $D/er $E --embedding hs --pooling mean | grep -o '\"main_score\": [-0-9.e]*') && c=$($T eval $D/er $E --embedding hs | grep -o '\"main_score\": [-0-9.e]*') && echo \"auto $a mean $b last $c\" && grep -o 'model record: [^\"]*' $D/er-auto.json && test -n \"$a\" && test \"$a\" = \"$b\" && test \"$a\" != \"$c\" && echo RECORDED_POOLING")
set_tests_properties(cli_eval_recorded_embedding PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_train_embedding
                     PASS_REGULAR_EXPRESSION "pooling mean, prompt none as the model records it.*RECORDED_POOLING")
add_test(NAME cli_train_embedding_needs_pairs
         COMMAND sh -c "D=${D2M_CLI_TRAIN} && $<TARGET_FILE:den2moe> train ${D2M_SHARED_DIR}/models/demo-llama-7m ${D2M_TRAIN_ARGS} --stage embedding --out $D/enone; echo exit $?; test ! -e $D/enone && echo NOTHING_WRITTEN")
set_tests_properties(cli_train_embedding_needs_pairs PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_train PASS_REGULAR_EXPRESSION "no pairs file.*exit 1.*NOTHING_WRITTEN")
