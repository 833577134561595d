// Greedy generation with the KV cache, token by token, with llama2.c run.c's loop semantics:
// the prompt is prefilled, then the argmax token is appended until max_new_tokens, BOS (run.c's
// sequence delimiter) or, optionally, EOS.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace den2moe {

class LlamaModel;
class RunContext;

struct GenerateOptions {
    int64_t max_new_tokens = 64;
    bool stop_at_eos = true;
    bool stop_at_bos = true;
};

/// Returns the new tokens (not the prompt). `on_token(prev, next)` is called for each new token
/// (for streaming output); returning false stops.
std::vector<int> generate_greedy(const LlamaModel& model, const std::vector<int>& prompt,
                                 const GenerateOptions& opt, RunContext& ctx,
                                 const std::function<bool(int prev, int next)>& on_token = {});

}  // namespace den2moe
