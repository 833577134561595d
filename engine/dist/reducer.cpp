// The overlapped gradient all-reduce: see dist/reducer.h.
#include "dist/reducer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>

#include "core/error.h"

namespace den2moe::dist {

namespace {
constexpr int64_t kFirstBucketBytes = int64_t(1) << 20;  // DDP's _DEFAULT_FIRST_BUCKET_BYTES
}

std::vector<std::vector<size_t>> assign_buckets(const std::vector<int64_t>& numels, const std::vector<size_t>& order,
                                                int64_t bucket_bytes) {
    D2M_CHECK(bucket_bytes > 0, Internal, "assign_buckets: bucket size ", bucket_bytes, " bytes");
    std::vector<std::vector<size_t>> out;
    int64_t used = 0, cap = std::min(bucket_bytes, kFirstBucketBytes);
    for (size_t i : order) {
        D2M_CHECK(i < numels.size(), Internal, "assign_buckets: slice ", i, " of ", numels.size());
        const int64_t b = numels[i] * 4;  // float32
        if (out.empty() || (used > 0 && used + b > cap)) {
            if (!out.empty()) cap = bucket_bytes;
            out.emplace_back();
            used = 0;
        }
        out.back().push_back(i);
        used += b;
    }
    return out;
}

Reducer::Reducer(Communicator& comm, std::vector<at::Tensor> leaves, std::vector<GradSlice> slices,
                 const std::vector<size_t>& order, int64_t bucket_bytes)
    : comm_(comm), leaves_(std::move(leaves)), slices_(std::move(slices)) {
    const size_t S = slices_.size();
    std::vector<char> seen(S, 0);
    D2M_CHECK(order.size() == S, Internal, "Reducer: an order of ", order.size(), " slices for ", S);
    for (size_t i : order) {
        D2M_CHECK(i < S && !seen[i], Internal, "Reducer: the order names slice ", i, " twice or out of range");
        seen[i] = 1;
    }
    std::vector<int64_t>& numel = numel_;
    numel.assign(S, 0);
    leaf_slices_.resize(leaves_.size());
    for (size_t i = 0; i < S; ++i) {
        const GradSlice& g = slices_[i];
        D2M_CHECK(g.leaf < leaves_.size() && leaves_[g.leaf].requires_grad(), Internal, "Reducer: slice ", i,
                  " has no leaf that requires gradients");
        const at::Tensor& l = leaves_[g.leaf];
        numel[i] = g.whole ? l.numel() : l.numel() / std::max<int64_t>(1, l.size(0)) * g.rows;
        leaf_slices_[g.leaf].push_back(i);
    }
    buckets_ = assign_buckets(numel, order, bucket_bytes);
    bucket_of_.assign(S, 0);
    offset_.assign(S, 0);
    for (size_t b = 0; b < buckets_.size(); ++b) {
        int64_t off = 0;
        for (size_t i : buckets_[b]) {
            bucket_of_[i] = b;
            offset_[i] = off;
            off += numel[i];
        }
        flat_.push_back(at::zeros({off}, at::kFloat));  // [bucket elements]
    }
    stats_.buckets = static_cast<int64_t>(buckets_.size());
    filled_.assign(S, 0);
    flags_.assign(S, 0.0);
    missing_.assign(buckets_.size(), 0);
    for (size_t k = 0; k < leaves_.size(); ++k) {
        if (leaf_slices_[k].empty()) {
            hook_ids_.push_back(~0u);
            continue;
        }
        hook_ids_.push_back(leaves_[k].register_hook([this, k](const at::Tensor& g) { on_grad(k, g); }));
    }
}

Reducer::~Reducer() {
    for (size_t k = 0; k < leaves_.size(); ++k) {
        if (hook_ids_[k] == ~0u) continue;
        try {
            leaves_[k].remove_hook(hook_ids_[k]);
        } catch (const std::exception&) {  // the leaf no longer requires gradients: its hooks are gone
        }
    }
}

void Reducer::reset_step() {
    std::fill(filled_.begin(), filled_.end(), 0);
    std::fill(flags_.begin(), flags_.end(), 0.0);
    for (size_t b = 0; b < buckets_.size(); ++b) missing_[b] = static_cast<int64_t>(buckets_[b].size());
    pending_.clear();
    next_ = 0;
}

void Reducer::arm() {
    std::lock_guard<std::mutex> l(mu_);
    reset_step();
    armed_ = true;
    in_backward_ = true;
}

void Reducer::fill(size_t i, const at::Tensor& leaf_grad) {
    const GradSlice& g = slices_[i];
    at::Tensor dst = flat_[bucket_of_[i]].narrow(0, offset_[i], numel_[i]);
    if (leaf_grad.defined()) {
        at::Tensor src = g.whole ? leaf_grad : leaf_grad.narrow(0, g.row0, g.rows);
        dst.view(src.sizes()).copy_(src);  // to float32, to the CPU
        flags_[i] = 1.0;
    } else {
        dst.zero_();
    }
    filled_[i] = 1;
    --missing_[bucket_of_[i]];
}

void Reducer::start_ready() {
    while (next_ < buckets_.size() && missing_[next_] == 0) {
        pending_.push_back(comm_.start_all_reduce_sum(flat_[next_]));
        ++(in_backward_ ? stats_.started_in_backward : stats_.started_after);
        ++next_;
    }
}

void Reducer::on_grad(size_t k, const at::Tensor& incoming) {
    std::lock_guard<std::mutex> l(mu_);
    if (!armed_ || !incoming.defined()) return;
    at::NoGradGuard ng;
    // before AccumulateGrad: the final gradient is what .grad holds from the earlier micro-batches
    // plus this one (the same float sum AccumulateGrad forms next)
    const at::Tensor& old = leaves_[k].grad();
    const at::Tensor full = old.defined() ? old + incoming : incoming;
    for (size_t i : leaf_slices_[k]) {
        D2M_CHECK(!filled_[i], Internal, "Reducer: the gradient of leaf ", k, " arrived twice in one backward pass");
        fill(i, full);
    }
    start_ready();
}

Reducer::Result Reducer::finish(const std::vector<double>& extras) {
    std::lock_guard<std::mutex> l(mu_);
    if (!armed_) reset_step();  // no backward pass on this rank this step
    armed_ = false;
    in_backward_ = false;
    {
        at::NoGradGuard ng;
        for (size_t i = 0; i < slices_.size(); ++i) {
            if (!filled_[i]) fill(i, leaves_[slices_[i].leaf].grad());
        }
    }
    start_ready();
    const size_t S = slices_.size();
    at::Tensor tail = at::zeros({static_cast<int64_t>(S + extras.size())}, at::kDouble);  // [flags..., extras...]
    double* t = tail.data_ptr<double>();
    for (size_t i = 0; i < S; ++i) t[i] = flags_[i];
    for (size_t e = 0; e < extras.size(); ++e) t[S + e] = extras[e];
    pending_.push_back(comm_.start_all_reduce_sum(tail));
    for (auto& p : pending_) p->wait();
    pending_.clear();
    ++stats_.steps;
    Result r;
    for (size_t i = 0; i < S; ++i) {
        const GradSlice& g = slices_[i];
        const at::Tensor& leaf = leaves_[g.leaf];
        std::vector<int64_t> shape = leaf.sizes().vec();
        if (!g.whole) shape[0] = g.rows;
        r.grads.push_back(flat_[bucket_of_[i]].narrow(0, offset_[i], numel_[i]).view(shape));
        r.has_grad.push_back(t[i] > 0);
    }
    for (size_t e = 0; e < extras.size(); ++e) r.extras.push_back(t[S + e]);
    return r;
}

}  // namespace den2moe::dist
