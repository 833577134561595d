// The export linter: what a Hugging Face MoE format cannot represent (errors), what is dropped or
// approximated (warnings) and what is rewritten exactly (info), each naming the layer / expert /
// tensor with a hint. One rule group per method: structure, routing, biases, deployment alignment,
// trunk. The codes are listed in docs/export.md.
#include "export/export_common.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "io/hf_config.h"
#include "model/llama.h"
#include "model/moe.h"

using nlohmann::json;

namespace den2moe {

using namespace export_detail;

const char* lint_severity_name(LintSeverity s) {
    switch (s) {
        case LintSeverity::Error: return "error";
        case LintSeverity::Warning: return "warning";
        case LintSeverity::Info: return "info";
    }
    return "info";
}

bool ExportLint::has_errors() const { return count(LintSeverity::Error) > 0; }

int64_t ExportLint::count(LintSeverity s) const {
    return std::count_if(findings.begin(), findings.end(), [s](const LintFinding& f) { return f.severity == s; });
}

const LintFinding* ExportLint::find(const std::string& code) const {
    for (const auto& f : findings) {
        if (f.code == code) return &f;
    }
    return nullptr;
}

json ExportLint::to_json() const {
    json arr = json::array();
    for (const auto& f : findings) {
        arr.push_back({{"severity", lint_severity_name(f.severity)}, {"code", f.code}, {"message", f.message},
                       {"hint", f.hint}});
    }
    return {{"format", format},
            {"errors", count(LintSeverity::Error)},
            {"warnings", count(LintSeverity::Warning)},
            {"info", count(LintSeverity::Info)},
            {"findings", arr}};
}

std::string ExportLint::to_text() const {
    std::ostringstream os;
    const int64_t ne = count(LintSeverity::Error), nw = count(LintSeverity::Warning), ni = count(LintSeverity::Info);
    os << "export lint (" << format << "): " << ne << (ne == 1 ? " error, " : " errors, ") << nw
       << (nw == 1 ? " warning, " : " warnings, ") << ni << " info\n";
    for (const auto& f : findings) {
        std::string sev = lint_severity_name(f.severity);
        sev.resize(8, ' ');
        os << sev << f.code << ": " << f.message << "\n";
        if (!f.hint.empty()) os << "        hint: " << f.hint << "\n";
    }
    return os.str();
}

namespace {

struct Linter {
    const LlamaModel& m;
    const ExportOptions& opt;
    const Target tgt;
    const bool qwen;    // the Qwen MoE layout (qwen2moe, qwen3moe)
    const bool shared;  // the format has a shared expert (qwen2moe)
    const char* arch;
    const LlamaConfig& cfg;
    const int L;
    const Survey s;
    const at::ScalarType out_st;
    ExportLint lint;
    static constexpr LintSeverity E_ = LintSeverity::Error;
    static constexpr LintSeverity W_ = LintSeverity::Warning;
    static constexpr LintSeverity I_ = LintSeverity::Info;

    Linter(const LlamaModel& model, const std::string& format, const ExportOptions& o)
        : m(model), opt(o), tgt(parse_target(format)), qwen(target_spec(tgt).qwen_layout),
          shared(target_spec(tgt).shared_expert), arch(arch_name(tgt)),
          cfg(model.config()), L(static_cast<int>(model.config().n_layer)), s(survey(model)),
          out_st(target_dtype(model, o.dtype)) {
        lint.format = target_name(tgt);
    }
    void add(LintSeverity sev, const std::string& code, const std::string& msg, const std::string& hint = {}) {
        lint.findings.push_back({sev, code, msg, hint});
    }

    /// Layer kinds, one expert count / top-k / width for all layers, shared experts.
    void structure() {
    if (!s.other_layers.empty()) {
        add(E_, "unsupported-ffn",
            str("layers ", join_ints(s.other_layers), " hold a '", m.ffn(s.other_layers[0]).kind(),
                "' block, neither an MoE block nor a SwiGLU FFN"));
    }
    if (s.moe_layers.empty()) {
        add(E_, "no-moe-layers",
            str("the model has no MoE layer (", s.dense_layers.size(), " dense SwiGLU FFNs); ", arch,
                " needs routed experts"),
            "a FLAP-pruned dense model (recipe flap) is a Llama checkpoint with narrower FFNs and down_proj biases, "
            "which no standard MoE format describes; convert with an MoE recipe (random, upcycle, dive) to export");
    }
    if (!s.dense_layers.empty() && !s.moe_layers.empty()) {
        if (!qwen) {
            add(E_, "dense-layers",
                str("layers ", join_ints(s.dense_layers), " are dense FFNs; every Mixtral layer is an MoE block"),
                "export to qwen2moe or qwen3moe, which list dense layers in mlp_only_layers (ECOSYSTEM.md §5.3)");
        } else {
            add(I_, "dense-layers",
                str("layers ", join_ints(s.dense_layers), " are dense FFNs: written as mlp_only_layers with "
                    "intermediate_size ", s.max_dense),
                "mixed dense + MoE layers are native in Transformers; llama.cpp support is unverified "
                "(ECOSYSTEM.md §8)");
        }
    }
    // one expert count, one top-k, one routed width (global config keys)
    std::vector<int> e_mismatch, k_mismatch;
    std::map<int64_t, std::vector<int>> widths;  // width -> layers having it
    for (int il : s.moe_layers) {
        const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
        if (moe.n_experts() != s.n_experts) e_mismatch.push_back(il);
        if (moe.top_k() != s.top_k) k_mismatch.push_back(il);
        for (int64_t e = 0; e < moe.n_experts(); ++e) {
            auto& v = widths[moe.expert(e).width()];
            if (v.empty() || v.back() != il) v.push_back(il);
        }
    }
    if (!e_mismatch.empty()) {
        add(E_, "expert-count-mismatch",
            str("layers ", join_ints(e_mismatch), " have a different number of experts than layer ",
                s.moe_layers[0], " (", s.n_experts, "); ", arch, " has one ",
                qwen ? "num_experts" : "num_local_experts", " for all layers"));
    }
    if (!k_mismatch.empty()) {
        add(E_, "top-k-mismatch",
            str("layers ", join_ints(k_mismatch), " route a different top-k than layer ", s.moe_layers[0], " (",
                s.top_k, "); num_experts_per_tok is one value for all layers"));
    }
    if (widths.size() > 1) {
        std::ostringstream os;
        int shown = 0;
        for (int il : s.moe_layers) {
            const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
            bool uneven = false;
            for (int64_t e = 0; e < moe.n_experts(); ++e) uneven |= moe.expert(e).width() != s.max_width;
            if (!uneven || shown >= 3) continue;
            os << (shown ? "; " : "") << "layer " << il << ": [";
            for (int64_t e = 0; e < moe.n_experts(); ++e) os << (e ? ", " : "") << moe.expert(e).width();
            os << "]";
            ++shown;
        }
        if (opt.pad_experts) {
            int64_t n = 0, n_pad = 0;
            for (int il : s.moe_layers) {
                const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
                for (int64_t e = 0; e < moe.n_experts(); ++e) {
                    n += moe.expert(e).width();
                    n_pad += s.max_width;
                }
            }
            add(I_, "padded-experts",
                str("experts zero-padded to the widest (", s.max_width, " channels; widths ", os.str(),
                    "): exact, +", pct(double(n_pad - n) / double(n)), " expert parameters and compute"),
                "zero rows in gate/up and zero columns in down_proj add exactly zero with SwiGLU (ECOSYSTEM.md §5.3)");
        } else {
            add(E_, "unequal-expert-width",
                str("experts have unequal widths (", s.min_width, " to ", s.max_width, " channels; ", os.str(),
                    "); ", arch, " has one ", qwen ? "moe_intermediate_size" : "intermediate_size",
                    " for every expert and layer"),
                "pass --pad-experts to zero-pad to the widest (exact, wasted compute), or cluster into equal sizes");
        }
    }
    // shared experts
    if (s.any_shared && !shared) {
        std::vector<int> sl;
        for (int il : s.moe_layers)
            if (s.moe[static_cast<size_t>(il)]->shared_expert()) sl.push_back(il);
        add(E_, "shared-expert-unsupported",
            str("layers ", join_ints(sl), " have an always-on shared expert (", s.max_shared,
                " channels); ", arch, " has no shared expert"),
            "export to qwen2moe (one shared expert with a sigmoid gate)");
    }
    if (shared && !s.moe_layers.empty()) {
        std::set<int64_t> sw;
        std::vector<int> no_shared, always_on;
        for (int il : s.moe_layers) {
            const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
            if (const SwiGluFfn* sh = moe.shared_expert()) {
                sw.insert(sh->width());
                if (!moe.router().shared_gate.defined()) always_on.push_back(il);
            } else {
                no_shared.push_back(il);
            }
        }
        if (sw.size() > 1) {
            if (opt.pad_experts) {
                add(I_, "padded-shared-experts",
                    str("shared experts zero-padded to the widest (", s.max_shared, " channels): exact"));
            } else {
                add(E_, "unequal-shared-width",
                    str("shared experts have unequal widths (", *sw.begin(), " to ", *sw.rbegin(),
                        " channels); shared_expert_intermediate_size is one value"),
                    "pass --pad-experts to zero-pad them to the widest (exact)");
            }
        }
        if (!always_on.empty()) {
            add(I_, "shared-gate-emulated",
                str("layers ", join_ints(always_on), ": the always-on shared expert is written with "
                    "shared_expert_gate.weight = 0 (sigmoid = 0.5) and down_proj × 2: exact"));
        }
        if (!no_shared.empty()) {
            const int64_t Ws = s.any_shared ? s.max_shared : opt.zero_shared_width;
            add(I_, "zero-shared-expert",
                str("layers ", join_ints(no_shared), " have no shared expert; Qwen2-MoE always runs one, so an "
                    "all-zero shared expert of width ", Ws, " is written: exact, ", 3 * Ws * cfg.n_embd,
                    " zero parameters per layer"));
        }
        if (s.max_dense > 0 && !s.dense_layers.empty()) {
            std::set<int64_t> dw;
            for (int il : s.dense_layers) dw.insert(s.dense[static_cast<size_t>(il)]->width());
            if (dw.size() > 1 && !opt.pad_experts)
                add(E_, "unequal-dense-width",
                    str("dense layers have unequal widths (", *dw.begin(), " to ", *dw.rbegin(),
                        "); intermediate_size is one value"),
                    "pass --pad-experts to zero-pad them to the widest (exact)");
        }
    }

    }

    /// The gate: renormalisation, temperature, Den2MoEE's prior, null experts, selection bias, scale.
    void routing() {
    std::vector<int> no_renorm, temp_layers, prior_layers, null_layers, sbias_layers, scale_layers, dense_mode,
        den2moee_layers;
    std::set<bool> norms;  // Qwen2-MoE: norm_topk_prob is one value
    for (int il : s.moe_layers) {
        const MoeFfn& moe = *s.moe[static_cast<size_t>(il)];
        const RouterSpec& r = moe.router();
        if (!renormalises(moe)) no_renorm.push_back(il);
        if (moe.top_k() < moe.n_experts()) norms.insert(r.norm_topk);
        if (r.gate == RouterSpec::Gate::Softmax && r.temperature != 1.0) temp_layers.push_back(il);
        if (r.prior.defined() && r.prior_scale != 0.0) prior_layers.push_back(il);
        if (r.n_null() > 0) null_layers.push_back(il);
        if (r.select_bias.defined()) sbias_layers.push_back(il);
        if (r.routed_scale != 1.0) scale_layers.push_back(il);
        if (r.dense && moe.top_k() < moe.n_experts()) dense_mode.push_back(il);
        if (r.gate == RouterSpec::Gate::Den2MoEE) den2moee_layers.push_back(il);
    }
    if (!no_renorm.empty() && !qwen) {
        add(E_, "gate-not-renormalised",
            str("layers ", join_ints(no_renorm), " keep the raw softmax values of the top-", s.top_k,
                " experts (norm_topk = false); Mixtral always renormalises them to sum 1"),
            "export to qwen2moe (norm_topk_prob = false)");
    }
    if (qwen && norms.size() > 1) {
        add(E_, "norm-topk-mismatch", "some layers renormalise the top-k weights and others do not; "
                                      "norm_topk_prob is one value for all layers");
    }
    if (!temp_layers.empty()) {
        add(I_, "router-temperature",
            str("layers ", join_ints(temp_layers), ": the router temperature is folded into the gate weight (W / T): "
                "mathematically exact, rounding-level differences"));
    }
    if (!prior_layers.empty()) {
        add(I_, "prior-folded",
            str("layers ", join_ints(prior_layers), ": the Den2MoEE prior is folded into the gate weight "
                "(W + α·P, the matrix the router evaluates): exact"));
    }
    if (!den2moee_layers.empty() && null_layers.empty() && sbias_layers.empty()) {
        add(I_, "den2moee-gate",
            str("layers ", join_ints(den2moee_layers), " use the Den2MoEE gate; without null experts or a selection "
                "bias it equals softmax → top-k",
                renormalises(*s.moe[size_t(den2moee_layers[0])]) ? " → renormalise" : "", ": exact"));
    }
    if (!null_layers.empty()) {
        const bool renorm = s.moe[size_t(null_layers[0])]->router().norm_topk;
        add(W_, "null-experts-dropped",
            str("layers ", join_ints(null_layers), " have Den2MoEE null experts (",
                s.moe[size_t(null_layers[0])]->router().n_null(), " in layer ", null_layers[0], "); ", arch,
                " has none, so they are dropped: a token that picked a null expert now gets another routed one, "
                "every token uses ", s.top_k, " routed experts (compute-adaptive routing is lost)",
                renorm ? "; tokens that picked routed experts only keep their (renormalised) gates"
                       : "; the softmax no longer includes the null logits, so every gate value changes"),
            "expect a perplexity change (more compute per token); compare den2moe ppl on both folders");
    }
    if (!sbias_layers.empty()) {
        add(W_, "selection-bias-dropped",
            str("layers ", join_ints(sbias_layers), " select experts on probabilities + a selection bias; ", arch,
                " selects on the router logits alone, so the bias is dropped: tokens whose top-k it reorders pick "
                "other experts"),
            "the bias is a load-balancing device; recovery training with the router aux loss replaces it");
    }
    if (!scale_layers.empty()) {
        add(I_, "routed-scale-folded",
            str("layers ", join_ints(scale_layers), ": routed_scale = ",
                s.moe[size_t(scale_layers[0])]->router().routed_scale,
                " is folded into every routed expert's down_proj (× scale): exact up to rounding"));
    }
    if (!dense_mode.empty()) {
        add(W_, "dense-router-mode",
            str("layers ", join_ints(dense_mode), " are in dense (router-training) mode, mixing all experts; the "
                "export routes top-", s.top_k, " sparsely, as the model will be deployed"),
            "the exported logits differ from a dense-mode evaluation; switch the model to sparse routing to compare");
    }

    }

    /// FLAP's down_proj biases (no place in the target format), measured on the probe tokens.
    void biases() {
    std::set<int> bias_layers;
    int64_t n_biased = 0, n_total = 0;
    double max_bnorm = 0;
    for (int il = 0; il < L; ++il) {
        auto visit = [&](const SwiGluFfn& f) {
            ++n_total;
            if (!f.down_bias().defined()) return;
            ++n_biased;
            bias_layers.insert(il);
            max_bnorm = std::max(max_bnorm, f.down_bias().to(at::kFloat).norm().item<double>());
        };
        if (const MoeFfn* moe = s.moe[size_t(il)]) {
            for (int64_t e = 0; e < moe->n_experts(); ++e) visit(moe->expert(e));
            if (moe->shared_expert()) visit(*moe->shared_expert());
        } else if (const SwiGluFfn* d = s.dense[size_t(il)]) {
            visit(*d);
        }
    }
    if (n_biased > 0 && !s.moe_layers.empty()) {
        std::ostringstream effect;
        const std::map<int, double> ratio = probe_bias_effect(m, s, opt.probe_ids, bias_layers);
        if (!ratio.empty()) {
            double mx = 0;
            int at_layer = -1, shown = 0;
            effect << "; relative effect on the block output ‖Σ g·b‖ / ‖output‖ on " << opt.probe_ids.numel()
                   << " probe tokens: ";
            for (const auto& [il, v] : ratio) {
                if (shown++ < 8) effect << (shown > 1 ? ", " : "") << "layer " << il << " " << pct(v);
                if (v > mx) {
                    mx = v;
                    at_layer = il;
                }
            }
            effect << " (max " << pct(mx) << " in layer " << at_layer << ")";
        } else {
            effect << "; largest ‖b‖ = " << max_bnorm << " (pass probe tokens to measure the effect)";
        }
        std::vector<int> bl(bias_layers.begin(), bias_layers.end());
        add(opt.refuse_biases ? E_ : W_, "expert-bias-dropped",
            str(n_biased, " of ", n_total, " FFNs (layers ", join_ints(bl), ") carry FLAP down_proj biases; ", arch,
                " experts have no biases, and a bias cannot be folded exactly into any other tensor of the format, "
                "so they are dropped", effect.str()),
            opt.refuse_biases
                ? "export a bias-free recipe (random, upcycle), or drop --refuse-biases to accept the change"
                : "the exported logits differ by the bias effect; short recovery training absorbs it, or pass "
                  "--refuse-biases (or --strict) to refuse");
    }

    }

    /// Deployment alignment (ECOSYSTEM.md §5.4): widths for llama.cpp's k-quants and vLLM's kernels.
    void alignment() {
    if (!s.moe_layers.empty()) {
        const int64_t tp = std::max<int64_t>(1, opt.tensor_parallel);
        std::vector<std::pair<std::string, int64_t>> ws = {{qwen ? "moe_intermediate_size" : "intermediate_size",
                                                            s.max_width}};
        if (shared)
            ws.push_back({"shared_expert_intermediate_size", s.any_shared ? s.max_shared : opt.zero_shared_width});
        for (const auto& [key, w] : ws) {
            if (w % 256 != 0)
                add(W_, "width-not-multiple-256",
                    str(key, " = ", w, " is not a multiple of 256: llama.cpp's k-quants need rows divisible by 256, "
                        "so down_proj falls back to another quantisation type"),
                    w > 256 ? str("choose an expert count or pruning ratio giving a multiple of 256 (", w / 256 * 256,
                                  " or ", (w / 256 + 1) * 256, ")")
                            : std::string("choose an expert count or pruning ratio giving a width of 256"));
            if (w % (128 * tp) != 0)
                add(W_, "width-not-multiple-tp",
                    str(key, " = ", w, " is not a multiple of 128 × TP = ", 128 * tp,
                        ": vLLM's fused-MoE kernels need a per-rank width that is a multiple of 128 (FP8 blocks, "
                        "Marlin tiles) at tensor-parallel size ", tp),
                    "multiples of 1024 cover TP ≤ 8");
        }
        if (s.n_experts & (s.n_experts - 1))
            add(W_, "experts-not-power-of-two",
                str(s.n_experts, " experts is not a power of two: llama.cpp's GPU top-k (bitonic argsort) needed "
                                 "one; the CPU backend does not"),
                "re-check on the current llama.cpp release if GGUF/GPU deployment is the goal (ECOSYSTEM.md §5.4, §8)");
    }

    }

    /// The attention: the target's must compute the model's (io/hf_config.h ArchSpec of both).
    void attention() {
    const ArchSpec& ta = *find_arch(target_spec(tgt).attention);
    const ArchSpec* ma = find_arch(cfg.architecture);
    const std::string fit = ma && *ma->moe_export ? str("export to ", ma->moe_export, ", whose attention is the model's")
                                                  : std::string("export to mixtral or qwen2moe");
    if (cfg.qk_norm != ta.qk_norm)
        add(E_, "attention-mismatch",
            cfg.qk_norm ? str("the model (", cfg.architecture, ") RMS-normalises each q/k head before RoPE; ", arch,
                              " has no q_norm/k_norm")
                        : str(arch, " RMS-normalises each q/k head before RoPE (q_norm/k_norm); the model (",
                              cfg.architecture, ") does not, and no norm weight makes it the identity"),
            fit);
    if (cfg.qkv_bias && !ta.qkv_bias)
        add(E_, "attention-mismatch",
            str("the model (", cfg.architecture, ") has q/k/v biases; ", arch, " has none"), fit);
    if (ta.qkv_bias && !cfg.qkv_bias)
        add(I_, "qkv-zero-bias",
            "Qwen2 attention has q/k/v biases; they are written as zeros (qkv_bias = true): exact");
    if (ta.qkv_bias && cfg.qkv_bias)
        add(I_, "qkv-bias", "the model's q/k/v biases are written as they are (qkv_bias = true)");
    if (ta.qk_norm && cfg.qk_norm)
        add(I_, "qk-norm", "the model's per-head q/k RMSNorm weights are written as q_norm/k_norm");
    }

    /// The trunk and the folder: tied embeddings, head_dim, RoPE order, dtype, tokenizer files.
    void trunk() {
    if (cfg.tie_word_embeddings)
        add(I_, "tied-embeddings", "tie_word_embeddings = true: lm_head.weight is not written; loaders tie it");
    if (cfg.head_dim * cfg.n_head != cfg.n_embd) {
        if (tgt == Target::Qwen2Moe)
            add(E_, "head-dim", str("head_dim ", cfg.head_dim, " × ", cfg.n_head, " heads ≠ hidden_size ", cfg.n_embd,
                                    "; Qwen2-MoE derives head_dim as hidden_size / heads"));
        else if (tgt == Target::Mixtral)
            add(W_, "head-dim", str("head_dim ", cfg.head_dim, " × ", cfg.n_head, " heads ≠ hidden_size ", cfg.n_embd,
                                    "; written as config head_dim, which older Transformers releases ignore"));
    }
    if (cfg.rope_style == RopeStyle::Interleaved)
        add(I_, "rope-permuted", "the model rotates adjacent RoPE pairs (llama2.c); q/k rows are permuted per head "
                                 "to Hugging Face's half-split order: exact");
    attention();
    if (out_st != m.scalar_type())
        add(I_, "dtype-cast",
            str("weights are written as ", hf_dtype_name(out_st), " (the model holds ", hf_dtype_name(m.scalar_type()),
                ")", out_st == at::kFloat ? ": exact" : ": rounding may change the routing of near-tied tokens"));
    if (!s.moe_layers.empty())
        add(I_, "router-aux-loss",
            str("output_router_logits = false, router_aux_loss_coef = ", qwen ? "0.001" : "0.02",
                " (inference defaults)"),
            "for recovery training set output_router_logits = true so the load-balancing loss takes effect "
            "(ECOSYSTEM.md §5.2)");
    {
        const auto files = files_to_copy(source_dirs(m, opt), cfg.vocab_size);
        bool tok = files.count(str("tok", cfg.vocab_size, ".bin")) > 0;
        for (const char* n : kTokenizerFiles) tok |= files.count(n) > 0;
        if (!tok)
            add(W_, "no-tokenizer",
                str("no tokenizer file found beside the model (", m.source, ") or its dense source; the export "
                    "will hold weights and config only"),
                "copy tokenizer.model (and tokenizer_config.json) into the export folder by hand");
    }

    }

    ExportLint finish() {
    if (opt.strict) {
        for (auto& f : lint.findings) {
            if (f.severity == W_) {
                f.severity = E_;
                f.hint += f.hint.empty() ? "(an error under --strict)" : " (an error under --strict)";
            }
        }
    }
    std::stable_sort(lint.findings.begin(), lint.findings.end(),
                     [](const LintFinding& a, const LintFinding& b) { return a.severity < b.severity; });
        return lint;
    }
};

}  // namespace

ExportLint lint_export(const LlamaModel& m, const std::string& format, const ExportOptions& opt) {
    Linter l(m, format, opt);
    l.structure();
    l.routing();
    l.biases();
    l.alignment();
    l.trunk();
    return l.finish();
}

}  // namespace den2moe
