#include "model/moe.h"
#include "model/gemm.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <numeric>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "core/observers.h"
#include "core/run_context.h"

#ifdef D2M_HAVE_KERNELS
#include "router.h"
#endif

namespace den2moe {

MoeFfn::MoeFfn(std::vector<std::shared_ptr<const SwiGluFfn>> experts, RouterSpec router,
               std::shared_ptr<const SwiGluFfn> shared, at::ScalarType dtype)
    : experts_(std::move(experts)), router_(std::move(router)), shared_(std::move(shared)) {
    const int64_t E = static_cast<int64_t>(experts_.size());
    D2M_CHECK(E >= 1, InvalidInput, "MoE block: no experts");
    D2M_CHECK(router_.weight.defined() && router_.weight.dim() == 2 && router_.weight.size(0) == E, InvalidInput,
              "MoE block: router weight must be [", E, ", D], found ",
              router_.weight.defined() ? router_.weight.sizes() : at::IntArrayRef{});
    D2M_CHECK(router_.top_k >= 1, InvalidInput, "MoE block: top-k ", router_.top_k, " must be >= 1");
    D2M_CHECK(router_.temperature > 0, InvalidInput, "MoE block: router temperature must be > 0");
    const int64_t D = router_.weight.size(1);
    for (int64_t e = 0; e < E; ++e) {
        D2M_CHECK(experts_[e] && experts_[e]->down().size(0) == D, Incompatible, "MoE block: expert ", e,
                  " has output size ", experts_[e] ? experts_[e]->down().size(0) : 0, ", the router expects ", D);
    }
    D2M_CHECK(!router_.prior.defined() || router_.prior.sizes() == router_.weight.sizes(), InvalidInput,
              "MoE block: router prior must be [", E, ", ", D, "]");
    D2M_CHECK(!router_.null_weight.defined() || (router_.null_weight.dim() == 2 && router_.null_weight.size(1) == D),
              InvalidInput, "MoE block: null-expert router rows must be [N, ", D, "]");
    D2M_CHECK(!router_.select_bias.defined() || router_.select_bias.numel() == E, InvalidInput,
              "MoE block: selection bias must have ", E, " entries, found ", router_.select_bias.numel());
    D2M_CHECK(!router_.shared_gate.defined() || (shared_ && router_.shared_gate.numel() == D), InvalidInput,
              "MoE block: a shared-expert gate needs a shared expert and ", D, " entries");
    D2M_CHECK(router_.gate == RouterSpec::Gate::Den2MoEE || router_.n_null() == 0, InvalidInput,
              "MoE block: null experts need the Den2MoEE gate");
    D2M_CHECK(router_.top_k <= E + router_.n_null(), InvalidInput, "MoE block: top-k ", router_.top_k,
              " exceeds the ", E + router_.n_null(), " experts");
    router_.weight = router_.weight.to(dtype).contiguous();
    at::Tensor w = router_.weight.to(at::kFloat);
    if (router_.prior.defined()) {
        router_.prior = router_.prior.to(dtype).contiguous();
        if (router_.prior_scale != 0.0) w = w + router_.prior.to(at::kFloat) * router_.prior_scale;
    }
    if (router_.null_weight.defined()) {
        router_.null_weight = router_.null_weight.to(dtype).contiguous();
        w = at::cat({w, router_.null_weight.to(at::kFloat)}, 0);
    }
    // rounded to the model's dtype as the weights are stored, then kept in float32: the logits are
    // float32 sums of the tokens' products with it on every path (router kernel, ATen, GPU)
    w_logits_ = w.to(dtype).to(at::kFloat).contiguous();
    if (router_.select_bias.defined()) router_.select_bias = router_.select_bias.to(at::kFloat).reshape({E}).contiguous();
    if (router_.shared_gate.defined()) router_.shared_gate = router_.shared_gate.to(dtype).reshape({1, D}).contiguous();
}

// The routing core: per token k (expert, gate) slots. idx [N, k] int64 in [0, E] (E = "no expert": a
// slot Den2MoEE's null expert took), gates [N, k] float, `unit_gates` when every gate is exactly 1.
MoeFfn::Routing MoeFfn::route_sparse(const at::Tensor& x) const {
    Routing r;
    const int64_t N = x.size(0), E = n_experts(), K = w_logits_.size(0);
    if (host_routable(x)) {
        route_topk_host(x, r);
        return r;
    }
    r.logits = at::empty({N, K}, x.options().dtype(at::kFloat));  // [N, E + n_null]
    logits_into(x, r.logits);  // as route_topk_host computes them: the same bits on either path
    if (router_.gate == RouterSpec::Gate::Den2MoEE) {
        at::Tensor p = at::softmax(r.logits, -1);  // no temperature (DEN2MOEE.md §1.3 step 3)
        if (router_.dense || router_.top_k >= K) {
            r.idx = at::arange(E, r.logits.options().dtype(at::kLong)).expand({N, E});
            r.gates = p.narrow(1, 0, E);  // every routed expert; null experts output nothing
        } else {
            at::Tensor score = p;
            if (router_.select_bias.defined()) {  // selection only, in probability space
                score = p.clone();
                score.narrow(1, 0, E).add_(router_.select_bias);
            }
            at::Tensor sel = std::get<1>(score.topk(router_.top_k, -1));  // [N, k] over routed + null
            at::Tensor is_null = sel >= E;
            r.gates = p.gather(1, sel).masked_fill_(is_null, 0.0);     // gates from the unbiased p
            r.idx = sel.masked_fill(is_null, E);
        }
        if (router_.norm_topk) r.gates = r.gates / r.gates.sum(-1, true).clamp_min(1e-20);
        if (router_.routed_scale != 1.0) r.gates = r.gates * router_.routed_scale;
        return r;
    }
    if (router_.dense || router_.top_k >= E) {
        r.idx = at::arange(E, r.logits.options().dtype(at::kLong)).expand({N, E});
        r.gates = at::softmax(r.logits / router_.temperature, -1);
    } else if (router_.norm_topk) {  // softmax over the selected logits = softmax(all) renormalised
        auto top = r.logits.topk(router_.top_k, -1);
        r.idx = std::get<1>(top);
        if (router_.top_k == 1) {
            r.gates = at::ones_like(std::get<0>(top));
            r.unit_gates = router_.routed_scale == 1.0;
        } else {
            r.gates = at::softmax(std::get<0>(top) / router_.temperature, -1);
        }
    } else {  // raw softmax(all) values of the top-k (Qwen2-MoE with norm_topk_prob = false)
        auto top = at::softmax(r.logits / router_.temperature, -1).topk(router_.top_k, -1);
        r.gates = std::get<0>(top);
        r.idx = std::get<1>(top);
    }
    if (router_.routed_scale != 1.0) r.gates = r.gates * router_.routed_scale;
    return r;
}

// The Softmax gate on the CPU: logits and top-k per block of tokens, the blocks side by side on the
// threads. The top-k is one pass per token on the host: what the ATen branches of route_sparse
// compute (topk, then the softmax over the selected logits or the softmax(all) values at them)
// without their per-op overhead on [N, E] tensors this small. Ties go to the lower expert index.
bool MoeFfn::host_routable(const at::Tensor& x) const {
    return x.is_cpu() && router_.gate == RouterSpec::Gate::Softmax && !router_.dense && router_.top_k < n_experts() &&
           router_.top_k <= 8;
}

void MoeFfn::route_rows(const at::Tensor& x, Routing& r, int64_t n0, int64_t n1) const {
    if (n1 <= n0) return;
    const int64_t K = w_logits_.size(0), k = router_.top_k;
    const double inv_t = 1.0 / router_.temperature, scale = router_.routed_scale;
    const bool norm = router_.norm_topk;
    at::Tensor ln = r.logits.narrow(0, n0, n1 - n0);
    logits_into(x.narrow(0, n0, n1 - n0), ln);
    const float* l = r.logits.data_ptr<float>();
    int64_t* idx = r.idx.data_ptr<int64_t>();
    float* g = r.gates.data_ptr<float>();
    for (int64_t n = n0; n < n1; ++n) {
        const float* row = l + n * K;
        int64_t sel[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int64_t j = 0; j < k; ++j) {  // selection: k passes over K entries (k, K small)
            int64_t best = -1;
            for (int64_t e = 0; e < K; ++e) {
                bool taken = false;
                for (int64_t q = 0; q < j; ++q) taken = taken || sel[q] == e;
                if (!taken && (best < 0 || row[e] > row[best])) best = e;
            }
            sel[j] = best;
        }
        if (norm && k == 1) {  // exp(0) / exp(0): the gate is the routed scale, no exp needed
            idx[n] = sel[0];
            g[n] = static_cast<float>(scale);
            continue;
        }
        const double m = row[sel[0]];  // the row maximum
        double ex[8], z = 0;
        for (int64_t j = 0; j < k; ++j) ex[j] = std::exp((row[sel[j]] - m) * inv_t);
        if (norm) {
            for (int64_t j = 0; j < k; ++j) z += ex[j];
        } else {
            for (int64_t e = 0; e < K; ++e) z += std::exp((row[e] - m) * inv_t);
        }
        for (int64_t j = 0; j < k; ++j) {
            idx[n * k + j] = sel[j];
            g[n * k + j] = static_cast<float>(ex[j] / z * scale);
        }
    }
}

void MoeFfn::route_topk_host(const at::Tensor& x, Routing& r) const {
    const int64_t N = x.size(0), K = w_logits_.size(0), k = router_.top_k;
    r.logits = at::empty({N, K}, x.options().dtype(at::kFloat));
    r.idx = at::empty({N, k}, x.options().dtype(at::kLong));
    r.gates = at::empty({N, k}, x.options().dtype(at::kFloat));
    r.unit_gates = router_.norm_topk && k == 1 && router_.routed_scale == 1.0;
    if (use_row_parallel(x, N)) {
        const int64_t nt = at::get_num_threads();
        at::parallel_for(0, nt, 1, [&](int64_t b, int64_t end) {
            for (int64_t t = b; t < end; ++t) route_rows(x, r, N * t / nt, N * (t + 1) / nt);
        });
    } else {
        route_rows(x, r, 0, N);
    }
}

// Router logits in float32 for rows x [n, D] into out [n, K] (contiguous). On the CPU, for up to 16
// logits per token, the router kernel (kernels/router.h; 3-6x ATen's mm on the demo shapes,
// bench_router); inside a parallel region it runs on the calling thread.
void MoeFfn::logits_into(const at::Tensor& x, at::Tensor& out) const {
#ifdef D2M_HAVE_KERNELS
    if (x.is_cpu() && w_logits_.size(0) <= 16 && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16)) {
        kernels::router_logits(x.contiguous(), w_logits_, out);
        return;
    }
#endif
    at::mm_out(out, x.to(at::kFloat), w_logits_.t());
}

at::Tensor MoeFfn::Routing::dense_weights(int64_t E) const {
    const int64_t N = idx.size(0);
    at::Tensor w = at::zeros({N, E + 1}, gates.options()).scatter_(1, idx, gates);
    return w.narrow(1, 0, E).contiguous();
}

void MoeFfn::route(const at::Tensor& x, at::Tensor* weights, at::Tensor* logits_out) const {
    Routing r = route_sparse(x);
    if (weights) *weights = r.dense_weights(n_experts());
    if (logits_out) *logits_out = r.logits;
}

// Row copies between token order and expert order: gather dst[i] = src[idx[i]], scatter
// dst[idx[i]] = src[i]. The scattered side's rows are prefetched a few rows ahead (reads for a
// gather, writes for a scatter): with rows spread over a 2 MB activation the copy is otherwise bound
// by one cache miss after another.
static void copy_rows(char* dst, const char* src, const int64_t* idx, int64_t n, size_t row_bytes, bool gather) {
    constexpr int64_t kAhead = 4;
    for (int64_t i = 0; i < n; ++i) {
#if defined(__GNUC__)
        if (i + kAhead < n) {
            const char* p = gather ? src + idx[i + kAhead] * row_bytes : dst + idx[i + kAhead] * row_bytes;
            for (size_t off = 0; off < row_bytes; off += 64) {
                if (gather) __builtin_prefetch(p + off, 0, 3);
                else __builtin_prefetch(p + off, 1, 3);
            }
        }
#endif
        if (gather) std::memcpy(dst + i * row_bytes, src + idx[i] * row_bytes, row_bytes);
        else std::memcpy(dst + idx[i] * row_bytes, src + i * row_bytes, row_bytes);
    }
}

// Thread shares of the expert-sorted slots, planned on a cost model of forward_rows: a piece of n
// slots runs as max(1, round(n / kRowBlock)) GEMM blocks and costs n + kBlockCost slot-equivalents
// per block (the weights are packed again for every GEMM call and short blocks use the kernel
// worse: on the demo experts one block of 64 rows costs 5.0 us a row, of 256 rows 3.8 us a row,
// i.e. about 110 us, 30 rows, fixed per block). Whole experts first, the costliest first, each to
// the cheapest thread (LPT); then, while the costliest thread is more than one block's fixed cost
// over the cheapest, it hands slots cut from the end of its biggest piece to the cheapest thread
// (the receiver pays one more block).
namespace {
constexpr double kBlockCost = 32.0;
constexpr int64_t kMinMove = 8;  // slots: smaller hand-overs are not worth a GEMM call

double piece_cost(int64_t n) {
    if (n <= 0) return 0.0;
    const int64_t blocks = std::max<int64_t>(1, (n + SwiGluFfn::kRowBlock / 2) / SwiGluFfn::kRowBlock);
    return static_cast<double>(n) + kBlockCost * static_cast<double>(blocks);
}
}  // namespace

std::vector<std::vector<SlotPiece>> moe_thread_shares(const std::vector<int64_t>& first, int nt, int64_t min_move) {
    const int64_t E = static_cast<int64_t>(first.size()) - 1;
    std::vector<std::vector<SlotPiece>> shares(static_cast<size_t>(std::max(nt, 1)));
    if (E <= 0) return shares;
    std::vector<double> cost(shares.size(), 0.0);
    std::vector<int64_t> by_size(static_cast<size_t>(E));
    std::iota(by_size.begin(), by_size.end(), 0);
    std::stable_sort(by_size.begin(), by_size.end(), [&](int64_t a, int64_t b) {
        return first[a + 1] - first[a] > first[b + 1] - first[b];
    });
    for (int64_t e : by_size) {
        const int64_t n = first[e + 1] - first[e];
        if (n == 0) continue;
        const size_t t = static_cast<size_t>(std::min_element(cost.begin(), cost.end()) - cost.begin());
        shares[t].push_back({e, first[e], first[e + 1]});
        cost[t] += piece_cost(n);
    }
    for (int moves = 0; moves < 2 * nt; ++moves) {
        const size_t t = static_cast<size_t>(std::max_element(cost.begin(), cost.end()) - cost.begin());
        const size_t u = static_cast<size_t>(std::min_element(cost.begin(), cost.end()) - cost.begin());
        // move m slots: t sheds m, u gains m + one block's fixed cost; even them out
        const int64_t m = static_cast<int64_t>((cost[t] - cost[u] - kBlockCost) / 2.0);
        if (t == u || m < std::max<int64_t>(min_move, 1)) break;
        auto big = std::max_element(shares[t].begin(), shares[t].end(),
                                    [](const SlotPiece& a, const SlotPiece& b) { return a.hi - a.lo < b.hi - b.lo; });
        const int64_t n = std::min(m, big->hi - big->lo);
        const double before = piece_cost(big->hi - big->lo);
        // the receiver extends a piece of its own that the cut touches (the same expert), if any:
        // cut from the front when it ends where the donor's piece begins, else from the end
        auto before_it = std::find_if(shares[u].begin(), shares[u].end(),
                                      [&](const SlotPiece& p) { return p.e == big->e && p.hi == big->lo; });
        auto after_it = std::find_if(shares[u].begin(), shares[u].end(),
                                     [&](const SlotPiece& p) { return p.e == big->e && p.lo == big->hi; });
        if (before_it != shares[u].end()) {
            cost[u] += piece_cost(before_it->hi - before_it->lo + n) - piece_cost(before_it->hi - before_it->lo);
            before_it->hi += n;
            big->lo += n;
        } else if (after_it != shares[u].end()) {
            cost[u] += piece_cost(after_it->hi - after_it->lo + n) - piece_cost(after_it->hi - after_it->lo);
            after_it->lo -= n;
            big->hi -= n;
        } else {
            shares[u].push_back({big->e, big->hi - n, big->hi});
            cost[u] += piece_cost(n);
            big->hi -= n;
        }
        cost[t] += piece_cost(big->hi - big->lo) - before;
        if (big->hi == big->lo) shares[t].erase(big);
    }
    for (auto& s : shares)  // slot order within a thread
        std::sort(s.begin(), s.end(), [](const SlotPiece& a, const SlotPiece& b) { return a.lo < b.lo; });
    return shares;
}

// The experts on one thread's share of the expert-sorted slots: per piece, gather the slots' token
// rows, run the expert's GEMMs single-threaded over blocks of rows (forward_rows), apply the gates
// and, for top-1, write the rows straight to their tokens.
void MoeFfn::run_slots(const Dispatch& d, const std::vector<SlotPiece>& share) const {
    char* rp = static_cast<char*>(d.routed.data_ptr());
    for (const SlotPiece& pc : share) {
        const int64_t lo = pc.lo, n = pc.hi - pc.lo;
        if (n <= 0) continue;
        at::Tensor xs = d.xs.narrow(0, lo, n);
        copy_rows(static_cast<char*>(xs.data_ptr()), d.x, d.tok + lo, n, d.row_bytes, /*gather=*/true);
        at::Tensor ys = d.k == 1 ? d.ys.narrow(0, lo, n) : d.routed.narrow(0, lo, n);
        experts_[pc.e]->forward_rows(xs, ys);
        if (d.gates.defined()) ys.mul_(d.gates.narrow(0, lo, n).unsqueeze(1));
        if (d.k == 1) copy_rows(rp, static_cast<const char*>(ys.data_ptr()), d.tok + lo, n, d.row_bytes, /*gather=*/false);
    }
}

at::Tensor MoeFfn::forward(const at::Tensor& x, int il, const FfnContext& fc) const {
    const auto shape = x.sizes().vec();
    const int64_t D = x.size(-1);
    at::Tensor xf = x.reshape({-1, D});
    const int64_t N = xf.size(0), E = n_experts();
    Routing r = route_sparse(xf);
    static const at::Tensor kNone;
    const at::Tensor& mask = fc.token_mask ? *fc.token_mask : kNone;
    if (fc.observers && fc.observers->wants(site::kRouterLogits, il)) {
        std::vector<int64_t> s(shape.begin(), shape.end() - 1);
        s.push_back(r.logits.size(1));
        fc.observers->emit(site::kRouterLogits, il, r.logits.view(s), mask);
    }
    at::Tensor w;  // dense [N, E] weights: for the router_probs hook and the legacy dispatch only
    if (fc.observers && fc.observers->wants(site::kRouterProbs, il)) {
        std::vector<int64_t> s(shape.begin(), shape.end() - 1);
        s.push_back(E);
        w = r.dense_weights(E);
        fc.observers->emit(site::kRouterProbs, il, w.view(s), mask);
    }
    at::Tensor out = shared_ ? shared_->forward(xf, il, FfnContext{}) : at::Tensor();
    if (shared_ && router_.shared_gate.defined()) out.mul_(at::sigmoid(gemm::linear(xf, router_.shared_gate)));
    if (legacy_dispatch()) {
        // the previous dispatch (kept for bench_moe's comparison): nonzero pairs, per-expert index_add_
        if (!w.defined()) w = r.dense_weights(E);
        if (!out.defined()) out = at::zeros({N, D}, x.options());
        at::Tensor nz = w.nonzero();  // [P, 2] (token, expert), token-major
        if (nz.size(0) == 0) return out.view(shape);
        at::Tensor tok = nz.select(1, 0), ex = nz.select(1, 1);
        at::Tensor order = std::get<1>(ex.sort(/*stable=*/true, 0, false));
        tok = tok.index_select(0, order);
        ex = ex.index_select(0, order);
        at::Tensor gate = w.index({tok, ex}).to(x.scalar_type()).unsqueeze(1);  // [P, 1]
        at::Tensor counts = at::bincount(ex, {}, E).cpu();
        const int64_t* cnt = counts.data_ptr<int64_t>();
        int64_t start = 0;
        for (int64_t e = 0; e < E; ++e) {
            if (cnt[e] == 0) continue;
            at::Tensor t = tok.narrow(0, start, cnt[e]);
            at::Tensor ye = experts_[e]->forward(xf.index_select(0, t), il, FfnContext{});  // [n_e, D]
            out.index_add_(0, t, ye.mul_(gate.narrow(0, start, cnt[e])));
            start += cnt[e];
        }
        return out.view(shape);
    }
    // k slots per token. Slots are sorted by expert once (slot id = token·k + j), the tokens gathered
    // once, each expert writes its contiguous slice of one output buffer (its GEMM's output in
    // place), the gates are applied in one pass (skipped when all are 1: top-1), and one gather
    // brings the slots back to token order, summed over k. Slots of no expert (Den2MoEE's null)
    // sort last and stay zero. Gathers only: libtorch's index_add_ on rows is a per-row loop.
    const int64_t k = r.idx.size(1), P = N * k;
    at::Tensor ex = r.idx.reshape({-1}).contiguous();
    std::vector<int64_t> cnt(static_cast<size_t>(E) + 1, 0), first(static_cast<size_t>(E) + 2, 0);
    at::Tensor order, inv, tok;
    if (ex.is_cpu()) {
        // a counting sort on the host: slot order grouped by expert (stable), its inverse and the
        // token of every slot, in two passes over P indices
        const int64_t* e = ex.data_ptr<int64_t>();
        for (int64_t p = 0; p < P; ++p) ++cnt[e[p]];
        for (int64_t j = 0; j <= E; ++j) first[j + 1] = first[j] + cnt[j];
        order = at::empty({P}, ex.options());
        inv = at::empty({P}, ex.options());
        tok = at::empty({first[E]}, ex.options());
        int64_t* o = order.data_ptr<int64_t>();
        int64_t* iv = inv.data_ptr<int64_t>();
        int64_t* tk = tok.data_ptr<int64_t>();
        std::vector<int64_t> pos(first.begin(), first.end() - 1);
        for (int64_t p = 0; p < P; ++p) {
            const int64_t q = pos[e[p]]++;
            o[q] = p;
            iv[p] = q;
            if (e[p] < E) tk[q] = p / k;
        }
    } else {
        order = std::get<1>(ex.sort(/*stable=*/true, 0, false));
        at::Tensor counts = at::bincount(ex, {}, E + 1).cpu();
        const int64_t* c = counts.data_ptr<int64_t>();
        for (int64_t j = 0; j <= E; ++j) {
            cnt[j] = c[j];
            first[j + 1] = first[j] + c[j];
        }
        inv = at::empty_like(order).scatter_(0, order, at::arange(P, order.options()));
        tok = at::div(order.narrow(0, 0, first[E]), k, "floor");
    }
    const int64_t P_real = first[E];
    if (x.is_cpu() && expert_parallel() && use_row_parallel(xf, P_real)) {
        // Row-parallel: moe_thread_shares plans each thread's share of the expert-sorted slots on a
        // cost model of the GEMMs (whole experts where they balance; a skewed expert is cut, and
        // then runs on two threads). Each thread copies its tokens' rows together, runs its
        // experts' GEMMs single-threaded over blocks of rows (forward_rows), applies the gates and,
        // for top-1, writes the rows straight to their tokens. One fork/join per block, and a
        // block's intermediates stay in its core's cache.
        at::Tensor xc = xf.contiguous();
        const int64_t nt = at::get_num_threads();
        const size_t row_bytes = static_cast<size_t>(D) * xc.element_size();
        const char* xp = static_cast<const char*>(xc.data_ptr());
        const int64_t* tk = tok.data_ptr<int64_t>();
        at::Tensor gs;  // gates in slot order, compute dtype
        if (!r.unit_gates) gs = r.gates.reshape({-1}).index_select(0, order.narrow(0, 0, P_real)).to(x.scalar_type());
        at::Tensor routed = k == 1 ? at::empty({N, D}, x.options()) : at::empty({P, D}, x.options());
        char* rp = static_cast<char*>(routed.data_ptr());
        Dispatch d;
        d.tok = tk;
        d.xs = at::empty({P_real, D}, xc.options());
        d.ys = k == 1 ? at::empty({P_real, D}, xc.options()) : at::Tensor();
        d.routed = routed;
        d.gates = gs;
        d.x = xp;
        d.row_bytes = row_bytes;
        d.k = k;
        const auto shares = moe_thread_shares(std::vector<int64_t>(first.begin(), first.end() - 1),
                                              static_cast<int>(nt), kMinMove);
        at::parallel_for(0, nt, 1, [&](int64_t b, int64_t end) {
            for (int64_t t = b; t < end; ++t) run_slots(d, shares[static_cast<size_t>(t)]);
        });
        if (k == 1) {
            // tokens whose one slot went to no expert (a Den2MoEE null expert) output zero
            const int64_t* o = order.data_ptr<int64_t>();
            for (int64_t q = P_real; q < P; ++q) std::memset(rp + o[q] * row_bytes, 0, row_bytes);
        } else {
            if (P_real < P) routed.narrow(0, P_real, P - P_real).zero_();
            routed = routed.index_select(0, inv).view({N, k, D}).sum(1);
        }
        if (!shared_) return routed.view(shape);
        return out.add_(routed).view(shape);
    }
    at::Tensor y = at::empty({P, D}, x.options());
    if (P_real < P) y.narrow(0, P_real, P - P_real).zero_();
    {
        at::Tensor xs = xf.index_select(0, tok);  // [P_real, D], grouped by expert
        for (int64_t e = 0; e < E; ++e)
            if (cnt[e] > 0) experts_[e]->forward_into(xs.narrow(0, first[e], cnt[e]), y.narrow(0, first[e], cnt[e]));
    }
    if (!r.unit_gates) y.mul_(r.gates.reshape({-1}).index_select(0, order).to(x.scalar_type()).unsqueeze(1));
    at::Tensor yt = y.index_select(0, inv).view({N, k, D});  // token-major
    at::Tensor routed = k == 1 ? yt.select(1, 0) : yt.sum(1);
    if (!shared_) return routed.view(shape);
    return out.add_(routed).view(shape);
}

bool MoeFfn::expert_parallel() {
    static const bool on = [] {
        const char* v = std::getenv("D2M_MOE_EXPERT_PARALLEL");
        return !(v && std::string(v) == "0");
    }();
    return on;
}

bool MoeFfn::legacy_dispatch() {
    static const bool legacy = [] {
        const char* v = std::getenv("D2M_MOE_DISPATCH");
        return v && std::string(v) == "index_add";
    }();
    return legacy;
}

void MoeFfn::named_tensors(const std::string& prefix, std::map<std::string, at::Tensor>& out) const {
    out[prefix + "router.weight"] = router_.weight;
    if (router_.prior.defined()) out[prefix + "router.prior"] = router_.prior;
    if (router_.null_weight.defined()) out[prefix + "router.null_weight"] = router_.null_weight;
    if (router_.select_bias.defined()) out[prefix + "router.select_bias"] = router_.select_bias;
    if (router_.shared_gate.defined()) out[prefix + "shared_expert_gate.weight"] = router_.shared_gate;
    for (size_t e = 0; e < experts_.size(); ++e) {
        experts_[e]->named_tensors(prefix + "experts." + std::to_string(e) + ".", out);
    }
    if (shared_) shared_->named_tensors(prefix + "shared_expert.", out);
}

int64_t MoeFfn::n_params() const {
    int64_t n = w_logits_.numel();
    for (const auto& e : experts_) n += e->n_params();
    if (shared_) n += shared_->n_params();
    return n;
}

int64_t MoeFfn::n_active_params() const {
    // per token: the router, top-k experts (the widest ones, an upper bound for unequal widths), shared
    std::vector<int64_t> sizes;
    for (const auto& e : experts_) sizes.push_back(e->n_params());
    std::sort(sizes.rbegin(), sizes.rend());
    int64_t n = w_logits_.numel();
    const int64_t k = router_.dense ? n_experts() : std::min(router_.top_k, n_experts());
    for (int64_t i = 0; i < k; ++i) n += sizes[static_cast<size_t>(i)];
    if (shared_) n += shared_->n_params();
    return n;
}

at::Tensor moe_forward_reference(const MoeFfn& moe, const at::Tensor& x) {
    const int64_t D = x.size(-1);
    at::Tensor xf = x.reshape({-1, D});
    at::Tensor w;
    moe.route(xf, &w, nullptr);
    at::Tensor out = at::zeros_like(xf);
    for (int64_t n = 0; n < xf.size(0); ++n) {
        at::Tensor xn = xf.narrow(0, n, 1);
        at::Tensor acc = moe.shared_expert() ? moe.shared_expert()->forward(xn, 0, {}) : at::zeros_like(xn);
        if (moe.shared_expert() && moe.router().shared_gate.defined())
            acc = acc * at::sigmoid((xn.to(at::kFloat) * moe.router().shared_gate.to(at::kFloat)).sum()).item<float>();
        for (int64_t e = 0; e < moe.n_experts(); ++e) {
            const float g = w[n][e].item<float>();  // routed experts only; null experts add nothing
            if (g != 0.0f) acc = acc + moe.expert(e).forward(xn, 0, {}) * g;
        }
        out.narrow(0, n, 1).copy_(acc);
    }
    return out.view(x.sizes());
}

}  // namespace den2moe
