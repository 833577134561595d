// The command table of `den2moe`: name, one-line summary, --help text (the options are listed from
// each command's option list, generated from the engine's settings where a step has them).
#include "cli.h"

namespace den2moe::cli {

const std::vector<Command>& commands() {
    static const std::vector<Command> cmds = {
        {"info", "describe a checkpoint (config, parameters, tokenizer) or a tokenizer alone",
         "usage: den2moe info MODEL [options]\n"
         "       den2moe info --tokenizer PATH [--json]\n\n"
         "MODEL is a Hugging Face folder (config.json + safetensors), a converted MoE folder or a llama2.c .bin.\n"
         "A tokenizer is a sentencepiece tokenizer.model, a llama2.c tokenizer .bin, a byte-level BPE\n"
         "tokenizer.json, or a folder with vocab.json + merges.txt (GPT-2, Qwen2/Qwen3).",
         info_options, cmd_info},
        {"generate", "greedy continuation of a prompt",
         "usage: den2moe generate MODEL [--prompt TEXT] [-n N] [options]\n\n"
         "Greedy decoding with a KV cache. The prompt is encoded with BOS; -n is the number of new tokens.\n"
         "Generation stops at BOS (like llama2.c run.c) and, for Hugging Face checkpoints, at EOS.\n"
         "The printed text equals the tokenizer's decode of the ids (a character split over tokens is printed\n"
         "once complete; bad bytes become U+FFFD as the tokenizer's own decode makes them). JSON: prompt,\n"
         "prompt_ids, ids (new), text (decode of prompt + new), tokens [{id, piece, text, hex}] (new).\n"
         "--save-logits FILE writes the prompt's logits from one cache-free forward pass (what outside tools\n"
         "such as transformers are compared with: tests/interop).",
         generate_options, cmd_generate},
        {"tokenize", "token ids of texts or of each line of a file",
         "usage: den2moe tokenize MODEL (--text TEXT ... | --lines FILE) [--no-bos] [--json]\n\n"
         "Encodes with the model's tokenizer (BOS first unless --no-bos): one line of ids per text, or JSON\n"
         "{tokenizer, kind, bos, ids: [[...], ...]}. Lines are bytes split at \\n, encoded as they are.",
         tokenize_options, cmd_tokenize},
        {"ppl", "perplexity per evaluation domain",
         "usage: den2moe ppl MODEL --data PATH [--data PATH...] [options]\n\n"
         "Records are joined as BOS text EOS; the stream is cut into non-overlapping windows of --seq tokens\n"
         "(DIVE/FLAP protocol; --stride < seq slides instead). --max-tokens limits each domain's stream.",
         ppl_options, cmd_ppl},
        {"mine", "domain-affinity mining: FLAP statistics, pruned models, N x N PPL, linkage",
         "usage: den2moe mine PROJECT --out DIR [options]\n\n"
         "For each domain i: FLAP statistics of every FFN (down_proj input) on its calibration split, cached\n"
         "on disk; prune with them (DIVE: uniform ratio, WIFV, bias compensation); perplexity on every domain j's\n"
         "evaluation split -> P[i][j]. Then S[i][j] = min_k P[k][j] / P[i][j], Pearson correlation of S's rows,\n"
         "distance 1 - r and hierarchical clustering. Options override the project's settings for this run\n"
         "(defaults shown are the settings' own; the project file may set others).\n"
         "Writes ppl_matrix.csv, normalized.csv, correlation.csv, linkage.json, clusters.json, mining.json.\n"
         "Ctrl-C stops cleanly; finished domains' statistics stay cached.",
         mine_options, cmd_mine},
        {"cluster", "re-cut / re-link a finished mining folder (no recomputation)",
         "usage: den2moe cluster DIR [options]\n\n"
         "Reads DIR/mining.json, recomputes the linkage when --linkage/--correlate differ, cuts at K clusters\n"
         "(scipy fcluster maxclust) or at height H (criterion distance), rewrites linkage.json and clusters.json.",
         cluster_options, cmd_cluster},
        {"convert", "build an MoE model from the dense one (DIVE, Den2MoEE and baselines)",
         "usage: den2moe convert PROJECT [--recipe R] [--clusters FILE] [--out DIR] [options]\n\n"
         "Recipes (the settings each uses are listed by `den2moe convert --help`; --recipe first sets the\n"
         "recipe's own defaults, e.g. top-k 2 for den2moee, then the other options apply):\n"
         "  dive         one expert per cluster (clusters from FILE, e.g. a mining folder's clusters.json, or the\n"
         "               project's saved assignment), FLAP-pruned with the cluster's cached calibration statistics\n"
         "  den2moee     no pruning: neurons split by balanced spherical k-means of their domain profiles into\n"
         "               --experts clusters; the broadest (--shared-ratio) form one shared MLP, plus null experts\n"
         "  dive-random  dive with clusters of the same sizes drawn at random (the ablation)\n"
         "  random       LLaMA-MoE's random neuron split into --experts\n"
         "  upcycle      --experts copies of the dense FFN\n"
         "  flap         one FLAP-pruned dense FFN at the experts' active width\n"
         "Routers (dive): centroid (each expert's mean FFN input over its domains' calibration tokens, minus the\n"
         "mean over experts, divided by the pooled variance) or random (DIVE's init). Writes DIR/model.safetensors,\n"
         "moe_config.json, provenance.json and (with --eval) eval.json with the per-domain perplexity of dense vs\n"
         "converted; the folder appears whole or not at all.",
         convert_options, cmd_convert},
        {"train", "recovery training: DIVE's stages, embedding training, Den2MoEE's dense and sparse phases",
         "usage: den2moe train MOE_DIR --project PROJECT --stage STAGE --out DIR [--resume] [options]\n"
         "STAGE: router | experts | extra (DIVE) | embedding | den2moee-dense | den2moee-sparse\n\n"
         "One recovery-training stage (DIVE, shared/docs/DIVE-FLAP.md section 6) on a converted model folder (or a\n"
         "dense Hugging Face folder for the experts stage), on windows packed from the project's domains' train\n"
         "splits; held-out loss on their test splits. router: only the routers train, every expert on every\n"
         "token, softmax temperature 0.05 (top-1) / 0.5 (top-k >= 2), LR 1e-4 constant, 0.5 M tokens. experts: the\n"
         "model's own top-k, LoRA r 8 / alpha 16 / dropout 0.1 on every expert's gate/up/down + routers + RMSNorms,\n"
         "LR 1e-4 with 3 % warm-up and cosine to 0.1x, 2 M tokens. extra: fresh LoRA, LR 1e-5 constant, 1 M tokens.\n"
         "Settings: the stage's values, then the project file's \"training\" section, then these flags (the\n"
         "defaults printed are the experts stage's).\n"
         "Writes DIR/model.safetensors (LoRA merged), moe_config.json, provenance.json, train_log.jsonl (loss\n"
         "curve), train.json and checkpoint.safetensors (every --save-every steps, at the end, and on Ctrl-C).\n"
         "--resume continues a killed or cancelled run bit for bit (same --threads). The result loads with\n"
         "den2moe ppl / route / export and in the app.\n\n"
         "Embedding training (--loss infonce | cosmse, --pairs FILE from `den2moe pairs` or your own): each text\n"
         "is formatted by the evaluator's template (--prompt, default none: \"text.\") and encoded as the\n"
         "evaluator does, BOS + prompt (--append-eos: BOS + prompt + EOS, Qwen3-Embedding's), pooled at the last\n"
         "token (or --pooling mean), L2-normalised; the model records it for `eval --embedding auto`.\n"
         "infonce: cross-entropy of query·candidateᵀ/tau over the batch's positives + hard negatives; cosmse:\n"
         "(cos(query, positive) − label)², labels from the pairs or from --teacher MODEL's cosines. --steps N\n"
         "(default one epoch over the pairs). Stages: embedding (a dense model, every transformer weight but\n"
         "the embeddings, InfoNCE tau 0.1, LR 5e-5); den2moee-dense (DEN2MOEE.md 3.1: router weights only,\n"
         "every expert on, cos-MSE, the prior's alpha ramp 0 -> 0.3 -> 0.6 -> 1.0, LR 1e-5); den2moee-sparse\n"
         "(3.2: every MoE-block weight, top-2 over routed + null, InfoNCE tau 0.1, budget-bias update, LR 5e-6).\n"
         "Den2MoEE stages save alpha, the mode and the bias in the model (the release loses them).",
         train_options, cmd_train},
        {"pairs", "text pairs for embedding training (--loss infonce|cosmse) from the bundled train splits",
         "usage: den2moe pairs --out FILE [--from mrpc,sts12,banking77] [--max-per-source N] [--negatives N]\n\n"
         "Writes a pairs file (JSON Lines, one {\"query\", \"positive\", \"negatives\": [...], \"label\", \"domain\"}\n"
         "object per line; only query and positive are required) from the bundled data's TRAIN splits:\n"
         "  mrpc       MRPC train paraphrases (Quality 1), label 1\n"
         "  sts12      SemEval STS 2012 MSRpar + SMTeuroparl train pairs scored >= 4 of 5, label score / 5\n"
         "  sick       SICK train pairs with relatedness >= 4, label score / 5 (MTEB's SICK-R set contains them)\n"
         "  banking77  Banking77 train: two queries of the same intent, hard negatives of other intents\n"
         "Your own file in the same format trains the same way: den2moe train MODEL --loss infonce --pairs FILE.",
         pairs_options, cmd_pairs},
        {"eval", "zero-shot accuracy and MTEB-style embedding tasks (HS / RW / MoEE embeddings)",
         "usage: den2moe eval MODEL [options]            (or --project P: its model and \"task_eval\" section)\n"
         "       den2moe eval --list-tasks\n"
         "       den2moe eval [MODEL] --show-prompt [--tasks ...] [--prompt ...] [--instruction ...]\n"
         "                      (with MODEL: its recorded embedding for --embedding auto, the token ids pooled)\n"
         "       den2moe eval --table [LABEL=]DIR [--table [LABEL=]DIR ...]   earlier runs side by side (markdown)\n\n"
         "Zero-shot multiple choice (lm-evaluation-harness prompts; acc = argmax of the summed continuation\n"
         "log-likelihood, acc_norm = per character of the choice) and MTEB 1.14 embedding tasks (STS,\n"
         "Classification, Clustering, PairClassification, Reranking) on the bundled data sets. Embeddings: HS\n"
         "(final-norm hidden state at the last token), RW (router outputs of every MoE layer at the last\n"
         "token), MoEE concat (per-chunk z-scored [HS;RW]) and MoEE sum (cos HS + alpha cos RW; label\n"
         "arithmetic for classification and clustering, as MoEE's code). Dense models offer HS only.\n"
         "MODEL: a Hugging Face folder, a llama2.c .bin, a converted MoE folder or a Mixtral / Qwen2-MoE export.\n"
         "Settings: their defaults, then the project's \"task_eval\" section (--project), then these flags.\n\n"
         "Writes DIR/mteb/<model>/<revision>/<Task>.json + model_meta.json (MTEB's layout), DIR/zeroshot/<task>.json,\n"
         "DIR/summary.json and summary.csv (Mean(Task), Mean(TaskType)), and with --save-embeddings\n"
         "DIR/embeddings/<Task>.safetensors. A task whose model, data and settings are unchanged is served from\n"
         "the cache. Ctrl-C keeps the finished tasks' files.",
         eval_options, cmd_eval},
        {"route", "which expert each token goes to, layer by layer",
         "usage: den2moe route MOE_DIR --text TEXT [options]\n\n"
         "One forward pass over BOS + TEXT; the router_probs hook site of every MoE layer gives each token's\n"
         "selected experts and weights. The table has one row per token; tokens that make one character or\n"
         "grapheme cluster share a span, whose text stands on its first row (a lone byte shows as <0xNN>).\n"
         "JSON: text, ids, pieces, tokens [{id, piece, text, hex}], spans [{tokens: [first, last), text, hex}],\n"
         "per layer tokens[[{expert, weight}]] and load. Text fields are valid UTF-8 (the tokenizer's own\n"
         "replacement of bad bytes); hex holds the bytes of a token or span that is not valid UTF-8 alone.",
         route_options, cmd_route},
        {"export", "write a converted MoE as a Hugging Face Mixtral / Qwen2-MoE folder",
         "usage: den2moe export MOE_DIR --out DIR [--format mixtral|qwen2moe|qwen3moe] [options]\n\n"
         "Lints the model against the target format first (errors: not representable; warnings: dropped or\n"
         "approximated; info: rewritten exactly) and exits 1 on errors; --strict turns warnings into errors.\n"
         "--pad-experts zero-pads unequal experts to the widest (exact). Writes config.json, safetensors\n"
         "(sharded above --shard-size, with model.safetensors.index.json), tokenizer files,\n"
         "generation_config.json and den2moe_provenance.json, atomically. See docs/export.md.\n"
         "--handoff torchrun|deepspeed --project P adds handoff/: the data manifest (sha256), the training\n"
         "settings of --handoff-stage, a DeepSpeed ZeRO-2 config, a transformers training script and its\n"
         "launch script, for training on a cluster (docs/scaling.md).",
         export_cmd_options, cmd_export},
        {"runs", "a project's runs with their lineage; rename or delete one as the app's Runs tab does",
         "usage: den2moe runs PROJECT [--json] [--out FILE]\n"
         "       den2moe runs PROJECT --rename DIR --label NAME\n"
         "       den2moe runs PROJECT --delete DIR --yes\n\n"
         "Lists every model folder the project produced (a conversion, each training stage, an export) and the\n"
         "evaluations of those models, oldest first, whichever front end made them: the project's run index\n"
         "(<cache>/runs.jsonl), the conversions under <cache>/experts and each folder's own provenance file, which\n"
         "gives the lineage (made from, recipe, experts, clusters, stages, settings) and the results (held-out\n"
         "perplexity before/after a training stage, the newest evaluation's means). The table's rows are the app's\n"
         "Runs tab's; --json adds each run's path, parent, clusters, stages and the runs made from it (made_into).\n"
         "--rename records a display name (the folder is not moved, so the runs made from it keep their lineage).\n"
         "--delete removes a run's folder, only a folder listed as a run of PROJECT, and only with --yes; the runs\n"
         "made from it are named first (they keep their files but lose their source).",
         runs_options, cmd_runs},
    };
    return cmds;
}

}  // namespace den2moe::cli
