// Embedding-training arithmetic: see train/contrastive.h.
#include "train/contrastive.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace den2moe {

at::Tensor pool_embeddings(const at::Tensor& h, const at::Tensor& mask, const std::string& pooling) {
    D2M_CHECK(h.dim() == 3, Internal, "pool_embeddings: hidden states must be [B, T, D], got ", h.dim(), " dims");
    at::Tensor e;  // [B, D] float32
    if (pooling == "last") {
        e = h.select(1, h.size(1) - 1).to(at::kFloat);
    } else {
        D2M_CHECK(pooling == "mean", InvalidInput, "pooling '", pooling, "' is not last or mean");
        at::Tensor m = mask.to(h.device()).to(at::kFloat).unsqueeze(-1);  // [B, T, 1]
        e = (h.to(at::kFloat) * m).sum(1) / m.sum(1).clamp_min(1.0);
    }
    // F.normalize(e, dim=-1): e / max(‖e‖, 1e-12)
    return e / e.norm(2, {-1}, true).clamp_min(1e-12);
}

at::Tensor infonce_loss(const at::Tensor& anchors, const at::Tensor& candidates, const at::Tensor& target,
                        double tau) {
    D2M_CHECK(tau > 0, InvalidInput, "InfoNCE temperature ", tau, " must be positive");
    at::Tensor s = at::matmul(anchors.to(at::kFloat), candidates.to(at::kFloat).t()) / tau;  // [B, C]
    return at::cross_entropy_loss(s, target.to(s.device()));
}

at::Tensor cosine_mse_loss(const at::Tensor& a, const at::Tensor& b, const at::Tensor& label) {
    at::Tensor af = a.to(at::kFloat), bf = b.to(at::kFloat);
    // torch.cosine_similarity: a·b / max(‖a‖·‖b‖, eps) with eps 1e-8
    at::Tensor cos = (af * bf).sum(-1) / (af.norm(2, {-1}) * bf.norm(2, {-1})).clamp_min(1e-8);  // [B]
    return (cos - label.to(cos.device()).to(at::kFloat)).pow(2).mean();
}

at::Tensor distill_loss(const at::Tensor& e, const at::Tensor& e0, const std::string& kind) {
    D2M_CHECK(e.sizes() == e0.sizes(), Internal, "distill: embeddings ", e.sizes(), " but start embeddings ",
              e0.sizes());
    at::Tensor ef = e.to(at::kFloat), e0f = e0.to(at::kFloat).detach();
    if (kind == "embedding") return (1.0 - (ef * e0f).sum(-1)).mean();
    D2M_CHECK(kind == "similarity", InvalidInput, "distill '", kind, "' is not embedding or similarity");
    return (at::matmul(ef, ef.t()) - at::matmul(e0f, e0f.t())).pow(2).mean();
}

std::vector<std::vector<int64_t>> length_groups(const std::vector<int64_t>& lengths, int64_t max_groups,
                                                int64_t group_cost) {
    const int64_t N = static_cast<int64_t>(lengths.size());
    std::vector<int64_t> idx(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) idx[static_cast<size_t>(i)] = i;
    auto len = [&](int64_t i) { return lengths[static_cast<size_t>(i)]; };
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return len(a) < len(b); });
    const int64_t K = std::min(std::max<int64_t>(max_groups, 1), std::max<int64_t>(N, 1));
    const int64_t inf = std::numeric_limits<int64_t>::max() / 4;
    // best[k][j]: least cost of the first j sorted texts in k groups; cut[k][j]: where the last group starts
    std::vector<std::vector<int64_t>> best(static_cast<size_t>(K + 1), std::vector<int64_t>(static_cast<size_t>(N + 1), inf));
    std::vector<std::vector<int64_t>> cut(static_cast<size_t>(K + 1), std::vector<int64_t>(static_cast<size_t>(N + 1), 0));
    best[0][0] = 0;
    for (int64_t k = 1; k <= K; ++k)
        for (int64_t j = 1; j <= N; ++j)
            for (int64_t i = k - 1; i < j; ++i) {
                const int64_t prev = best[static_cast<size_t>(k - 1)][static_cast<size_t>(i)];
                if (prev >= inf) continue;
                const int64_t c = prev + group_cost + (j - i) * len(idx[static_cast<size_t>(j - 1)]);
                if (c < best[static_cast<size_t>(k)][static_cast<size_t>(j)]) {
                    best[static_cast<size_t>(k)][static_cast<size_t>(j)] = c;
                    cut[static_cast<size_t>(k)][static_cast<size_t>(j)] = i;
                }
            }
    int64_t kb = 1;
    for (int64_t k = 2; k <= K; ++k)
        if (best[static_cast<size_t>(k)][static_cast<size_t>(N)] < best[static_cast<size_t>(kb)][static_cast<size_t>(N)]) kb = k;
    std::vector<std::vector<int64_t>> groups;
    for (int64_t k = kb, j = N; k > 0; --k) {
        const int64_t i = cut[static_cast<size_t>(k)][static_cast<size_t>(j)];
        groups.emplace_back(idx.begin() + i, idx.begin() + j);
        j = i;
    }
    std::reverse(groups.begin(), groups.end());
    return groups;
}

void update_budget_bias(at::Tensor& budget_bias, const at::Tensor& budget_score, const at::Tensor& counts,
                        double k, double k_e, double beta, double eta, bool t_all_tokens, int64_t tokens) {
    at::NoGradGuard ng;
    const int64_t R = budget_bias.numel();
    D2M_CHECK(budget_score.numel() == R && counts.numel() == R, Internal, "budget-bias update: ", R,
              " routed experts but ", budget_score.numel(), " scores and ", counts.numel(), " counts");
    D2M_CHECK(k > 0, InvalidInput, "budget-bias update: top-k ", k, " must be positive");
    at::Tensor c = counts.to(at::kDouble).cpu();
    const double t_all = t_all_tokens ? static_cast<double>(tokens) : c.sum().item<double>();
    if (t_all <= 0) return;  // no token reached a routed expert: nothing to compare
    at::Tensor w = 1.0 + beta * budget_score.to(at::kDouble).cpu();  // [R]
    at::Tensor ideal = (k_e / k) * w / w.sum();
    at::Tensor actual = c / (k * t_all);
    budget_bias.add_((eta * (ideal - actual)).to(budget_bias.scalar_type()).to(budget_bias.device()));
}

double den2moee_alpha(int64_t step, int64_t warmup, double init) {
    // the release: r = min(current_step / init_warmup_steps, 1) after the forward, current_step counting
    // forwards from 1, so forward n sees the milestone reached after forward n − 1
    const double r = std::min(1.0, static_cast<double>(std::max<int64_t>(step - 1, 0)) / static_cast<double>(warmup));
    double a = init;
    for (double m : {0.3, 0.6, 1.0})
        if (r >= m - 1e-12) a = m;
    return a;
}

}  // namespace den2moe
