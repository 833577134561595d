// Recovery training of a converted model (DIVE's stages, DIVE-FLAP.md §6), as the CLI and the app
// run it: run_training() validates everything, loads the model and the project's data, trains the
// stage's parameters with AdamW (fp32 master weights; bf16 compute where the CPU has fast bf16
// GEMMs), evaluates the held-out loss on the test splits, checkpoints atomically, and writes a
// plain native model folder (LoRA merged) that ppl / route / export / the app load.
// Output folder: model.safetensors, moe_config.json, tokenizer, provenance.json (stages, settings,
// data hashes), train_log.jsonl (loss curve and held-out evaluations), train.json (summary) and
// checkpoint.safetensors (weights, LoRA, AdamW moments, step, data cursor, dropout RNG).
// A run killed at any point and resumed with `resume` ends with the same weights, bit for bit
// (same thread count). The source model and the project are never modified.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/train_settings.h"

namespace den2moe {

class LlamaModel;
class LoraSet;
class RunContext;
class Tokenizer;
struct Project;
struct TrainCorpus;
struct TextPair;

/// Held-out loss per domain (mean NLL over the test windows' predictions) and overall (token-weighted).
struct HeldOut {
    std::vector<std::string> domains;
    std::vector<double> loss;
    double mean = 0;
    nlohmann::json to_json() const;
};

/// The model, data and optimizer state of one stage, step by step (run_training drives it; tests
/// and the benchmark call it directly).
class Trainer {
public:
    /// Validates the settings, loads the model from `model_dir` (a native folder written by convert
    /// or train, or a dense Hugging Face folder) and the project's data, selects the parameters and
    /// adds LoRA. Writes nothing. `s` must have had apply_stage_defaults() applied.
    Trainer(const Project& project, const std::string& model_dir, const TrainSettings& s, RunContext& ctx);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    const TrainSettings& settings() const;
    int64_t total_steps() const;
    int64_t step() const;               ///< optimizer steps done
    int64_t tokens_per_step() const;
    std::vector<std::string> notes() const;  ///< what the stage does that a user should know (top-1 routers, ...)
    std::string source_hash() const;
    const TrainCorpus& corpus() const;

    /// One optimizer step on the next windows of the data order (forward, backward, NaN/Inf guard,
    /// clipping, AdamW, master -> compute copy). Returns the step's mean loss. Data-parallel (the
    /// process-wide dist::world() has several ranks): the step's batch x grad_accum windows are
    /// shared by the ranks and their float32 gradients summed (bucketed all-reduce) before clipping,
    /// so every rank makes the same update as one process would (fp32 summation order aside).
    double train_step();
    /// How the gradients travelled between ranks so far: mode (single | overlap | after-backward), and
    /// for overlap the buckets per step, the steps, and the buckets started by the backward pass's
    /// hooks vs after it (summed over steps).
    nlohmann::json grad_sync_stats() const;
    /// How micro-batches were split among worker threads so far (settings.split_workers): the setting, the
    /// intra-op thread count, the micro-batches split, the most workers one used (1 = none split).
    nlohmann::json split_stats() const;
    /// A hash of every master tensor's sum and step count: equal on all ranks while they agree.
    std::string replica_fingerprint() const;
    /// Mean loss of `ids` [B, T] scaled by `weight` and back-propagated into the gradients (no update);
    /// split among worker threads as train_step() splits a micro-batch (settings.split_workers).
    double accumulate(const at::Tensor& ids, double weight = 1.0);
    /// Embedding losses (loss infonce / cosmse): the loss of pairs `pairs` (indices into pairs()),
    /// scaled by `weight` and back-propagated into the gradients (no update).
    double accumulate_pairs(const std::vector<int64_t>& pairs, double weight = 1.0);
    /// The pairs file's pairs (labels filled in by the teacher for cosmse --teacher) and their token
    /// ids: [pair][query, positive, negatives...].
    const std::vector<TextPair>& pairs() const;
    const std::vector<std::vector<std::vector<int>>>& pair_tokens() const;
    /// Embeddings [N, D] float32 (pooled, L2-normalised) of texts by the model being trained.
    at::Tensor embeddings(const std::vector<std::string>& texts) const;
    /// Real tokens the last train_step() ran (all ranks; LM: its windows' tokens).
    int64_t last_step_tokens() const;
    /// Float32 gradients of every trainable tensor (HF names; LoRA as "<module>.lora_A.weight").
    std::map<std::string, at::Tensor> gradients() const;
    /// Float32 master values of every trainable tensor, by name.
    std::map<std::string, at::Tensor> parameters() const;
    void zero_grad();
    /// The last step's learning rate and global gradient norm (before clipping).
    double last_lr() const;
    double last_grad_norm() const;

    /// Held-out loss on the test windows with the saved model's routing (no dropout, no gradients);
    /// data-parallel: each rank evaluates every W-th batch and the sums are all-reduced.
    HeldOut evaluate();
    /// Logits of the model being trained, in its Train mode (adapters on, dropout off).
    at::Tensor logits(const at::Tensor& ids);

    void save_checkpoint(const std::string& path, const nlohmann::json& extra) const;
    /// Restores a checkpoint after checking it belongs to this model, data and settings; returns its extra JSON.
    nlohmann::json load_checkpoint(const std::string& path);

    /// The trained model in the source's format: LoRA merged into its weights, trained tensors from
    /// their masters, everything else the source's own bytes; moe_config.json updated.
    void write_model(const std::string& dir, const nlohmann::json& training_record) const;
    /// The model being trained (its routing is the stage's), and its LoRA set (nullptr without).
    const LlamaModel& model() const;
    LoraSet* lora();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct TrainResult {
    std::string out_dir;
    int64_t steps = 0, tokens = 0;
    int64_t resumed_from = -1;  ///< the checkpoint's step, -1 = a fresh run
    HeldOut before, after;
    double seconds = 0;
    std::vector<std::string> notes;
};

/// The whole job: validate (settings, model, out folder) before any work, train, write `out_dir`.
/// `resume` continues from out_dir/checkpoint.safetensors. Cancel writes a checkpoint and throws
/// Cancelled. Progress: stages "data", "train" (metrics loss, lr, tokens_per_s, grad_norm) and
/// "evaluation" (held_out_loss). `log` receives one-line notes (what the stage does, resumption).
TrainResult run_training(const Project& project, const std::string& model_dir, const TrainSettings& s,
                         const std::string& out_dir, bool resume, RunContext& ctx,
                         const std::function<void(const std::string&)>& log = {});

/// The model's top-k as apply_stage_defaults needs it (0 for a dense model): moe_config.json of a
/// native folder, 0 otherwise.
int64_t model_top_k(const std::string& model_dir);

/// The project's "training" section (the keys it sets) applied onto `s` (absent: nothing changes).
void apply_project_training(TrainSettings& s, const Project& project);

}  // namespace den2moe
