// domain_statistics: each domain's calibration split (the project's sampling settings) through the
// statistics cache; merge_stats: several domains' statistics as one calibration set.
#include "calib/domain_stats.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "calib/stats_cache.h"
#include "calib/token_score.h"
#include "core/error.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "model/llama.h"

namespace den2moe {

DomainStatsRun domain_statistics(const Project& project, const std::vector<const ProjectDomain*>& doms,
                                 const LlamaModel& model, const Tokenizer& tok, const std::string& model_hash,
                                 bool use_cache, RunContext& ctx, bool need_abs, const TokenScoreSettings* tw) {
    const int64_t n = static_cast<int64_t>(doms.size());
    const std::string dtype = compute_dtype_name(model.compute_dtype());
    StatsCache cache(project_cache_dir(project));
    DomainStatsRun out;
    out.stats.resize(static_cast<size_t>(n));
    const int64_t batch = std::max<int64_t>(1, project.eval.batch);
    const int64_t ns = project.calib.n_samples;
    for (int64_t i = 0; i < n; ++i) {
        ctx.check_cancelled();
        const ProjectDomain& d = *doms[i];
        const CorpusSpec spec = domain_calib_corpus(project, d);
        StatsKeyParts kp{model_hash, spec.files, d.format, d.text_template, ns, project.calib.seq_len,
                         project.calib.seed, dtype, tw ? tw->key() : std::string()};
        const std::string key = stats_key(kp);
        std::optional<FfnStats> hit;
        if (use_cache) hit = cache.load(key);
        if (hit && need_abs && (hit->layers.empty() || !hit->layers[0].has_abs())) hit.reset();
        if (hit && tw && hit->weighted.size() != hit->layers.size()) hit.reset();
        if (hit) {
            out.stats[i] = std::move(*hit);
            ++out.hits;
        } else {
            ++out.misses;
            const auto t0 = std::chrono::steady_clock::now();
            try {
                RunContext inner = ctx.quiet();
                inner.on_progress = [&](const Progress& p) {
                    ctx.report("statistics", i * ns + p.step, n * ns, d.name);
                };
                if (tw) {
                    std::vector<at::Tensor> samples =
                        sample_calibration_sequences(tok, spec, ns, project.calib.seq_len, project.calib.seed);
                    TokenScoreSettings ts = *tw;
                    ts.batch = batch;
                    int64_t re = 0;
                    out.stats[i] = collect_tokenscore_stats(model, samples, ts, inner, &re, d.name);
                    out.tokens += out.stats[i].n_tokens;
                    out.re_encodings += re;
                } else {
                    at::Tensor windows = sample_calibration_windows(tok, spec, ns, project.calib.seq_len, project.calib.seed);
                    out.stats[i] = collect_ffn_stats(model, windows, batch, inner, d.name);
                    out.tokens += windows.numel();
                }
            } catch (const Error& e) {
                throw e.with_context("calibration domain '" + d.name + "'");
            }
            out.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (use_cache) {
                cache.store(key, out.stats[i], "domain " + d.name + " of " + model.source);
                out.stats[i].key = key;
            }
        }
        ctx.report("statistics", (i + 1) * ns, n * ns, d.name);
    }
    return out;
}

FfnStats merge_stats(const std::vector<const FfnStats*>& parts) {
    D2M_ASSERT(!parts.empty());
    FfnStats m;
    m.layers.resize(parts.front()->layers.size());
    bool inputs = true;
    for (const FfnStats* p : parts) inputs = inputs && p->inputs.size() == m.layers.size();
    if (inputs) m.inputs.resize(m.layers.size());
    for (const FfnStats* p : parts) {
        for (size_t l = 0; l < m.layers.size(); ++l) m.layers[l].merge(p->layers[l]);
        for (size_t l = 0; l < m.inputs.size(); ++l) m.inputs[l].merge(p->inputs[l]);
        m.n_tokens += p->n_tokens;
        m.n_windows += p->n_windows;
    }
    return m;
}

}  // namespace den2moe
