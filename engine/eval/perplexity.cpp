// Perplexity over token streams (see eval/perplexity.h for the protocol). Windows of equal length
// are batched; each window's log-probabilities come from one forward pass; NLL accumulates in
// double.
#include "eval/perplexity.h"

#include <chrono>
#include <ATen/ATen.h>

#ifdef D2M_HAVE_KERNELS
#include "nll.h"
#endif

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace den2moe {

// Rows of the vocabulary projection computed at once in perplexity(): 128 × V floats (2 MiB for
// V = 4096) stay in L2 between the GEMM, logsumexp and gather.
constexpr int64_t kNllChunk = 128;

double PplResult::ppl() const { return std::exp(mean_nll()); }

std::vector<PplWindow> ppl_windows(int64_t n, const PplOptions& opt) {
    D2M_CHECK(opt.seq >= 2, InvalidInput, "perplexity window length must be at least 2 tokens, got ", opt.seq);
    std::vector<PplWindow> w;
    if (n < 2) return w;
    const int64_t seq = opt.seq;
    const int64_t stride = opt.stride > 0 ? opt.stride : seq;
    D2M_CHECK(stride <= seq, InvalidInput, "stride ", stride, " exceeds the window length ", seq);
    if (n < seq) {  // a short stream: one window over all of it
        w.push_back({0, n, n - 1});
        return w;
    }
    if (stride == seq) {
        for (int64_t b = 0; b + seq <= n; b += seq) w.push_back({b, seq, seq - 1});
        return w;
    }
    int64_t scored_end = 1;  // targets [1, scored_end) are scored
    for (int64_t b = 0; b < n - 1; b += stride) {
        int64_t end = std::min(b + seq, n);
        int64_t n_score = end - scored_end;
        if (n_score > 0) w.push_back({b, end - b, n_score});
        scored_end = end;
        if (end == n) break;
    }
    return w;
}

PplResult perplexity(const LlamaModel& model, const std::vector<int>& stream_in, const PplOptions& opt,
                     RunContext& ctx) {
    int64_t n = (int64_t)stream_in.size();
    if (opt.max_tokens > 0) n = std::min(n, opt.max_tokens);
    D2M_CHECK(n >= 2, InvalidInput, "perplexity needs at least 2 tokens, the stream holds ", n,
              Hint{"is the evaluation text empty?"});
    std::vector<int64_t> s(stream_in.begin(), stream_in.begin() + n);
    at::Tensor stream = at::tensor(s, at::kLong);  // [n]
    auto windows = ppl_windows(n, opt);

    // group windows of equal length and equal scored count so they batch
    std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> groups;
    for (const auto& w : windows) groups[{w.len, w.n_score}].push_back(w.begin);

    PplResult r;
    r.n_tokens = n;
    r.n_windows = (int64_t)windows.size();
    const int64_t batch = std::max<int64_t>(1, opt.batch);
    int64_t done = 0;
    using clock = std::chrono::steady_clock;
    const clock::time_point t0 = clock::now();
    clock::time_point t_warm = t0;
    for (const auto& g : groups) {
        const int64_t len = g.first.first, n_score = g.first.second;
        const auto& begins = g.second;
        for (size_t i = 0; i < begins.size(); i += batch) {
            ctx.check_cancelled();
            const int64_t nb = std::min<int64_t>(batch, (int64_t)begins.size() - (int64_t)i);
            std::vector<at::Tensor> rows;
            for (int64_t j = 0; j < nb; ++j) rows.push_back(stream.narrow(0, begins[i + j], len));
            at::Tensor ids = at::stack(rows);                                 // [b, len]
            at::Tensor h = model.hidden_states(ids);                           // [b, len, D]
            at::Tensor hs = h.narrow(1, len - 1 - n_score, n_score).reshape({-1, h.size(2)});  // [b·n_score, D]
            at::Tensor tgt = ids.narrow(1, len - n_score, n_score).reshape({-1, 1});          // [b·n_score, 1]
            // NLL = logsumexp(logits) − logit[target], in row chunks whose logits stay in cache:
            // no [b, n_score, V] log-prob tensor is ever materialised.
            double nll = 0.0;
            const int64_t rows_n = hs.size(0);
            for (int64_t r0 = 0; r0 < rows_n; r0 += kNllChunk) {
                const int64_t nr = std::min(kNllChunk, rows_n - r0);
                at::Tensor logits = model.lm_head(hs.narrow(0, r0, nr));  // [nr, V] float
#ifdef D2M_HAVE_KERNELS
                if (logits.is_cpu()) {  // one pass per row (kernels/nll.h)
                    nll += kernels::nll_sum(logits, tgt.narrow(0, r0, nr));
                    continue;
                }
#endif
                at::Tensor lse = at::logsumexp(logits, -1);
                at::Tensor picked = logits.gather(-1, tgt.narrow(0, r0, nr)).squeeze(-1);
                nll += (lse - picked).to(at::kDouble).sum().item<double>();
            }
            D2M_CHECK(std::isfinite(nll), Internal, "perplexity: non-finite loss in window at token ",
                      begins[i], Hint{"the model produced NaN/Inf logits; try --dtype fp32"});
            r.nll_sum += nll;
            r.n_scored += nb * n_score;
            r.n_forward += nb * len;
            if (done == 0) {
                t_warm = clock::now();
            } else {
                r.steady_forward += nb * len;
            }
            done += nb;
            ctx.report("perplexity", done, r.n_windows);
        }
    }
    const clock::time_point t_end = clock::now();
    r.seconds = std::chrono::duration<double>(t_end - t0).count();
    r.steady_seconds = std::chrono::duration<double>(t_end - t_warm).count();
    return r;
}

std::vector<DomainPpl> perplexity_table(const LlamaModel& model, const Tokenizer& tok,
                                        const std::vector<EvalDomain>& domains, const PplOptions& opt,
                                        RunContext& ctx) {
    std::vector<DomainPpl> out;
    for (size_t i = 0; i < domains.size(); ++i) {
        const auto& d = domains[i];
        ctx.report("domains", (int64_t)i, (int64_t)domains.size(), d.name);
        CorpusSpec spec;
        spec.files = d.files;
        std::vector<std::string> records = read_records(spec);
        std::vector<int> stream = tokenize_stream(tok, records, opt.max_tokens);
        RunContext sub;  // per-domain progress is not forwarded; cancel is
        sub.cancel = ctx.cancel;
        try {
            out.push_back({d.name, perplexity(model, stream, opt, sub)});
        } catch (const Error& e) {
            throw e.with_context("domain '" + d.name + "'");
        }
    }
    ctx.report("domains", (int64_t)domains.size(), (int64_t)domains.size());
    return out;
}

}  // namespace den2moe
