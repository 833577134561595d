#include "calib/ffn_stats.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/observers.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace den2moe {

void ChannelMoments::add(const at::Tensor& x_in, const at::Tensor& mask) {
    at::Tensor x = x_in.reshape({-1, x_in.size(-1)});
    if (mask.defined()) {
        x = x.index({mask.reshape({-1})});
    }
    const int64_t nb = x.size(0);
    if (nb == 0) return;
    at::Tensor xd = x.to(at::kDouble);
    at::Tensor mb = xd.mean(0);
    at::Tensor m2b = (xd - mb).square_().sum(0);
    ChannelMoments b = from(nb, mb, m2b);
    b.abs_sum_ = xd.abs().sum(0);
    merge(b);
}

void ChannelMoments::merge(const ChannelMoments& o) {
    if (o.n_ == 0) return;
    if (n_ == 0) {
        n_ = o.n_;
        mean_ = o.mean_.clone();
        m2_ = o.m2_.clone();
        abs_sum_ = o.abs_sum_.defined() ? o.abs_sum_.clone() : at::Tensor();
        return;
    }
    D2M_ASSERT(mean_.numel() == o.mean_.numel());
    const double na = static_cast<double>(n_), nb = static_cast<double>(o.n_), nt = na + nb;
    at::Tensor delta = o.mean_ - mean_;
    mean_.add_(delta * (nb / nt));
    m2_.add_(o.m2_).add_(delta.square() * (na * nb / nt));
    if (abs_sum_.defined() && o.abs_sum_.defined()) {
        abs_sum_.add_(o.abs_sum_);
    } else {
        abs_sum_ = at::Tensor();  // one side did not keep it
    }
    n_ += o.n_;
}

at::Tensor ChannelMoments::variance() const {
    D2M_ASSERT(n_ > 0);
    return m2_ / static_cast<double>(n_);
}

at::Tensor ChannelMoments::mean_square() const {
    return variance() + mean_.square();
}

at::Tensor ChannelMoments::mean_abs() const {
    if (!has_abs()) return {};
    return abs_sum_ / static_cast<double>(n_);
}

ChannelMoments ChannelMoments::from(int64_t n, const at::Tensor& mean, const at::Tensor& m2, const at::Tensor& mean_abs) {
    ChannelMoments m;
    m.n_ = n;
    m.mean_ = mean.to(at::kDouble).contiguous();
    m.m2_ = m2.to(at::kDouble).contiguous();
    if (mean_abs.defined()) m.abs_sum_ = mean_abs.to(at::kDouble) * static_cast<double>(n);
    return m;
}

std::vector<size_t> shuffled_record_order(size_t n, std::mt19937_64& rng) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    return order;
}

at::Tensor sample_calibration_windows(const Tokenizer& tok, const CorpusSpec& corpus, int64_t n, int64_t seq,
                                      uint64_t seed) {
    D2M_CHECK(n >= 1 && seq >= 2, InvalidInput, "calibration: need samples >= 1 and seq_len >= 2, found ", n,
              " and ", seq);
    std::vector<std::string> records = read_records(corpus);
    std::mt19937_64 rng(seed);
    const std::vector<size_t> order = shuffled_record_order(records.size(), rng);
    const int64_t want = n * seq;
    std::vector<int> stream;
    stream.reserve(static_cast<size_t>(want));
    for (size_t idx : order) {
        std::vector<int> r = tok.encode(records[idx], true, true);
        stream.insert(stream.end(), r.begin(), r.end());
        if (static_cast<int64_t>(stream.size()) >= want) break;
    }
    const int64_t have = static_cast<int64_t>(stream.size());
    std::string files;
    for (const auto& f : corpus.files) files += (files.empty() ? "" : ", ") + f;
    D2M_CHECK(have >= seq, InvalidInput, "calibration corpus ", files, " has ", have,
              " tokens, fewer than one window of ", seq, Hint{"lower calibration.seq_len or add text"});
    at::Tensor out = at::empty({n, seq}, at::kLong);
    int64_t* o = out.data_ptr<int64_t>();
    if (have >= want) {
        for (int64_t i = 0; i < want; ++i) o[i] = stream[static_cast<size_t>(i)];
    } else {
        const uint64_t span = static_cast<uint64_t>(have - seq + 1);
        for (int64_t w = 0; w < n; ++w) {
            const int64_t start = static_cast<int64_t>(rng() % span);
            for (int64_t t = 0; t < seq; ++t) o[w * seq + t] = stream[static_cast<size_t>(start + t)];
        }
    }
    return out;
}

FfnStats collect_ffn_stats(const LlamaModel& model, const at::Tensor& windows, int64_t batch, RunContext& ctx,
                           const std::string& msg) {
    D2M_CHECK(windows.dim() == 2 && windows.size(0) > 0, InvalidInput,
              "calibration windows: expected a non-empty [n, seq] tensor, found ", windows.sizes());
    const int n_layers = static_cast<int>(model.config().n_layer);
    FfnStats st;
    st.layers.resize(static_cast<size_t>(n_layers));
    st.inputs.resize(static_cast<size_t>(n_layers));
    ObserverSet obs;
    for (int il = 0; il < n_layers; ++il) {
        obs.add(site::kFfnAct,
                [&st](const HookEvent& ev) { st.layers[static_cast<size_t>(ev.layer)].add(ev.tensor, ev.token_mask); },
                il);
        obs.add(site::kFfnInp,
                [&st](const HookEvent& ev) { st.inputs[static_cast<size_t>(ev.layer)].add(ev.tensor, ev.token_mask); },
                il);
    }
    ForwardOptions fo;
    fo.observers = &obs;
    fo.last_only = true;  // the logits are not needed; skip the vocabulary projection of every position
    const int64_t n = windows.size(0);
    batch = std::max<int64_t>(1, batch);
    ctx.report("statistics", 0, n, msg);
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
        ctx.check_cancelled();
        at::Tensor ids = windows.slice(0, b0, std::min(n, b0 + batch));
        model.forward(ids, {}, fo);
        ctx.report("statistics", std::min(n, b0 + batch), n, msg);
    }
    st.n_windows = n;
    st.n_tokens = windows.numel();
    return st;
}

}  // namespace den2moe
