// Greedy decoding: prefill the prompt into the KV cache, then one token per step (argmax; the
// first maximum wins, as run.c's argmax). The cache holds prompt + new tokens.
#include "model/generate.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // NoGradGuard: not reached through ATen.h in libtorch 2.x

#include <algorithm>

#include "core/error.h"
#include "core/run_context.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/llama.h"

namespace den2moe {

GenerationPlan plan_generation(const LlamaConfig& cfg, int64_t prompt_tokens, GenerateOptions opt) {
    D2M_CHECK(opt.max_new_tokens >= 0, InvalidInput, "-n (new tokens) must be >= 0, got ", opt.max_new_tokens);
    check_fits_context(cfg, prompt_tokens, "the prompt",
                       str("the prompt (with BOS) is ", prompt_tokens, " tokens; positions beyond the context were "
                           "never trained, so shorten it to at most ", cfg.max_position_embeddings, " tokens"));
    GenerationPlan plan;
    plan.options = opt;
    const int64_t room = cfg.max_position_embeddings - prompt_tokens;  // the last new token is not fed back
    if (opt.max_new_tokens > room + 1) {
        plan.options.max_new_tokens = room + 1;
        plan.warning = str("-n ", opt.max_new_tokens, " lowered to ", plan.options.max_new_tokens,
                           ": the prompt's ", prompt_tokens, " tokens and the new ones fill the model's context of ",
                           cfg.max_position_embeddings, " positions");
    }
    return plan;
}

std::vector<int> generate_greedy(const LlamaModel& model, const std::vector<int>& prompt,
                                 const GenerateOptions& opt, RunContext& ctx,
                                 const std::function<bool(int, int)>& on_token) {
    D2M_CHECK(!prompt.empty(), InvalidInput, "generate: the prompt holds no token",
              Hint{"encode with a BOS token so an empty prompt still has one"});
    const auto& cfg = model.config();
    // every position fed to the model is inside the context: the prompt and all new tokens but the last
    const int64_t capacity = (int64_t)prompt.size() + std::max<int64_t>(opt.max_new_tokens - 1, 0);
    check_fits_context(cfg, capacity, "prompt + new tokens", "plan_generation() lowers -n to what fits");
    KVCache cache = model.new_cache(1, capacity);
    ForwardOptions fo;
    fo.cache = &cache;
    fo.last_only = true;
    std::vector<int64_t> p(prompt.begin(), prompt.end());
    at::Tensor ids = at::tensor(p, at::kLong).unsqueeze(0);  // [1, P]
    std::vector<int> out;
    int prev = prompt.back();
    for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
        ctx.check_cancelled();
        at::Tensor logits = model.forward(ids, {}, fo);  // [1, 1, V]
        int next = (int)logits.view({-1}).argmax().item<int64_t>();
        if (opt.stop_at_bos && next == cfg.bos_token_id) break;
        if (opt.stop_at_eos && next == cfg.eos_token_id) break;
        out.push_back(next);
        if (on_token && !on_token(prev, next)) break;
        ctx.report("generate", step + 1, opt.max_new_tokens);
        prev = next;
        ids = at::full({1, 1}, (int64_t)next, at::kLong);
    }
    return out;
}

void write_logits_file(const LlamaModel& model, const std::vector<int>& ids, const std::string& path,
                       const std::map<std::string, std::string>& metadata) {
    D2M_CHECK(!ids.empty(), InvalidInput, "logits: no tokens to run", " for ", path,
              Hint{"give a prompt (the ids include BOS only when the tokenizer adds it)"});
    at::Tensor row = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong);  // [T]
    at::Tensor logits;
    {
        at::NoGradGuard no_grad;
        logits = model.forward(row.unsqueeze(0))[0].to(at::kFloat).contiguous();  // [T, V]
    }
    save_safetensors(path, {{"input_ids", row}, {"logits", logits}}, metadata);
}

}  // namespace den2moe
