#include "prune/prune.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "calib/ffn_stats.h"
#include "core/error.h"
#include "model/llama.h"
#include "project/project.h"

namespace den2moe {

PruneMetric parse_prune_metric(const std::string& s) {
    if (s == "wifv" || s == "WIFV") return PruneMetric::WIFV;
    if (s == "ifv" || s == "IFV") return PruneMetric::IFV;
    if (s == "wifn" || s == "WIFN") return PruneMetric::WIFN;
    D2M_FAIL(InvalidInput, "unknown pruning metric '", s, "'", Hint{"use wifv (DIVE's), ifv or wifn"});
}

at::Tensor channel_scores(const SwiGluFfn& ffn, const ChannelMoments& st, PruneMetric metric) {
    const int64_t F = ffn.width();
    D2M_CHECK(st.count() > 0 && st.mean().numel() == F, Incompatible, "FFN statistics have ",
              st.mean().defined() ? st.mean().numel() : 0, " channels over ", st.count(), " tokens, the FFN has ", F,
              " channels", Hint{"the statistics were collected on a different model; clear the cache"});
    at::Tensor w = ffn.down().to(at::kDouble);  // [D, F]
    switch (metric) {
        case PruneMetric::IFV: return st.variance();
        case PruneMetric::WIFV: return st.variance() * w.square().sum(0);
        case PruneMetric::WIFN: return (w.abs() * st.mean_square().sqrt().unsqueeze(0)).mean(0);
    }
    D2M_ASSERT(false);
    return {};
}

std::vector<int64_t> keep_uniform(const at::Tensor& scores, int64_t n_remove) {
    at::Tensor s = scores.to(at::kDouble).contiguous();
    const int64_t F = s.numel();
    D2M_CHECK(n_remove >= 0 && n_remove < F, InvalidInput, "pruning: cannot remove ", n_remove, " of ", F,
              " channels", Hint{"the ratio must leave at least one channel"});
    const double* p = s.data_ptr<double>();
    std::vector<int64_t> idx(static_cast<size_t>(F));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    std::stable_sort(idx.begin(), idx.end(), [p](int64_t a, int64_t b) {
        // NaN scores (a dead channel with 0/0) rank lowest
        const double x = std::isnan(p[a]) ? -INFINITY : p[a], y = std::isnan(p[b]) ? -INFINITY : p[b];
        return x < y;
    });
    std::vector<int64_t> kept(idx.begin() + n_remove, idx.end());
    std::sort(kept.begin(), kept.end());
    return kept;
}

std::vector<std::vector<int64_t>> keep_adaptive(const std::vector<at::Tensor>& scores, double ratio) {
    const size_t L = scores.size();
    std::vector<double> z;
    std::vector<std::pair<int64_t, int64_t>> who;  // (layer, channel)
    int64_t total = 0;
    for (size_t l = 0; l < L; ++l) {
        at::Tensor s = scores[l].to(at::kDouble);
        const double mu = s.mean().item<double>();
        double sd = s.numel() > 1 ? s.std(/*unbiased=*/true).item<double>() : 0.0;
        if (!(sd > 0)) sd = 1.0;
        at::Tensor zs = ((s - mu) / sd).contiguous();
        const double* p = zs.data_ptr<double>();
        for (int64_t j = 0; j < zs.numel(); ++j) {
            z.push_back(std::isnan(p[j]) ? -INFINITY : p[j]);
            who.emplace_back(static_cast<int64_t>(l), j);
        }
        total += zs.numel();
    }
    const int64_t n_remove = static_cast<int64_t>(std::floor(static_cast<double>(total) * ratio));
    std::vector<int64_t> order(static_cast<size_t>(total));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&z](int64_t a, int64_t b) { return z[a] < z[b]; });
    std::vector<std::vector<char>> keep(L);
    for (size_t l = 0; l < L; ++l) keep[l].assign(static_cast<size_t>(scores[l].numel()), 0);
    for (int64_t r = n_remove; r < total; ++r) keep[who[order[r]].first][who[order[r]].second] = 1;
    std::vector<std::vector<int64_t>> out(L);
    for (size_t l = 0; l < L; ++l) {
        for (size_t j = 0; j < keep[l].size(); ++j) {
            if (keep[l][j]) out[l].push_back(static_cast<int64_t>(j));
        }
        if (out[l].empty()) {  // a layer must keep one channel: its best
            at::Tensor s = scores[l].to(at::kDouble);
            out[l].push_back(s.nan_to_num(-INFINITY).argmax().item<int64_t>());
        }
    }
    return out;
}

std::shared_ptr<SwiGluFfn> prune_ffn(const SwiGluFfn& dense, const std::vector<int64_t>& kept,
                                     const at::Tensor& mean, at::ScalarType dtype) {
    const int64_t F = dense.width();
    D2M_CHECK(!kept.empty(), InvalidInput, "prune_ffn: no channel kept");
    std::vector<char> is_kept(static_cast<size_t>(F), 0);
    for (int64_t j : kept) {
        D2M_CHECK(j >= 0 && j < F, InvalidInput, "prune_ffn: channel ", j, " out of range [0, ", F, ")");
        is_kept[static_cast<size_t>(j)] = 1;
    }
    at::Tensor ki = at::tensor(kept, at::kLong);
    at::Tensor gate = dense.gate().index_select(0, ki);
    at::Tensor up = dense.up().index_select(0, ki);
    at::Tensor down = dense.down().index_select(1, ki);
    at::Tensor bias = dense.down_bias().defined() ? dense.down_bias().to(at::kDouble) : at::Tensor();
    if (mean.defined()) {
        D2M_CHECK(mean.numel() == F, Incompatible, "prune_ffn: mean has ", mean.numel(), " channels, FFN has ", F);
        std::vector<int64_t> removed;
        for (int64_t j = 0; j < F; ++j) {
            if (!is_kept[static_cast<size_t>(j)]) removed.push_back(j);
        }
        at::Tensor ri = at::tensor(removed, at::kLong);
        at::Tensor comp = at::zeros({dense.down().size(0)}, at::kDouble);
        if (!removed.empty()) {
            comp = at::mv(dense.down().to(at::kDouble).index_select(1, ri), mean.to(at::kDouble).index_select(0, ri));
        }
        bias = bias.defined() ? bias + comp : comp;
    }
    return std::make_shared<SwiGluFfn>(gate, up, down, bias, dtype);
}

std::vector<std::vector<int64_t>> select_channels(const LlamaModel& model, const FfnStats& stats,
                                                  const PruneSettings& settings) {
    const int L = static_cast<int>(model.config().n_layer);
    D2M_CHECK(static_cast<int>(stats.layers.size()) == L, Incompatible, "pruning: statistics cover ",
              stats.layers.size(), " layers, the model has ", L);
    D2M_CHECK(settings.ratio >= 0.0 && settings.ratio < 1.0, InvalidInput, "pruning ratio must be in [0, 1), found ",
              settings.ratio);
    const PruneMetric metric = parse_prune_metric(settings.metric);
    std::vector<at::Tensor> scores;
    for (int il = 0; il < L; ++il) scores.push_back(channel_scores(model.dense_ffn(il), stats.layers[il], metric));
    if (settings.structure == "adaptive") return keep_adaptive(scores, settings.ratio);
    D2M_CHECK(settings.structure == "uniform", InvalidInput, "unknown pruning structure '", settings.structure, "'",
              Hint{"use uniform (DIVE) or adaptive (FLAP AL-AM)"});
    std::vector<std::vector<int64_t>> out;
    for (int il = 0; il < L; ++il) {
        const int64_t F = scores[il].numel();
        out.push_back(keep_uniform(scores[il], static_cast<int64_t>(std::floor(static_cast<double>(F) * settings.ratio))));
    }
    return out;
}

std::shared_ptr<LlamaModel> prune_model(const LlamaModel& model, const FfnStats& stats, const PruneSettings& settings) {
    auto kept = select_channels(model, stats, settings);
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < static_cast<int>(kept.size()); ++il) {
        at::Tensor mean = settings.bias_compensation ? stats.layers[il].mean() : at::Tensor();
        ffns.push_back(prune_ffn(model.dense_ffn(il), kept[il], mean, model.scalar_type()));
    }
    return model.with_ffns(std::move(ffns));
}

}  // namespace den2moe
