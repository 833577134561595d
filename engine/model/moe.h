// The MoE feed-forward block: a linear router per layer, top-k with the softmax renormalised over
// the selected logits (DIVE/Mixtral semantics; top-1 weight is exactly 1), or a dense mixture over
// all experts (router training), optional always-on shared expert. Tokens are grouped by expert
// (one sort, one gather and one index_add per expert; no per-token loops). Router logits and the
// routing weights are emitted at the hook sites router_logits / router_probs ([B, T, E]).
// Each expert's whole output, its bias included, is scaled by its gate weight (DIVE-FLAP.md §5.3).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "model/llama.h"

namespace den2moe {

struct RouterSpec {
    enum class Gate {
        /// Mixtral / DIVE: softmax over the selected logits (= softmax over all, renormalised over the
        /// top-k); with norm_topk = false the raw softmax(all) values are kept (Qwen2-MoE's default).
        Softmax,
        /// Den2MoEE (DEN2MOEE.md §1.3): p = softmax([W·x + α·P·x ; W_null·x]) over routed + null, no
        /// temperature; selection on p + [select_bias ; 0] (probabilities, not logits); gates = p at the
        /// selected entries, routed ones renormalised over the selected routed entries (norm_topk), all
        /// × routed_scale; null experts output zero.
        Den2MoEE,
    };
    at::Tensor weight;          ///< [E, D], no bias
    int64_t top_k = 1;          ///< among routed (+ null) experts
    double temperature = 1.0;   ///< Softmax gate: temperature over the selected (or all) logits
    bool dense = false;         ///< all experts selected (router training; Den2MoEE's dense phase)
    Gate gate = Gate::Softmax;
    bool norm_topk = true;      ///< renormalise the selected (routed) weights to sum 1
    at::Tensor prior;           ///< [E, D] Den2MoEE prototypes P (optional)
    double prior_scale = 0.0;   ///< α: logits += α·P·x
    at::Tensor null_weight;     ///< [N, D] null-expert logit rows (Den2MoEE; optional)
    at::Tensor select_bias;     ///< [E] added to the routed probabilities for selection only (optional)
    double routed_scale = 1.0;  ///< gates × this (Den2MoEE: n_routed)
    at::Tensor shared_gate;     ///< [1, D]: shared expert output × sigmoid(x·gᵀ) (Qwen2-MoE); optional

    int64_t n_null() const { return null_weight.defined() ? null_weight.size(0) : 0; }
};

/// Slots [lo, hi) of the expert-sorted slot buffer, all of expert e.
struct SlotPiece {
    int64_t e, lo, hi;
};

/// How the row-parallel CPU path shares the experts' work among `nt` threads, on a cost model of
/// SwiGluFfn::forward_rows (a piece of n slots costs n plus a fixed cost per GEMM block of rows).
/// `first` [E + 1]: expert e's slots are [first[e], first[e + 1]). Whole experts go to threads
/// costliest first, each to the cheapest thread (LPT); then, while the costliest thread is over the
/// cheapest by more than one block's fixed cost plus 2 * `min_move` slots, it hands slots cut from
/// its biggest piece to the cheapest (at most 2 * nt hand-overs). Every slot is in exactly one piece;
/// a thread's pieces are in slot order.
std::vector<std::vector<SlotPiece>> moe_thread_shares(const std::vector<int64_t>& first, int nt, int64_t min_move);

class MoeFfn : public FeedForward {
public:
    MoeFfn(std::vector<std::shared_ptr<const SwiGluFfn>> experts, RouterSpec router,
           std::shared_ptr<const SwiGluFfn> shared, at::ScalarType dtype);
    at::Tensor forward(const at::Tensor& x, int il, const FfnContext& fc) const override;
    /// The Train mode (model/moe_train.cpp): router logits from router.weight (+ α·prior, + null rows)
    /// itself, gates by softmax (a top-k > 1 or dense router gets gradients; DIVE's top-1 gate is
    /// softmax over one logit, exactly 1), tokens grouped by expert with index_select and summed back
    /// with index_add; experts and shared expert through SwiGluFfn::forward_train (adapters apply).
    at::Tensor forward_train(const at::Tensor& x, int il, const FfnContext& fc) const override;
    std::shared_ptr<const FeedForward> to(const at::Device& device) const override;
    /// The same experts (shared, not copied) and router tensors with other routing settings: `spec`
    /// replaces the router (its tensors are taken as given). For stage-specific routing in training.
    std::shared_ptr<MoeFfn> with_router(RouterSpec spec) const;
    void named_tensors(const std::string& prefix, std::map<std::string, at::Tensor>& out) const override;
    std::string kind() const override { return "moe"; }
    int64_t n_params() const override;
    int64_t n_active_params() const override;

    int64_t n_experts() const { return static_cast<int64_t>(experts_.size()); }
    int64_t top_k() const { return router_.top_k; }
    const SwiGluFfn& expert(int64_t e) const { return *experts_.at(static_cast<size_t>(e)); }
    const SwiGluFfn* shared_expert() const { return shared_.get(); }
    const at::Tensor& router_weight() const { return router_.weight; }
    const RouterSpec& router() const { return router_; }

    /// Routing of flattened tokens x [N, D]: float weights [N, E] over the routed experts (0 for
    /// unselected ones and for the null experts' slots) and the float logits [N, E + n_null].
    void route(const at::Tensor& x, at::Tensor* weights, at::Tensor* logits) const;

    /// D2M_MOE_DISPATCH=index_add selects the previous per-expert index_add_ dispatch (benchmarks).
    static bool legacy_dispatch();
    /// D2M_MOE_EXPERT_PARALLEL=0 runs the experts one after the other, each GEMM multi-threaded.
    static bool expert_parallel();

private:
    struct Routing {
        at::Tensor logits;        ///< [N, E + n_null] float
        at::Tensor idx;           ///< [N, k] int64 in [0, E]; E = no expert (a null slot)
        at::Tensor gates;         ///< [N, k] float
        bool unit_gates = false;  ///< every gate is exactly 1 (top-1 softmax)
        at::Tensor dense_weights(int64_t E) const;  ///< [N, E]
    };
    Routing route_sparse(const at::Tensor& x) const;
    bool host_routable(const at::Tensor& x) const;  ///< Softmax gate on the CPU, top_k <= 8
    void route_topk_host(const at::Tensor& x, Routing& r) const;
    void route_rows(const at::Tensor& x, Routing& r, int64_t n0, int64_t n1) const;  ///< tokens [n0, n1)
    void logits_into(const at::Tensor& x, at::Tensor& out) const;  ///< float32 router logits of rows x
    /// Expert-sorted slot buffers of the row-parallel CPU path, shared by its threads.
    struct Dispatch {
        const int64_t* tok = nullptr;  ///< the token of each slot
        at::Tensor xs;                 ///< [P, D] token rows in slot order
        at::Tensor ys;                 ///< [P, D] expert outputs (top-1; k > 1 writes to routed)
        at::Tensor routed;             ///< [N, D] by token (top-1) or [P, D] by slot
        at::Tensor gates;              ///< [P] in slot order, compute dtype; undefined when all are 1
        const char* x = nullptr;       ///< token rows to gather from
        size_t row_bytes = 0;
        int64_t k = 1;
    };
    void run_slots(const Dispatch& d, const std::vector<SlotPiece>& share) const;

    std::vector<std::shared_ptr<const SwiGluFfn>> experts_;
    RouterSpec router_;
    at::Tensor w_logits_;  // [E + N, D] float32: weight + α·prior, then the null rows (what one linear computes)
    std::shared_ptr<const SwiGluFfn> shared_;
};

/// Naive reference: every token through every selected expert one at a time (tests only).
at::Tensor moe_forward_reference(const MoeFfn& moe, const at::Tensor& x);

}  // namespace den2moe
