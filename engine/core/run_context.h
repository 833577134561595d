// RunContext: what every long engine job takes — a cancel token, a progress sink, and observers on
// named tensors (hook sites). The CLI and the GUI drive jobs through the same object.
// Cancel is cooperative: loops call check_cancelled() at safe points (between batches/layers);
// it throws den2moe::Cancelled, which is not an Error.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
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

class CancelToken {
public:
    CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
    void cancel() const { flag_->store(true); }
    void reset() const { flag_->store(false); }
    bool cancelled() const { return flag_->load(std::memory_order_relaxed); }
    /// The shared flag itself, for a signal handler (a lock-free atomic store is signal-safe).
    std::atomic<bool>* raw_flag() const { return flag_.get(); }

private:
    std::shared_ptr<std::atomic<bool>> flag_;
};

struct Progress {
    std::string stage;      ///< e.g. "statistics", "evaluation"
    int64_t step = 0;       ///< units done in this stage
    int64_t total = 0;      ///< units in this stage (0 = unknown)
    std::string message;    ///< free text, e.g. the domain name
    double elapsed_s = 0;   ///< since the stage began
    double eta_s = -1;      ///< estimated seconds left in the stage, -1 = unknown
};

class RunContext {
public:
    using ProgressFn = std::function<void(const Progress&)>;

    CancelToken cancel;
    ProgressFn on_progress;
    ObserverSet observers;

    /// Throws Cancelled if the token was tripped.
    void check_cancelled() const;
    /// Report progress; ETA is derived from the time since this stage's first report.
    void report(const std::string& stage, int64_t step, int64_t total, const std::string& message = {});

private:
    std::string stage_;
    std::chrono::steady_clock::time_point stage_start_{};
    int64_t stage_first_step_ = 0;
};

/// A context for callers that need none of it.
RunContext& null_context();

}  // namespace den2moe
