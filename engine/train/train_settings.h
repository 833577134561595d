// Settings of recovery training (one DIVE stage per run): TrainSettings with its defaults written
// in the struct, train_schema() (project-file section "training", CLI flags, ranges, help), and
// apply_stage_defaults(), the one place where a stage's reference values are set (DIVE-FLAP.md §6,
// token budgets scaled to the demo model). Torch-free and Qt-free: the GUI includes it directly.
//   router   only router weights train; every expert runs on every token, gates softmax(logits / t)
//            with t = 0.05 for top-1, 0.5 for top-k >= 2; LR 1e-4 constant
//   experts  the model's own top-k routing; LoRA r 8, alpha 16, dropout 0.1 on every expert's
//            gate/up/down + routers + all RMSNorms; LR 1e-4, 3 % warm-up, cosine to 0.1x
//   extra    the released code's third stage: fresh LoRA on the merged model, LR 1e-5 constant
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/settings.h"
#include "eval/task_settings.h"  // embed_template_names(): training.prompt takes the evaluator's templates

namespace den2moe {

struct TrainSettings {
    std::string stage = "experts";  ///< router | experts | extra
    int64_t tokens = 2000000;       ///< training budget in input tokens (steps = tokens / tokens per step)
    int64_t seq_len = 256;          ///< tokens per window (packed from the train splits)
    int64_t batch = 8;              ///< windows per micro-batch
    int64_t grad_accum = 1;         ///< micro-batches per optimizer step
    // optimizer and schedule
    double lr = 1e-4;
    std::string schedule = "cosine";  ///< constant | cosine (linear warm-up, cosine to min_lr_ratio x lr)
    double warmup_ratio = 0.03;       ///< of the steps (ceil)
    double min_lr_ratio = 0.1;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weight_decay = 0.0;
    double clip = 1.0;  ///< global gradient-norm clip; 0 = off
    // what trains
    std::string trainable = "*.mlp.router.weight,*norm.weight";  ///< comma-separated globs over tensor names
    std::string frozen;                                          ///< globs removed from `trainable`
    int64_t lora_rank = 8;                                       ///< 0 = no LoRA
    double lora_alpha = 16;
    double lora_dropout = 0.1;
    std::string lora_targets = "gate_proj,up_proj,down_proj";  ///< module-name suffixes (PEFT's target_modules)
    bool lora_attention = false;                               ///< also q/k/v/o_proj
    // routing
    double temperature = 1.0;  ///< router stage: softmax temperature of the dense mixture
    /// "renormalized": DIVE / Mixtral, softmax over the selected logits (top-1: the gate is exactly 1,
    /// so the router gets no gradient); "probability": the selected experts' softmax probabilities
    /// over all experts (routers train with top-1; the saved model keeps this gate, norm_topk = false).
    std::string router_gate = "renormalized";
    bool drop_expert_bias = false;  ///< remove the FLAP down_proj biases first (exact Mixtral / Qwen2-MoE export)
    // data
    std::string domains;  ///< comma-separated project domains ("" = every enabled one)
    /// "" = uniform over tokens (every train window once per epoch, DIVE's pool); "equal" = each
    /// domain the same share; or "wiki=2,python=1,..." (unlisted domains weigh 0)
    std::string mixture;
    int64_t eval_every = 0;     ///< held-out loss every N steps (0 = 10 evaluations); also at start and end
    int64_t eval_windows = 4;   ///< held-out windows of seq_len tokens per domain (test split)
    int64_t save_every = 0;     ///< checkpoint every N steps (0 = 10 per run); also on cancel and at the end
    int64_t log_every = 1;      ///< loss-curve record every N steps
    int64_t seed = 42;          ///< data order and LoRA init / dropout
    std::string dtype = "auto";    ///< compute dtype: auto (bf16 where the CPU has fast bf16 GEMMs), fp32, bf16
    std::string device = "cpu";    ///< where the model trains: cpu, cuda, cuda:N
    std::string save_dtype = "keep";  ///< dtype of the written model: keep (the source's), fp32, bf16
    // embedding training (train/contrastive.h, pairs format in train/pairs.h)
    std::string loss = "lm";   ///< lm (next token on the project's windows) | infonce | cosmse (on `pairs`)
    std::string pairs;         ///< pairs file (JSON Lines) for infonce / cosmse
    double tau = 0.1;          ///< InfoNCE temperature (Den2MoEE's sparse phase: 0.1, DEN2MOEE.md §3.2)
    std::string pooling = "last";  ///< embedding of a text: last (final-norm state at the last token) | mean
    int64_t max_length = 64;   ///< tokens per text (BOS + text, the end kept, as the evaluator encodes)
    /// the tokenizer's EOS appended to every text (BOS text EOS), so last-token pooling reads the EOS
    /// state, as Qwen3-Embedding and TokenScore's samples do; recorded in the model's "embedding" record
    bool append_eos = false;
    /// the evaluator's template around every pair text (eval/prompts.h moee_prompt; "none" = "text.") so
    /// that training sees the token ids `den2moe eval --prompt P` pools; recorded in the "embedding" record
    std::string prompt = "none";
    std::string teacher;       ///< cosmse: model whose cosine of each pair is the label ("" = the pairs' labels)
    int64_t steps = 0;         ///< optimizer steps of infonce / cosmse (0 = one epoch over the pairs)
    /// infonce / cosmse: a term that keeps the START model's embedding geometry (e₀ = the embeddings
    /// of every pair text by the model as loaded, computed once before training), added with weight
    /// distill_weight: "embedding" = mean over the step's texts of 1 − cos(e, e₀); "similarity" =
    /// mean over all pairs (i, j) of the step's texts of (eᵢ·eⱼ − e₀ᵢ·e₀ⱼ)² (the Gram matrices, so
    /// any rotation of the space is free); "none" = off
    std::string distill = "none";
    double distill_weight = 1.0;
    // Den2MoEE's recovery (DEN2MOEE.md §1.3): the α ramp of the dense phase, the sparse phase's budget bias
    int64_t alpha_warmup = 30;   ///< den2moee-dense: α = largest of {0.3, 0.6, 1.0} <= (step-1)/this (0 before)
    int64_t sparse_top_k = 2;    ///< den2moee-sparse: experts per token among routed + null
    double budget_lr = 1e-3;     ///< η of the budget-bias update (0 = off)
    double budget_beta = 1.0;    ///< β: coverage weight w_i = 1 + β·budget_score_i
    double budget_ke = 2.0;      ///< K_e: target routed selections per token (the release: top_ke = 2)
    std::string budget_t_all = "routed";  ///< T_all: routed (the release's Σ T_i) | tokens (its probable intent)
    // data-parallel (several ranks; dist/reducer.h): when the summed gradients travel
    /// "overlap": float32 buckets all-reduced asynchronously while the step's last backward pass runs
    /// (DDP's Reducer); "after-backward": one bucketed all-reduce once every backward pass is done
    std::string grad_sync = "overlap";
    double bucket_mb = 25;  ///< gradient bucket size in MiB (DDP's bucket_cap_mb; the first bucket at most 1 MiB)
    /// Worker threads that share each micro-batch's windows inside one process (LM loss): each runs
    /// the forward and backward pass of its contiguous slice of rows with single-threaded ops, and
    /// the slices' gradients are summed in worker order (deterministic). 0 = auto (the intra-op
    /// thread count),
    /// 1 = off (one pass over the whole micro-batch, ops parallel inside).
    int64_t split_workers = 0;
};

inline const Schema<TrainSettings>& train_schema() {
    static const Schema<TrainSettings> s =
        Schema<TrainSettings>("training")
            .choice("stage", &TrainSettings::stage,
                    {"router", "experts", "extra", "embedding", "den2moee-dense", "den2moee-sparse"},
                    "DIVE stage: router (stage 1), experts (stage 2, LoRA), extra (fresh LoRA, LR 1e-5); "
                    "embedding (a dense model trained contrastively); Den2MoEE: den2moee-dense (routers, cos-MSE, "
                    "alpha ramp), den2moee-sparse (MoE blocks, InfoNCE, top-2, budget bias)")
            .integer("tokens", &TrainSettings::tokens, "training budget in tokens", 1)
            .integer("seq_len", &TrainSettings::seq_len, "tokens per training window", 2, 1 << 20)
            .integer("batch", &TrainSettings::batch, "windows per micro-batch", 1, 1 << 20)
            .integer("grad_accum", &TrainSettings::grad_accum, "micro-batches per optimizer step", 1, 1 << 20)
            .real("lr", &TrainSettings::lr, "peak learning rate", 0, 1, true)
            .choice("schedule", &TrainSettings::schedule, {"constant", "cosine"},
                    "learning-rate schedule (cosine: linear warm-up, then cosine to min-lr-ratio x lr)")
            .real("warmup_ratio", &TrainSettings::warmup_ratio, "warm-up share of the steps (cosine)", 0, 1)
            .real("min_lr_ratio", &TrainSettings::min_lr_ratio, "final LR / peak LR (cosine)", 0, 1)
            .real("beta1", &TrainSettings::beta1, "AdamW beta1", 0, 1, false, true)
            .real("beta2", &TrainSettings::beta2, "AdamW beta2", 0, 1, false, true)
            .real("eps", &TrainSettings::eps, "AdamW epsilon", 0, 1, true)
            .real("weight_decay", &TrainSettings::weight_decay, "AdamW decoupled weight decay", 0, 1)
            .real("clip", &TrainSettings::clip, "global gradient-norm clip (0 = off)", 0)
            .text("trainable", &TrainSettings::trainable,
                  "comma-separated globs of tensor names that train (* matches anything)")
            .text("frozen", &TrainSettings::frozen, "comma-separated globs removed from --trainable")
            .integer("lora_rank", &TrainSettings::lora_rank, "LoRA rank (0 = no LoRA)", 0, 4096)
            .real("lora_alpha", &TrainSettings::lora_alpha, "LoRA alpha (scale = alpha / rank)", 0, 1e6, true)
            .real("lora_dropout", &TrainSettings::lora_dropout, "LoRA input dropout", 0, 1, false, true)
            .text("lora_targets", &TrainSettings::lora_targets,
                  "LoRA on linear layers whose module name ends with one of these (comma-separated)")
            .flag("lora_attention", &TrainSettings::lora_attention, "LoRA on q/k/v/o_proj as well")
            .real("temperature", &TrainSettings::temperature,
                  "router stage: softmax temperature over all experts (DIVE: 0.05 top-1, 0.5 top-2)", 0, 1e6, true)
            .choice("router_gate", &TrainSettings::router_gate, {"renormalized", "probability"},
                    "top-k gates: renormalized (DIVE; top-1 routers get no gradient) or probability "
                    "(softmax over all experts; trains top-1 routers, saved with norm_topk = false)")
            .flag("drop_expert_bias", &TrainSettings::drop_expert_bias,
                  "remove the FLAP expert biases before training (exact Mixtral/Qwen2-MoE export)")
            .text("domains", &TrainSettings::domains, "comma-separated training domains (empty = all enabled)")
            .text("mixture", &TrainSettings::mixture,
                  "domain weights: empty = uniform over tokens, 'equal', or 'wiki=2,python=1'")
            .integer("eval_every", &TrainSettings::eval_every, "held-out loss every N steps (0 = 10 per run)", 0)
            .integer("eval_windows", &TrainSettings::eval_windows, "held-out windows per domain (test split)", 1,
                     1 << 20)
            .integer("save_every", &TrainSettings::save_every, "checkpoint every N steps (0 = 10 per run)", 0)
            .integer("log_every", &TrainSettings::log_every, "loss-curve record every N steps", 1)
            .integer("seed", &TrainSettings::seed, "seed of the data order, LoRA init and dropout", 0)
            .choice("dtype", &TrainSettings::dtype, {"auto", "fp32", "bf16"},
                    "compute dtype (auto: bf16 with fp32 master weights where the CPU has fast bf16 GEMMs)")
            .choice("save_dtype", &TrainSettings::save_dtype, {"keep", "fp32", "bf16"},
                    "dtype of the written model (keep = the source's)")
            .text("device", &TrainSettings::device, "where the model trains: cpu, cuda or cuda:N")
            .choice("loss", &TrainSettings::loss, {"lm", "infonce", "cosmse"},
                    "lm: next-token loss on the project's windows; infonce: contrastive on --pairs (in-batch "
                    "and hard negatives, temperature --tau); cosmse: (cos(query, positive) - label)^2")
            .text("pairs", &TrainSettings::pairs, "pairs file (JSON Lines, `den2moe pairs`) for infonce / cosmse")
            .real("tau", &TrainSettings::tau, "InfoNCE temperature (Den2MoEE: 0.1)", 0, 100, true)
            .choice("pooling", &TrainSettings::pooling, {"last", "mean"},
                    "text embedding: final hidden state at the last token, or the mean over tokens")
            .integer("max_length", &TrainSettings::max_length, "tokens per text for infonce / cosmse", 2, 1 << 20)
            .flag("append_eos", &TrainSettings::append_eos,
                  "infonce / cosmse: append the tokenizer's EOS to every text and pool there (Qwen3-Embedding's "
                  "encoding; recorded in the model, read by eval --embedding auto)")
            .choice("prompt", &TrainSettings::prompt, embed_template_names(),
                    "infonce / cosmse: format every pair text with this evaluation template (den2moe eval "
                    "--prompt; none wraps it as \"text.\"), so training and evaluation pool the same tokens")
            .text("teacher", &TrainSettings::teacher,
                  "cosmse: model folder whose cosine of each pair is the label (empty = the pairs' labels)")
            .integer("steps", &TrainSettings::steps,
                     "optimizer steps for infonce / cosmse (0 = one epoch over the pairs)", 0)
            .choice("distill", &TrainSettings::distill, {"none", "embedding", "similarity"},
                    "infonce / cosmse: keep the start model's embeddings: + weight x mean(1 - cos(e, e_start)) "
                    "(embedding) or mean((e_i.e_j - e_start_i.e_start_j)^2) over the step's texts (similarity)")
            .real("distill_weight", &TrainSettings::distill_weight,
                  "weight of the --distill term (lambda)", 0, 1e6)
            .integer("alpha_warmup", &TrainSettings::alpha_warmup,
                     "den2moee-dense: steps of the prior's alpha ramp 0 -> 0.3 -> 0.6 -> 1.0", 1, 1 << 30)
            .integer("sparse_top_k", &TrainSettings::sparse_top_k,
                     "den2moee-sparse: experts per token among routed + null", 1, 4096)
            .real("budget_lr", &TrainSettings::budget_lr, "den2moee-sparse: budget-bias step eta (0 = off)", 0, 1)
            .real("budget_beta", &TrainSettings::budget_beta, "den2moee-sparse: coverage weight beta", 0, 1e6)
            .real("budget_ke", &TrainSettings::budget_ke,
                  "den2moee-sparse: target routed selections per token K_e", 0, 4096)
            .choice("budget_t_all", &TrainSettings::budget_t_all, {"routed", "tokens"},
                    "den2moee-sparse: T_all of the budget update: routed selections (release) or tokens")
            .choice("grad_sync", &TrainSettings::grad_sync, {"overlap", "after-backward"},
                    "several ranks: all-reduce gradient buckets during the last backward pass (overlap, as DDP) "
                    "or after it")
            .real("bucket_mb", &TrainSettings::bucket_mb,
                  "several ranks: gradient bucket size in MiB (DDP's bucket_cap_mb; the first at most 1 MiB)", 0, 4096,
                  true)
            .integer("split_workers", &TrainSettings::split_workers,
                     "threads that split each micro-batch's windows (own forward + backward each, gradients summed "
                     "in a fixed order); 0 = auto (the thread count), 1 = off",
                     0, 1024);
    return s;
}

/// The stage's reference values (DIVE-FLAP.md §6) for everything the stage decides: LR and schedule,
/// what trains, LoRA, the router temperature (by the model's top-k: 0.05 for top-1, 0.5 otherwise)
/// and the token budget (scaled to the demo model: router 0.5 M, experts 2 M, extra 1 M). Call it
/// after setting `s.stage` and before the project's "training" section and the user's flags.
void apply_stage_defaults(TrainSettings& s, int64_t top_k);

/// Range and choice checks (the schema) plus the rules between fields; throws the house error.
void validate_train_settings(const TrainSettings& s);
/// Data-parallel over `world_size` ranks: each needs at least one of a step's batch x grad_accum
/// windows. The CLI calls it before it starts ranks; the trainer again with the job's world size.
void validate_data_parallel(const TrainSettings& s, int world_size);

/// Whether a training setting only decides how the work is shared (grad_sync, bucket_mb: how the
/// ranks exchange gradients; split_workers: how a micro-batch is split among threads): the numbers change
/// at most as under another world size (fp32 summation order; with LoRA dropout, the masks are drawn
/// per slice of windows as the ranks draw them), so a checkpoint resumes under another value.
bool train_setting_is_transport(const std::string& key);

/// Comma-separated list -> trimmed non-empty items.
std::vector<std::string> split_list(const std::string& s);
/// Glob match: '*' matches any run of characters (dots included), '?' one character.
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace den2moe
