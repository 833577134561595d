// Gradient all-reduce overlapped with the backward pass, as PyTorch's DDP Reducer does it: the
// trainable tensors (row blocks of autograd leaves) are packed into float32 buckets of at most
// `bucket_bytes` (the first at most 1 MiB, DDP's first-bucket size) in the order their gradients are
// expected to become final (the caller's order: the backward order), and an autograd hook on every
// leaf fills its slots while the step's last backward pass runs; a bucket whose slots are all filled
// is all-reduced asynchronously (c10d Work), strictly in bucket order so that every rank issues the
// same collectives in the same order. finish() fills the slots no hook reached (a leaf this rank's
// last micro-batch did not touch: its earlier gradient, or zeros), starts the remaining buckets and a
// last one with the has-gradient flags and the caller's extra sums, and waits for all of them.
// libtorch 1.13's Tensor::register_hook on a leaf fires before the gradient is accumulated into
// .grad: the slot receives .grad + the incoming gradient, the sum AccumulateGrad then forms.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "dist/comm.h"

namespace den2moe::dist {

/// One trainable tensor: rows [row0, row0 + rows) of leaf `leaf` (the whole leaf when `whole`).
struct GradSlice {
    size_t leaf = 0;
    int64_t row0 = 0, rows = 0;
    bool whole = true;
};

/// Which slices go in which bucket: `order` (slice indices, earliest-ready first) cut into runs of at
/// most `bucket_bytes` of float32 (the first run at most min(bucket_bytes, 1 MiB)); a slice larger
/// than a bucket gets a bucket of its own. Pure; the same on every rank.
std::vector<std::vector<size_t>> assign_buckets(const std::vector<int64_t>& numels, const std::vector<size_t>& order,
                                                int64_t bucket_bytes);

struct ReducerStats {
    int64_t buckets = 0;              ///< gradient buckets per step (the flag bucket not counted)
    int64_t steps = 0;                ///< finish() calls
    int64_t started_in_backward = 0;  ///< buckets started by a hook, summed over steps
    int64_t started_after = 0;        ///< buckets started by finish(), summed over steps
};

class Reducer {
public:
    /// Hooks every leaf of `slices` (they must require gradients). `order`: every slice index once.
    Reducer(Communicator& comm, std::vector<at::Tensor> leaves, std::vector<GradSlice> slices,
            const std::vector<size_t>& order, int64_t bucket_bytes);
    ~Reducer();  ///< removes the hooks (the leaves may outlive the reducer)
    Reducer(const Reducer&) = delete;
    Reducer& operator=(const Reducer&) = delete;

    /// The next backward pass is this rank's last of the step: its hooks fill and start buckets.
    void arm();
    struct Result {
        std::vector<at::Tensor> grads;  ///< per slice, float32 on the CPU, summed over ranks (views of buckets)
        std::vector<bool> has_grad;     ///< whether any rank's gradient reached the slice's leaf
        std::vector<double> extras;     ///< the caller's `extras`, summed over ranks
    };
    /// After this rank's last backward of the step (or none): fills and starts what is left, waits.
    Result finish(const std::vector<double>& extras);
    const ReducerStats& stats() const { return stats_; }
    const std::vector<std::vector<size_t>>& buckets() const { return buckets_; }

private:
    void on_grad(size_t leaf, const at::Tensor& incoming);
    void fill(size_t slice, const at::Tensor& leaf_grad);  // leaf_grad undefined: zeros, no flag
    void start_ready();                                    // the buckets that are full, in order
    void reset_step();                                     // no slot filled, no bucket started

    Communicator& comm_;
    std::vector<at::Tensor> leaves_;
    std::vector<GradSlice> slices_;
    std::vector<std::vector<size_t>> buckets_;     // slice indices
    std::vector<std::vector<size_t>> leaf_slices_;  // per leaf, its slices
    std::vector<size_t> bucket_of_;                 // per slice
    std::vector<int64_t> offset_, numel_;           // per slice: in its bucket, its elements
    std::vector<at::Tensor> flat_;                  // per bucket, float32 [n]
    std::vector<unsigned> hook_ids_;
    // per step
    std::mutex mu_;
    bool armed_ = false;
    std::vector<char> filled_;           // per slice
    std::vector<int64_t> missing_;       // per bucket: slices not yet filled
    std::vector<double> flags_;          // per slice: 1 when this rank has a gradient
    size_t next_ = 0;                    // the next bucket to start
    bool in_backward_ = false;
    std::vector<std::unique_ptr<PendingCollective>> pending_;
    ReducerStats stats_;
};

}  // namespace den2moe::dist
