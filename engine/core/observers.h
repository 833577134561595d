// Observers on named tensors (hook sites) of the forward pass: calibration statistics, routing
// traces, embeddings and debugging dumps subscribe to a site name and a layer instead of copying the
// forward pass (llama.cpp's named callbacks). They travel in ForwardOptions::observers, the one way to
// pass them; a RunContext carries no observers.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace den2moe {

/// Named hook sites of the forward pass. A site plus a layer index names one tensor.
namespace site {
constexpr const char* kLayerInp = "layer_inp";         ///< residual stream entering layer il   [B, T, D]
constexpr const char* kAttnOut = "attn_out";           ///< output of o_proj                     [B, T, D]
constexpr const char* kFfnInp = "ffn_inp";             ///< post-attention RMSNorm output = FFN input [B, T, D]
constexpr const char* kFfnAct = "ffn_act";             ///< silu(gate(x)) * up(x) = down_proj input [B, T, F]
constexpr const char* kFfnOut = "ffn_out";             ///< FFN (or MoE block) output            [B, T, D]
constexpr const char* kLayerOut = "layer_out";         ///< residual stream leaving layer il     [B, T, D]
constexpr const char* kFinalHidden = "final_hidden";   ///< after the final RMSNorm (layer = -1)  [B, T, D]
constexpr const char* kRouterLogits = "router_logits"; ///< MoE router logits                    [B, T, E]
constexpr const char* kRouterProbs = "router_probs";   ///< MoE routing weights after top-k      [B, T, E]
/// Attention probabilities of the last query position (slot T−1 of the call), averaged over the
/// heads, float32 [B, Tk] (Tk = cached + new keys; padded keys 0). Computed with ATen only when
/// observed (the fused softmax keeps no probabilities); Infer path only. TokenScore's SCS reads it
/// at the last layer: with left padding (or none) the last position is the pooled final token.
constexpr const char* kLastAttn = "last_attn";
}  // namespace site

/// One observed tensor. `token_mask` is [B, T] bool (true = real token) or undefined when no padding.
struct HookEvent {
    const char* site;
    int layer;  ///< -1 for model-level sites
    const at::Tensor& tensor;
    const at::Tensor& token_mask;
};

class ObserverSet {
public:
    using Fn = std::function<void(const HookEvent&)>;
    /// Subscribe to `site` at `layer` (-1 = every layer). Returns an id for remove().
    int add(std::string site, Fn fn, int layer = -1);
    void remove(int id);
    void clear();
    bool empty() const { return entries_.empty(); }
    /// Cheap test so the forward pass materialises nothing nobody observes.
    bool wants(const char* site, int layer) const;
    void emit(const char* site, int layer, const at::Tensor& t, const at::Tensor& token_mask) const;

private:
    struct Entry {
        int id;
        std::string site;
        int layer;
        Fn fn;
    };
    std::vector<Entry> entries_;
    int next_id_ = 1;
};

/// RAII subscription: removes the observer when it goes out of scope.
class ScopedObserver {
public:
    ScopedObserver(ObserverSet& set, std::string site, ObserverSet::Fn fn, int layer = -1)
        : set_(&set), id_(set.add(std::move(site), std::move(fn), layer)) {}
    ~ScopedObserver() { if (set_) set_->remove(id_); }
    ScopedObserver(const ScopedObserver&) = delete;
    ScopedObserver& operator=(const ScopedObserver&) = delete;

private:
    ObserverSet* set_;
    int id_;
};

}  // namespace den2moe
