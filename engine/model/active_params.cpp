// active_params_per_token / ffn_shapes (see model/active_params.h): the count per token of each part.
#include "model/active_params.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/error.h"
#include "io/hf_config.h"
#include "model/llama.h"
#include "model/moe.h"

namespace den2moe {

ActiveParams active_params_per_token(const LlamaConfig& c, const std::vector<FfnShape>& layers) {
    D2M_CHECK(static_cast<int64_t>(layers.size()) == c.n_layer, InvalidInput, "active parameters: ", layers.size(),
              " FFN shapes for a model of ", c.n_layer, " layers");
    const int64_t D = c.n_embd;
    const int64_t dh = c.head_dim > 0 ? c.head_dim : (c.n_head > 0 ? D / c.n_head : 0);
    const int64_t q = c.n_head * dh, kv = (c.n_head_kv > 0 ? c.n_head_kv : c.n_head) * dh;
    ActiveParams a;
    a.embedding_row = D;
    a.lm_head = c.vocab_size * D;
    a.norms = 2 * D * c.n_layer + D;
    const int64_t attn = D * q + 2 * D * kv + q * D + (c.qkv_bias ? q + 2 * kv : 0) + (c.qk_norm ? 2 * dh : 0);
    a.attention = attn * c.n_layer;
    auto swiglu = [&](int64_t width, bool bias) { return 3 * D * width + (bias ? D : 0); };
    for (const FfnShape& f : layers) {
        if (f.n_experts == 0) {
            a.ffn += swiglu(f.expert_width, f.expert_bias);
            continue;
        }
        const int64_t k = f.all_experts ? f.n_experts : std::min(f.top_k, f.n_experts);
        a.ffn += k * swiglu(f.expert_width, f.expert_bias);
        if (f.shared_width > 0) a.ffn += swiglu(f.shared_width, false);
        a.router += (f.n_experts + f.n_null) * D + (f.shared_gate ? D : 0);
    }
    return a;
}

std::vector<FfnShape> ffn_shapes(const LlamaModel& model) {
    std::vector<FfnShape> out;
    for (int il = 0; il < model.config().n_layer; ++il) {
        FfnShape f;
        if (const auto* moe = dynamic_cast<const MoeFfn*>(&model.ffn(il))) {
            const RouterSpec& r = moe->router();
            f.n_experts = moe->n_experts();
            f.n_null = r.n_null();
            f.top_k = r.top_k;
            f.all_experts = r.dense;
            for (int64_t e = 0; e < f.n_experts; ++e) {
                f.expert_width = std::max(f.expert_width, moe->expert(e).width());
                f.expert_bias = f.expert_bias || moe->expert(e).down_bias().defined();
            }
            if (moe->shared_expert()) f.shared_width = moe->shared_expert()->width();
            f.shared_gate = r.shared_gate.defined();
        } else if (const auto* d = dynamic_cast<const SwiGluFfn*>(&model.ffn(il))) {
            f.expert_width = d->width();
            f.expert_bias = d->down_bias().defined();
        } else {
            D2M_FAIL(Internal, "active parameters: layer ", il, " has an FFN of unknown kind");
        }
        out.push_back(f);
    }
    return out;
}

}  // namespace den2moe
