// Greedy generation with the KV cache, token by token, with llama2.c run.c's loop semantics:
// the prompt is prefilled, then the argmax token is appended until max_new_tokens, BOS (run.c's
// sequence delimiter) or, optionally, EOS.
#pragma once

#include <cstdint>
#include <functional>
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

}  // namespace den2moe
