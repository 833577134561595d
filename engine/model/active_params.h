// Parameters one token's forward pass uses, by part: the embedding row, attention, norms, the FFN part
// a token runs (a dense FFN; or the shared expert + top-k routed experts of the widest width, an upper
// bound when the null expert takes a slot or widths differ; every expert in dense mode), the router,
// and the LM head. Pure arithmetic on the config and the FFN shapes (hand-checked in
// tests/engine/model/test_active_params.cpp); ffn_shapes() reads the shapes off a loaded model. Torch-free.
#pragma once

#include <cstdint>
#include <vector>

namespace den2moe {

struct LlamaConfig;
class LlamaModel;

/// One layer's FFN as it runs per token.
struct FfnShape {
    int64_t n_experts = 0;     ///< routed experts; 0 = a dense FFN of `expert_width` channels
    int64_t n_null = 0;        ///< zero-output experts in the routing pool (Den2MoEE)
    int64_t top_k = 0;         ///< slots per token over routed + null
    int64_t expert_width = 0;  ///< the widest routed expert (or the dense FFN's width)
    int64_t shared_width = 0;  ///< always-on shared expert (0 = none)
    bool all_experts = false;  ///< dense mode: every routed expert runs
    bool expert_bias = false;  ///< each expert's down_proj has a bias [D] (FLAP compensation)
    bool shared_gate = false;  ///< Qwen2-MoE's sigmoid gate of the shared expert [D]
};

struct ActiveParams {
    int64_t embedding_row = 0;  ///< the token's embedding row (D)
    int64_t attention = 0;      ///< q/k/v/o (+ q/k/v biases, per-head q/k norms) over all layers
    int64_t norms = 0;          ///< two RMSNorms per layer + the final norm
    int64_t ffn = 0;            ///< the experts (or dense FFNs) a token runs, over all layers
    int64_t router = 0;         ///< router rows (routed + null) × D (+ the shared gate), over all layers
    int64_t lm_head = 0;        ///< V × D (an embedding model does not use it)
    /// What the demo tables report: everything but the embedding row and the LM head.
    int64_t non_embedding() const { return attention + norms + ffn + router; }
    int64_t total() const { return non_embedding() + embedding_row + lm_head; }
};

/// `layers` holds one FfnShape per layer (cfg.n_layer of them).
ActiveParams active_params_per_token(const LlamaConfig& cfg, const std::vector<FfnShape>& layers);

/// The FfnShape of each layer of a loaded (dense or MoE) model.
std::vector<FfnShape> ffn_shapes(const LlamaModel& model);

}  // namespace den2moe
