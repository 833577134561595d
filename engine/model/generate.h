// Greedy generation with the KV cache, token by token, with llama2.c run.c's loop semantics:
// the prompt is prefilled, then the argmax token is appended until max_new_tokens, BOS (run.c's
// sequence delimiter) or, optionally, EOS. write_logits_file: one full (cache-free) forward pass
// over given ids, saved for outside tools to compare with (tests/interop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace den2moe {

class LlamaModel;
class RunContext;
struct LlamaConfig;

struct GenerateOptions {
    int64_t max_new_tokens = 64;
    bool stop_at_eos = true;
    bool stop_at_bos = true;
};

/// `opt` made to fit the model's context before any work: a prompt longer than the context is refused
/// (Error(InvalidInput): positions beyond it were never trained, what comes out is not the model's —
/// llama.cpp refuses too); prompt + new tokens beyond it lower max_new_tokens to what fits (llama2.c
/// run.c clamps its steps the same way), with `warning` saying so. The KV cache is sized from this.
struct GenerationPlan {
    GenerateOptions options;
    std::string warning;  ///< "" when nothing was lowered
};
GenerationPlan plan_generation(const LlamaConfig& cfg, int64_t prompt_tokens, GenerateOptions opt);

/// Returns the new tokens (not the prompt). `on_token(prev, next)` is called for each new token
/// (for streaming output); returning false stops. Throws Error(InvalidInput) when prompt + max_new_tokens
/// do not fit the context (plan_generation() first).
std::vector<int> generate_greedy(const LlamaModel& model, const std::vector<int>& prompt,
                                 const GenerateOptions& opt, RunContext& ctx,
                                 const std::function<bool(int prev, int next)>& on_token = {});

/// One forward pass over `ids` (a single row, no cache, fp32 logits) written atomically to the
/// safetensors file `path`: "input_ids" [T] int64 and "logits" [T, V] float32, plus `metadata`.
void write_logits_file(const LlamaModel& model, const std::vector<int>& ids, const std::string& path,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace den2moe
