// TokenScore: SCS from the final token's last-layer attention, RSS by masked re-encoding with the same
// model, τ = ½(SCS + RSS), and the τ-weighted neuron profiles v_s = τᵀ|act|/T (DEN2MOEE.md §2.2–2.3).
// All score arithmetic in float64; the model runs in its compute dtype.
#include "calib/token_score.h"

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

std::string TokenScoreSettings::key() const {
    return "tokenscore(span=" + std::to_string(span) + ",ngram=" + std::to_string(ngram) +
           ",stride=" + std::to_string(stride) + ",mask=" + std::to_string(mask_id) +
           ",cap=" + std::to_string(max_windows) + ")";
}

at::Tensor span_contribution(const at::Tensor& attn, int64_t span) {
    D2M_CHECK(attn.dim() == 1 && attn.numel() > 0 && span >= 1, InvalidInput,
              "TokenScore: expected a non-empty [T] attention row and span >= 1, found ", attn.sizes(), " and ", span);
    const int64_t T = attn.numel(), n = (T + span - 1) / span;
    at::Tensor a = at::zeros({n * span}, at::kDouble);
    a.narrow(0, 0, T).copy_(attn.to(at::kDouble));
    at::Tensor sums = a.view({n, span}).sum(1);  // [n]
    const double lo = sums.min().item<double>(), hi = sums.max().item<double>();
    if (n == 1 || !(hi > lo)) return at::zeros({n}, at::kDouble);
    return (sums - lo) / (hi - lo);
}

std::vector<MaskWindow> rss_windows(const at::Tensor& scs, int64_t T, const TokenScoreSettings& s) {
    const int64_t n = scs.numel();
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    at::Tensor sc = scs.to(at::kDouble).contiguous();
    const double* p = sc.data_ptr<double>();
    std::stable_sort(order.begin(), order.end(), [p](int64_t a, int64_t b) { return p[a] > p[b]; });
    const int64_t top = std::max<int64_t>(1, n / 2);
    std::vector<MaskWindow> w;
    for (int64_t r = 0; r < top; ++r) {
        const int64_t j = order[static_cast<size_t>(r)];
        const int64_t s0 = j * s.span, e = std::min(T, s0 + s.span);
        for (int64_t g = s0; g < e; g += s.stride) {
            if (s.max_windows > 0 && static_cast<int64_t>(w.size()) >= s.max_windows) return w;
            w.push_back({g, std::min(g + s.ngram, e), j});
        }
    }
    return w;
}

TokenScore token_score(const LlamaModel& model, const at::Tensor& ids_in, const at::Tensor& attn, const at::Tensor& phi,
                       const TokenScoreSettings& s) {
    at::Tensor ids = ids_in.to(at::kLong).reshape({-1}).contiguous();  // [T]
    const int64_t T = ids.numel();
    D2M_CHECK(attn.numel() == T && phi.dim() == 2 && phi.size(0) == T, InvalidInput,
              "TokenScore: attention ", attn.sizes(), " and hidden states ", phi.sizes(), " do not match ", T, " tokens");
    TokenScore ts;
    ts.span_scs = span_contribution(attn.reshape({-1}), s.span);
    ts.scs = ts.span_scs.repeat_interleave(s.span).narrow(0, 0, T).contiguous();  // [T]
    const std::vector<MaskWindow> win = rss_windows(ts.span_scs, T, s);
    at::Tensor phi0 = phi.to(at::kDouble);                    // [T, D]
    const double n0 = phi0.norm().item<double>();
    at::Tensor sum = at::zeros({T}, at::kDouble), cnt = at::zeros({T}, at::kDouble);
    const int64_t nb = std::max<int64_t>(1, s.batch);
    for (size_t w0 = 0; w0 < win.size(); w0 += static_cast<size_t>(nb)) {
        const int64_t b = std::min<int64_t>(nb, static_cast<int64_t>(win.size() - w0));
        at::Tensor masked = ids.unsqueeze(0).repeat({b, 1});  // [b, T]
        for (int64_t i = 0; i < b; ++i) {
            const MaskWindow& m = win[w0 + static_cast<size_t>(i)];
            masked[i].narrow(0, m.start, m.end - m.start).fill_(s.mask_id);
        }
        at::Tensor h = model.hidden_states(masked).to(at::kDouble);  // [b, T, D]
        at::Tensor diff = (h - phi0.unsqueeze(0)).flatten(1).norm(2, {1});  // [b]
        at::Tensor den = h.flatten(1).norm(2, {1}) + n0;                    // [b]
        at::Tensor r = at::where(den > 0, diff / den.clamp_min(1e-300), at::zeros_like(diff));
        const double* rp = r.data_ptr<double>();
        for (int64_t i = 0; i < b; ++i) {
            const MaskWindow& m = win[w0 + static_cast<size_t>(i)];
            sum.narrow(0, m.start, m.end - m.start).add_(rp[i]);
            cnt.narrow(0, m.start, m.end - m.start).add_(1.0);
        }
        ts.windows += b;
    }
    ts.rss = at::where(cnt > 0, sum / cnt.clamp_min(1.0), at::zeros_like(sum));
    ts.tau = 0.5 * (ts.scs + ts.rss);
    return ts;
}

FfnStats collect_tokenscore_stats(const LlamaModel& model, const std::vector<at::Tensor>& samples,
                                  const TokenScoreSettings& s, RunContext& ctx, int64_t* re_encodings,
                                  const std::string& msg) {
    D2M_CHECK(!samples.empty(), InvalidInput, "TokenScore: no calibration samples");
    const int L = static_cast<int>(model.config().n_layer);
    FfnStats st;
    st.layers.resize(static_cast<size_t>(L));
    st.inputs.resize(static_cast<size_t>(L));
    std::vector<at::Tensor> vsum(static_cast<size_t>(L));
    std::vector<at::Tensor> act(static_cast<size_t>(L));  // per layer |ffn_act| of the sample, float32 [T, F]
    at::Tensor attn;                                      // [T]
    ObserverSet obs;
    obs.add(site::kLastAttn, [&attn](const HookEvent& ev) { attn = ev.tensor.select(0, 0).to(at::kDouble); }, L - 1);
    obs.add(site::kFfnAct, [&](const HookEvent& ev) {
        st.layers[static_cast<size_t>(ev.layer)].add(ev.tensor, ev.token_mask);
        act[static_cast<size_t>(ev.layer)] = ev.tensor.select(0, 0).to(at::kFloat).abs();  // a copy: |x| allocates
    });
    obs.add(site::kFfnInp,
            [&st](const HookEvent& ev) { st.inputs[static_cast<size_t>(ev.layer)].add(ev.tensor, ev.token_mask); });
    ForwardOptions fo;
    fo.observers = &obs;
    const int64_t n = static_cast<int64_t>(samples.size());
    ctx.report("statistics", 0, n, msg);
    int64_t windows = 0;
    for (int64_t i = 0; i < n; ++i) {
        ctx.check_cancelled();
        at::Tensor ids = samples[static_cast<size_t>(i)].to(at::kLong).reshape({-1});  // [T]
        const int64_t T = ids.numel();
        D2M_CHECK(T >= 1, InvalidInput, "TokenScore: calibration sample ", i, " is empty");
        attn = at::Tensor();
        at::Tensor phi = model.hidden_states(ids.unsqueeze(0), {}, fo).select(0, 0);  // [T, D]
        D2M_ASSERT(attn.defined());
        TokenScore ts = token_score(model, ids, attn, phi, s);
        windows += ts.windows;
        for (int il = 0; il < L; ++il) {
            at::Tensor v = at::mv(act[static_cast<size_t>(il)].to(at::kDouble).t(), ts.tau) / static_cast<double>(T);  // [F]
            vsum[static_cast<size_t>(il)] = vsum[static_cast<size_t>(il)].defined() ? vsum[static_cast<size_t>(il)] + v : v;
        }
        st.n_tokens += T;
        ctx.report("statistics", i + 1, n, msg);
    }
    for (int il = 0; il < L; ++il) st.weighted.push_back(vsum[static_cast<size_t>(il)] / static_cast<double>(n));
    st.n_windows = n;
    if (re_encodings) *re_encodings = windows;
    return st;
}

std::vector<at::Tensor> sample_calibration_sequences(const Tokenizer& tok, const CorpusSpec& corpus, int64_t n,
                                                     int64_t max_len, uint64_t seed) {
    D2M_CHECK(n >= 1 && max_len >= 2, InvalidInput, "calibration: need samples >= 1 and seq_len >= 2, found ", n,
              " and ", max_len);
    std::vector<std::string> records = read_records(corpus);
    std::mt19937_64 rng(seed);
    const std::vector<size_t> order = shuffled_record_order(records.size(), rng);  // as the windows do
    std::vector<at::Tensor> out;
    for (size_t idx : order) {
        std::vector<int> r = tok.encode(records[idx], true, true);
        if (r.size() < 2) continue;
        if (static_cast<int64_t>(r.size()) > max_len) {
            const int last = r.back();
            r.resize(static_cast<size_t>(max_len));
            r.back() = last;  // keep the pooled final token
        }
        out.push_back(at::tensor(std::vector<int64_t>(r.begin(), r.end()), at::kLong));
        if (static_cast<int64_t>(out.size()) >= n) break;
    }
    std::string files;
    for (const auto& f : corpus.files) files += (files.empty() ? "" : ", ") + f;
    D2M_CHECK(!out.empty(), InvalidInput, "calibration corpus ", files, " has no record of 2 tokens or more",
              Hint{"add text to the domain's calibration files"});
    return out;
}

}  // namespace den2moe
