# CLI data-parallel training (issue 19) on the converted DIVE model of train_tests.cmake: 2 ranks
# over c10d Gloo on loopback, started by the engine's own --nproc and by torchrun
# (python3 -m torch.distributed.run --no_python), each equal to one process with the same global
# batch (batch 1 x grad-accum 2: the ranks' micro-batches are the single process's, dropout masks
# included) in loss curve and final weights to rel. 1e-5 (dist_compare.py); a rank killed mid-run
# makes the other exit non-zero within --dist-timeout naming the lost rank; a 2-rank checkpoint
# resumed by 1 process, and a 1-process checkpoint resumed by 2 ranks, equal the uninterrupted run.
set(D2M_CLI_TRAIN ${CMAKE_BINARY_DIR}/cli-train)  # the fixture cli_train (train_tests.cmake) converts the model there
set(D2M_CLI_DIST ${CMAKE_BINARY_DIR}/cli-dist)
set(D2M_DIST_ARGS "--project ${D2M_CLI_TRAIN}/tiny.den2moe.json --domains truthfulqa,python --seq-len 32 --batch 1 --grad-accum 2 --eval-windows 2 --dtype fp32 --stage experts --tokens 1280 --save-every 7 --eval-every 10")
set(D2M_DIST_SH "M=${D2M_CLI_TRAIN}/moe && D=${D2M_CLI_DIST} && T=$<TARGET_FILE:den2moe> && A='${D2M_DIST_ARGS}' && CMP='/usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/dist_compare.py'")

add_test(NAME cli_dist_single
         COMMAND sh -c "${D2M_DIST_SH} && rm -rf $D && mkdir -p $D && $T train $M $A --quiet --out $D/one && echo SINGLE")
set_tests_properties(cli_dist_single PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli FIXTURES_REQUIRED cli_train
                     FIXTURES_SETUP cli_dist PASS_REGULAR_EXPRESSION "SINGLE")

add_test(NAME cli_dist_nproc2_equals_single
         COMMAND sh -c "${D2M_DIST_SH} && rm -rf $D/np2 && $T train $M $A --quiet --out $D/np2 --nproc 2 2>&1 && grep -q '\"world_size\": 2' $D/np2/train.json && $CMP $D/one $D/np2 $M")
set_tests_properties(cli_dist_nproc2_equals_single PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_dist PASS_REGULAR_EXPRESSION "SAME 20 steps")

add_test(NAME cli_dist_torchrun_equals_single
         COMMAND sh -c "${D2M_DIST_SH} && rm -rf $D/tr && P=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])') && /usr/bin/python3 -m torch.distributed.run --nproc_per_node 2 --master_addr 127.0.0.1 --master_port $P --redirects 1 --tee 1 --log_dir $D/torchrun-logs --no_python $T train $M $A --quiet --out $D/tr 2>&1 && grep -q '\"world_size\": 2' $D/tr/train.json && $CMP $D/one $D/tr $M")
set_tests_properties(cli_dist_torchrun_equals_single PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_dist PASS_REGULAR_EXPRESSION "SAME 20 steps")

# (--redirects 1 --tee 1: Debian's torch 1.13 under Python 3.11 cannot parse the default '0',
# Std.from_str returns None for the zero flag; 1 tees each worker's stdout to the console)

# rank 1 SIGKILLs itself after step 5; rank 0 must stop by itself (exit 1 or 2, not killed by the
# spawner) within --dist-timeout 8 plus its 3-second look at the heartbeats, naming rank 1
add_test(NAME cli_dist_lost_rank_named
         COMMAND sh -c "${D2M_DIST_SH} && rm -rf $D/lost && S=$(date +%s) && (D2M_TRAIN_TEST_KILL_AT_STEP=5 D2M_TRAIN_TEST_KILL_RANK=1 $T train $M $A --quiet --out $D/lost --nproc 2 --dist-timeout 8 2>&1; echo exit $?) && E=$(date +%s) && echo elapsed $((E - S)) && test $((E - S)) -lt 30 && echo BOUNDED")
set_tests_properties(cli_dist_lost_rank_named PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_dist
                     FAIL_REGULAR_EXPRESSION "did not stop within"
                     PASS_REGULAR_EXPRESSION "rank 1 \\(pid [0-9]+\\) was killed by signal 9.*\\[rank 0\\] error: .*lost rank 1.*exit 137.*BOUNDED")

# 2 ranks killed at step 17 (checkpoint at 14) resumed by 1 process, and 1 process killed at step
# 17 resumed by 2 ranks: both equal the uninterrupted single process
add_test(NAME cli_dist_resume_other_world_size
         COMMAND sh -c "${D2M_DIST_SH} && rm -rf $D/r21 $D/r12 && (D2M_TRAIN_TEST_KILL_AT_STEP=17 $T train $M $A --quiet --out $D/r21 --nproc 2 2>/dev/null; echo exit $?) && ! test -e $D/r21/model.safetensors && $T train $M $A --out $D/r21 --resume 2>&1 | grep 'resumed at step' && $CMP $D/one $D/r21 $M && (D2M_TRAIN_TEST_KILL_AT_STEP=17 $T train $M $A --quiet --out $D/r12 2>/dev/null; echo exit $?) && $T train $M $A --out $D/r12 --resume --nproc 2 2>&1 | grep 'resumed at step' && grep -q '\"world_size\": 2' $D/r12/train.json && $CMP $D/one $D/r12 $M")
set_tests_properties(cli_dist_resume_other_world_size PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_dist
                     PASS_REGULAR_EXPRESSION "exit 137.*resumed at step 14 of 20.*SAME 20 steps.*exit 137.*resumed at step 14 of 20.*SAME 20 steps")

# sharded mining of 4 domains on 2 ranks (rows i mod 2, dense cells j mod 2) = one process: the
# result files byte for byte (mining.json holds timings and is not compared), at one thread per
# process in both (fp32 sums depend on the thread count, in one process too); then a single process
# on the 2-rank run's cache finds every cell there (rank 0 wrote all ranks' cells)
set(D2M_DIST_MINE "--domains gsm8k,python,shakespeare,wiki --samples 4 --seq 64 --eval-windows 2 --eval-seq 64 --dtype fp32 --clusters 2 --threads 1 --quiet")
add_test(NAME cli_dist_sharded_mining_equals_single
         COMMAND sh -c "D=${D2M_CLI_DIST}-mine && T=$<TARGET_FILE:den2moe> && P='${CMAKE_SOURCE_DIR}/projects/demo.den2moe.json' && rm -rf $D && $T mine $P ${D2M_DIST_MINE} --out $D/one --cache-dir $D/cache1 > /dev/null && $T mine $P ${D2M_DIST_MINE} --out $D/two --cache-dir $D/cache2 --nproc 2 && for f in ppl_matrix.csv normalized.csv correlation.csv linkage.json clusters.json; do cmp $D/one/$f $D/two/$f || exit 1; done && grep -c . $D/two/ppl_matrix.csv && echo IDENTICAL && $T mine $P ${D2M_DIST_MINE} --out $D/again --cache-dir $D/cache2 && cmp $D/one/ppl_matrix.csv $D/again/ppl_matrix.csv && echo CACHED")
set_tests_properties(cli_dist_sharded_mining_equals_single PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     PASS_REGULAR_EXPRESSION "statistics cache: 0 hit, 4 computed. perplexity cells from cache: 0 of 20.*\n5\nIDENTICAL.*statistics cache: 4 hit, 0 computed. perplexity cells from cache: 20 of 20.*CACHED")

# 2 windows per step cannot feed 3 ranks: refused before any rank starts (one message, exit 1,
# nothing written)
add_test(NAME cli_dist_bad_world_size
         COMMAND sh -c "${D2M_DIST_SH} && rm -rf $D/never && ($T train $M $A --quiet --out $D/never --nproc 3 2>&1; echo exit $?) > $D/bad.txt; cat $D/bad.txt && test $(grep -c 'cannot be shared' $D/bad.txt) -eq 1 && ! test -e $D/never && echo REFUSED")
set_tests_properties(cli_dist_bad_world_size PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_dist
                     PASS_REGULAR_EXPRESSION "windows per step cannot be shared by 3 ranks.*exit 1.*REFUSED")

# Cross-rank InfoNCE (ms-swift's INFONCE_USE_BATCH, DEN2MOEE.md §3.2): on 2 ranks each micro-batch of
# 8 pairs is split 4 + 4, every rank gathers the other's embeddings (detached) and takes the loss of
# all 8 anchors against all 8 positives, only its own rows differentiable; the summed gradient is the
# one-process gradient of the 8 pairs, so the run equals one process with --batch 8: loss and gradient
# norm of every step to rel 1e-5 (measured 1.9e-7: the ranks left-pad their 4 pairs to other lengths
# than the 8-pair batch), the weights to rel 2e-3 (AdamW's sign-like first steps on gradient elements
# near 0; measured 8e-4). Without the gather each rank would score its 4 anchors against its own 4
# positives only, and the step-1 loss would differ.
# LoRA dropout 0: the masks of a 4-pair and an 8-pair batch cannot coincide.
add_test(NAME cli_dist_infonce_gathered_equals_single
         COMMAND sh -c "D=${D2M_CLI_DIST}-infonce && T=$<TARGET_FILE:den2moe> && M=${D2M_SHARED_DIR}/models/demo-llama-7m && CMP='/usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/dist_compare.py' && rm -rf $D && mkdir -p $D && $T pairs --from mrpc,banking77 --max-per-source 24 --out $D/pairs.jsonl > /dev/null && A='--project ${D2M_CLI_TRAIN}/tiny.den2moe.json --domains truthfulqa,python --seq-len 32 --eval-windows 2 --dtype fp32 --stage embedding --pairs '$D/pairs.jsonl' --batch 8 --steps 4 --lora-dropout 0 --quiet' && $T train $M $A --out $D/one && $T train $M $A --out $D/two --nproc 2 2>&1 && grep -q '\"world_size\": 2' $D/two/train.json && $CMP $D/one $D/two $M 1e-5 2e-3")
set_tests_properties(cli_dist_infonce_gathered_equals_single PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_train PASS_REGULAR_EXPRESSION "SAME 4 steps")

# The same with training.distill similarity (the Gram term over all ranks' texts in one process's order,
# only a rank's own rows differentiable: trainer.cpp gathered_infonce), LR 1e-3 and weight 1000 so that
# the term dominates the loss after the first steps (loss 1.64, 2.10, 373, 65: a term over the wrong rows
# would be far off). Tolerances 1e-4 / 5e-3 (measured 1.7e-5: the step-1 gradient norm, where the term is
# fp noise of the embeddings, 1e-7, times 1000; weights 2.8e-3 of the max at 20x the stage's LR).
add_test(NAME cli_dist_infonce_distill_gathered_equals_single
         COMMAND sh -c "D=${D2M_CLI_DIST}-infonce-distill && T=$<TARGET_FILE:den2moe> && M=${D2M_SHARED_DIR}/models/demo-llama-7m && CMP='/usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/dist_compare.py' && rm -rf $D && mkdir -p $D && $T pairs --from mrpc,banking77 --max-per-source 24 --out $D/pairs.jsonl > /dev/null && A='--project ${D2M_CLI_TRAIN}/tiny.den2moe.json --domains truthfulqa,python --seq-len 32 --eval-windows 2 --dtype fp32 --stage embedding --pairs '$D/pairs.jsonl' --batch 8 --steps 4 --lora-dropout 0 --lr 1e-3 --distill similarity --distill-weight 1000 --quiet' && $T train $M $A --out $D/one && $T train $M $A --out $D/two --nproc 2 2>&1 && grep -q '\"world_size\": 2' $D/two/train.json && $CMP $D/one $D/two $M 1e-4 5e-3")
set_tests_properties(cli_dist_infonce_distill_gathered_equals_single PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                     FIXTURES_REQUIRED cli_train PASS_REGULAR_EXPRESSION "SAME 4 steps")

# Overlapped all-reduce (grad_sync overlap, dist/reducer.h): gradient buckets started by autograd hooks
# during each rank's last backward pass vs one bucketed all-reduce after it. Grad-accum 4 on 2 ranks
# (each rank accumulates 2 micro-batches and hooks the second), 0.05 MiB buckets (many of them).
# Overlapped = after-backward BIT FOR BIT (the same per-rank float sums, and a 2-rank sum a + b does
# not depend on the bucket layout); both = 1 process to rel 1e-6 (one process sums
# ((g0 + g1) + g2) + g3, two ranks (g0 + g1) + (g2 + g3); 10 AdamW steps on top of that rounding
# measured 8.4e-8 on one Zen 4 machine and 1.2e-7 on another, so 1e-7 was a machine's margin, not a
# bound; a bucket left out of the sum leaves each rank with half the data's gradient, far outside it).
# Twice: the experts stage (LoRA on experts, routers, norms; experts no token of a rank's last micro-batch reached come from .grad at
# the end) and full tensors with frozen ones (LoRA off: q_proj = rows of the fused qkv weight,
# routers, norms but the final one).
set(D2M_OVL_COMMON "--project ${D2M_CLI_TRAIN}/tiny.den2moe.json --domains truthfulqa,python --seq-len 32 --batch 1 --grad-accum 4 --eval-windows 2 --dtype fp32 --stage experts --tokens 1280 --save-every 100 --eval-every 100 --quiet")
set(D2M_OVL_FROZEN "--lora-rank 0 --trainable '*.q_proj.weight,*.mlp.router.weight,*norm.weight' --frozen model.norm.weight")
foreach(v lora frozen)
  if(v STREQUAL "frozen")
    set(extra "${D2M_OVL_FROZEN}")
  else()
    set(extra "")
  endif()
  add_test(NAME cli_dist_overlap_equals_after_backward_${v}
           COMMAND sh -c "M=${D2M_CLI_TRAIN}/moe && D=${D2M_CLI_DIST}-overlap-${v} && T=$<TARGET_FILE:den2moe> && A=\"${D2M_OVL_COMMON} ${extra}\" && CMP='/usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/dist_compare.py' && rm -rf $D && mkdir -p $D && eval $T train $M $A --out $D/one && eval $T train $M $A --out $D/ov --nproc 2 --bucket-mb 0.05 2>&1 && eval $T train $M $A --out $D/ab --nproc 2 --grad-sync after-backward 2>&1 && grep -A6 grad_sync $D/ov/train.json | tr -d '\\n ' && echo && cmp $D/ov/model.safetensors $D/ab/model.safetensors && $CMP $D/ov $D/ab $M 0 && echo OVERLAP_BITWISE && $CMP $D/one $D/ov $M 1e-6")
  set_tests_properties(cli_dist_overlap_equals_after_backward_${v} PROPERTIES ENVIRONMENT "${D2M_TEST_ENV}" LABELS cli
                       FIXTURES_REQUIRED cli_train
                       PASS_REGULAR_EXPRESSION "\"grad_sync\":{\"bucket_mb\":0.05,\"buckets\":([2-9]|[1-9][0-9]+),\"mode\":\"overlap\",\"started_after_backward\":[0-9]+,\"started_in_backward\":[1-9][0-9]*,\"steps\":10.*SAME 10 steps.*OVERLAP_BITWISE.*SAME 10 steps")
endforeach()
