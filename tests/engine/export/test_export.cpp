// Hugging Face MoE export (issue 5, item 5): MoE models built in-process from the demo model are
// exported to Mixtral and Qwen2-MoE, read back through load_model, and must give the native logits
// exactly (fp32; the rewrites are exact: prior and routed_scale folding, shared-expert gate
// emulation, zero padding, zero shared expert, zero q/k/v biases, RoPE row permutation). Dropped
// FLAP biases are a warning and the export equals the model without them. The linter's findings,
// atomicity (cancel / error mid-way leaves nothing), sharding, and loader errors naming the tensor.
// The oracle tests (tests/engine/export/tests.cmake) check the files written by
// `writes_oracle_fixtures` with tests/reference/mixtral_oracle.py.
#include <ATen/ATen.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/check.h"

#include "core/error.h"
#include "core/run_context.h"
#include "export/hf_export.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

std::string demo_dir() { return d2m_test::shared_dir() + "/models/demo-llama-7m"; }

const LoadedModel& demo() {
    static LoadedModel lm = load_model(demo_dir(), ComputeDType::F32);
    return lm;
}

struct MoeSpec {
    std::vector<int64_t> widths = {192, 192, 192, 192};  // per expert; must sum to <= F
    int64_t top_k = 2;
    bool bias = false;           // FLAP-style down_proj biases on the experts
    bool shared = false;         // an always-on shared expert (the channels left over, or 128)
    bool shared_gate = false;    // Qwen2-MoE-style sigmoid gate on it
    bool den2moee = false;       // Den2MoEE gate with prior (α = 0.5) and routed_scale = 4
    bool norm_topk = true;
    std::vector<int> dense_layers;  // kept dense (Qwen2-MoE mlp_only_layers)
    uint64_t seed = 7;
};

/// Split each dense FFN of `dense` into experts over disjoint random channel sets, random router.
std::shared_ptr<LlamaModel> make_moe(const LlamaModel& dense, const MoeSpec& s) {
    at::manual_seed(static_cast<int64_t>(s.seed));
    const int L = static_cast<int>(dense.config().n_layer);
    const int64_t D = dense.config().n_embd;
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < L; ++il) {
        const SwiGluFfn& d = dense.dense_ffn(il);
        if (std::find(s.dense_layers.begin(), s.dense_layers.end(), il) != s.dense_layers.end()) {
            ffns.push_back(dense.ffn_ptr(il));
            continue;
        }
        at::Tensor perm = at::randperm(d.width(), at::kLong);
        std::vector<std::shared_ptr<const SwiGluFfn>> ex;
        int64_t start = 0;
        for (int64_t w : s.widths) {
            at::Tensor idx = std::get<0>(perm.narrow(0, start, w).sort());
            start += w;
            at::Tensor b = s.bias ? at::randn({D}) * 0.05 : at::Tensor();
            ex.push_back(std::make_shared<SwiGluFfn>(d.gate().index_select(0, idx), d.up().index_select(0, idx),
                                                     d.down().index_select(1, idx), b, at::kFloat));
        }
        std::shared_ptr<const SwiGluFfn> shared;
        RouterSpec rs;
        const int64_t E = static_cast<int64_t>(s.widths.size());
        rs.weight = (at::rand({E, D}) * 2 - 1) / std::sqrt(double(D)) * 8;  // sharper than init: real routing
        rs.top_k = s.top_k;
        rs.norm_topk = s.norm_topk;
        if (s.shared) {
            const int64_t ws = std::min<int64_t>(128, d.width() - start);
            at::Tensor idx = std::get<0>(perm.narrow(0, d.width() - ws, ws).sort());
            shared = std::make_shared<SwiGluFfn>(d.gate().index_select(0, idx), d.up().index_select(0, idx),
                                                 d.down().index_select(1, idx), at::Tensor(), at::kFloat);
            if (s.shared_gate) rs.shared_gate = at::randn({1, D}) * 0.2;
        }
        if (s.den2moee) {
            rs.gate = RouterSpec::Gate::Den2MoEE;
            rs.prior = at::randn({E, D}) * 0.1;
            rs.prior_scale = 0.5;
            rs.routed_scale = 4.0;
        }
        ffns.push_back(std::make_shared<MoeFfn>(ex, rs, shared, at::kFloat));
    }
    auto m = dense.with_ffns(std::move(ffns));
    m->source = "";  // built in memory: tests pass ExportOptions::source_dir
    return m;
}

/// The same model with every expert's down_proj bias removed (same routers, same weights).
std::shared_ptr<LlamaModel> without_biases(const LlamaModel& m) {
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < m.config().n_layer; ++il) {
        const auto& moe = dynamic_cast<const MoeFfn&>(m.ffn(il));
        std::vector<std::shared_ptr<const SwiGluFfn>> ex;
        for (int64_t e = 0; e < moe.n_experts(); ++e) {
            const SwiGluFfn& f = moe.expert(e);
            ex.push_back(std::make_shared<SwiGluFfn>(f.gate(), f.up(), f.down(), at::Tensor(), at::kFloat));
        }
        ffns.push_back(std::make_shared<MoeFfn>(ex, moe.router(), nullptr, at::kFloat));
    }
    return m.with_ffns(std::move(ffns));
}

ExportOptions opts() {
    ExportOptions o;
    o.source_dir = demo_dir();
    return o;
}

at::Tensor test_ids() {
    at::manual_seed(123);
    return at::randint(3, 4096, {3, 24}, at::kLong);
}

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

std::string fresh(const std::string& name) {
    const std::string d = d2m_test::tmp_dir() + "/" + name;
    fs::remove_all(d);
    return d;
}

/// Leftover temporary folders (".NAME.export-tmp-*") beside `out`.
int leftovers(const std::string& out) {
    int n = 0;
    const std::string stem = "." + fs::path(out).filename().string() + ".export-";
    for (const auto& e : fs::directory_iterator(fs::path(out).parent_path())) {
        if (e.path().filename().string().rfind(stem, 0) == 0) ++n;
    }
    return n;
}

/// Rewrite `dir`'s single model.safetensors through `edit`.
void rewrite(const std::string& dir, const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
    std::map<std::string, at::Tensor> t;
    {
        SafetensorsReader r = SafetensorsReader::open(dir + "/model.safetensors");
        for (const auto& n : r.names()) t[n] = r.get(n);
    }
    edit(t);
    std::vector<std::pair<std::string, at::Tensor>> v(t.begin(), t.end());
    save_safetensors(dir + "/model.safetensors", v);
}

void copy_dir(const std::string& from, const std::string& to) {
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
}

}  // namespace

TEST(mixtral_round_trip_is_exact) {
    auto moe = make_moe(*demo().model, {});
    const std::string out = fresh("mixtral");
    ExportResult r = export_hf(*moe, "mixtral", out, opts());
    CHECK(!r.lint.has_errors());
    CHECK(r.lint.find("width-not-multiple-256") != nullptr);  // 192
    CHECK_EQ(r.n_shards, int64_t{1});
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json",
                          "generation_config.json", "den2moe_provenance.json"})
        CHECK(fs::exists(fs::path(out) / f));
    SafetensorsReader sr = SafetensorsReader::open(out + "/model.safetensors");
    CHECK(sr.has("model.layers.3.block_sparse_moe.experts.2.w1.weight"));
    CHECK(sr.has("model.layers.3.block_sparse_moe.gate.weight"));
    CHECK(!sr.has("model.layers.3.mlp.gate_proj.weight"));
    // w1 = gate_proj, w2 = down_proj, w3 = up_proj
    const auto& ex = dynamic_cast<const MoeFfn&>(moe->ffn(3)).expert(2);
    CHECK(at::equal(sr.get("model.layers.3.block_sparse_moe.experts.2.w1.weight"), ex.gate()));
    CHECK(at::equal(sr.get("model.layers.3.block_sparse_moe.experts.2.w2.weight"), ex.down()));
    CHECK(at::equal(sr.get("model.layers.3.block_sparse_moe.experts.2.w3.weight"), ex.up()));
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(out + "/config.json"));
    CHECK_EQ(cfg["architectures"][0].get<std::string>(), "MixtralForCausalLM");
    CHECK_EQ(cfg["intermediate_size"].get<int64_t>(), 192);
    CHECK_EQ(cfg["num_local_experts"].get<int64_t>(), 4);
    CHECK_EQ(cfg["num_experts_per_tok"].get<int64_t>(), 2);
    CHECK(cfg["sliding_window"].is_null());
    CHECK_EQ(cfg["torch_dtype"].get<std::string>(), "float32");

    LoadedModel back = load_model(out, ComputeDType::F32);
    CHECK_EQ(back.format, "hf-mixtral");
    CHECK_EQ(load_model(out + "/config.json", ComputeDType::F32).format, "hf-mixtral");
    CHECK(back.warnings.empty());
    CHECK_EQ(back.model->ffn(0).kind(), "moe");
    at::Tensor ids = test_ids();
    const double d = max_abs(back.model->forward(ids), moe->forward(ids));
    std::printf("mixtral round trip: max |dlogit| = %.3e\n", d);
    CHECK(d <= 1e-5);
}

TEST(qwen2moe_round_trip_is_exact) {
    // always-on shared expert (gate emulated), Den2MoEE gate with prior and routed_scale folded,
    // raw top-k softmax values (norm_topk_prob = false), layer 2 dense (mlp_only_layers)
    MoeSpec s;
    s.widths = {160, 160, 160, 160};  // + a 128-channel shared expert = the dense 768
    s.shared = true;
    s.den2moee = true;
    s.norm_topk = false;
    s.dense_layers = {2};
    auto moe = make_moe(*demo().model, s);
    const std::string out = fresh("qwen");
    ExportResult r = export_hf(*moe, "qwen2moe", out, opts());
    CHECK(!r.lint.has_errors());
    CHECK(r.lint.find("shared-gate-emulated") != nullptr);
    CHECK(r.lint.find("prior-folded") != nullptr);
    CHECK(r.lint.find("routed-scale-folded") != nullptr);
    CHECK(r.lint.find("dense-layers") != nullptr);
    CHECK(r.lint.find("qkv-zero-bias") != nullptr);
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(out + "/config.json"));
    CHECK_EQ(cfg["model_type"].get<std::string>(), "qwen2_moe");
    CHECK_EQ(cfg["moe_intermediate_size"].get<int64_t>(), 160);
    CHECK_EQ(cfg["shared_expert_intermediate_size"].get<int64_t>(), 128);
    CHECK_EQ(cfg["intermediate_size"].get<int64_t>(), 768);
    CHECK_EQ(cfg["norm_topk_prob"].get<bool>(), false);
    CHECK_EQ(cfg["mlp_only_layers"].size(), size_t{1});
    SafetensorsReader sr = SafetensorsReader::open(out + "/model.safetensors");
    CHECK(sr.has("model.layers.0.mlp.shared_expert_gate.weight"));
    CHECK(sr.has("model.layers.0.self_attn.q_proj.bias"));
    CHECK(sr.has("model.layers.2.mlp.gate_proj.weight"));
    CHECK(!sr.has("model.layers.2.mlp.gate.weight"));

    at::Tensor ids = test_ids();
    at::Tensor ref = moe->forward(ids);
    LoadedModel back = load_model(out, ComputeDType::F32);
    CHECK_EQ(back.format, "hf-qwen2moe");
    CHECK_EQ(back.model->ffn(2).kind(), "swiglu");
    double d = max_abs(back.model->forward(ids), ref);
    const double ref_max = ref.abs().max().item<double>();
    std::printf("qwen2moe round trip (emulated shared gate, folded prior/scale): max |dlogit| = %.3e, "
                "relative to the largest logit %.1e\n", d, d / ref_max);
    // Not bit for bit: the native Den2MoEE gate takes ATen's float softmax, the loaded Qwen2-MoE block
    // the Softmax gate's host top-k (exp in double); both round to float, so ~1e-7 of the gates.
    CHECK(d <= 2e-6 * ref_max);

    // a real sigmoid gate on the shared expert, renormalised top-k, Softmax gate
    MoeSpec s2;
    s2.widths = {160, 160, 160, 160};
    s2.shared = true;
    s2.shared_gate = true;
    auto moe2 = make_moe(*demo().model, s2);
    const std::string out2 = fresh("qwen-gated");
    export_hf(*moe2, "qwen2moe", out2, opts());
    LoadedModel back2 = load_model(out2, ComputeDType::F32);
    d = max_abs(back2.model->forward(ids), moe2->forward(ids));
    std::printf("qwen2moe round trip (sigmoid shared gate): max |dlogit| = %.3e\n", d);
    CHECK(d <= 1e-5);

    // no shared expert: an all-zero one is written, and dropped again on import
    auto moe3 = make_moe(*demo().model, {});
    const std::string out3 = fresh("qwen-noshared");
    ExportResult r3 = export_hf(*moe3, "qwen2moe", out3, opts());
    CHECK(r3.lint.find("zero-shared-expert") != nullptr);
    LoadedModel back3 = load_model(out3, ComputeDType::F32);
    CHECK(dynamic_cast<const MoeFfn&>(back3.model->ffn(0)).shared_expert() == nullptr);
    d = max_abs(back3.model->forward(ids), moe3->forward(ids));
    CHECK(d <= 1e-5);
}

TEST(biases_are_dropped_with_a_measured_warning) {
    MoeSpec s;
    s.bias = true;
    auto biased = make_moe(*demo().model, s);
    auto unbiased = without_biases(*biased);
    ExportOptions o = opts();
    o.probe_ids = test_ids();
    ExportLint lint = lint_export(*biased, "mixtral", o);
    const LintFinding* f = lint.find("expert-bias-dropped");
    CHECK(f != nullptr && f->severity == LintSeverity::Warning);
    if (f) {
        std::printf("%s\n", f->message.c_str());
        CHECK(f->message.find("relative effect") != std::string::npos);
        CHECK(f->message.find("24 of 24") != std::string::npos);
    }
    const std::string out = fresh("biased");
    export_hf(*biased, "mixtral", out, o);
    LoadedModel back = load_model(out, ComputeDType::F32);
    at::Tensor ids = test_ids();
    at::Tensor got = back.model->forward(ids);
    const double d_unbiased = max_abs(got, unbiased->forward(ids));
    const double d_biased = max_abs(got, biased->forward(ids));
    std::printf("biased export: vs bias-free model %.3e, vs biased model %.3e\n", d_unbiased, d_biased);
    CHECK(d_unbiased <= 1e-5);
    CHECK(d_biased > 1e-3);
    // --refuse-biases / --strict: an error, nothing written
    o.refuse_biases = true;
    CHECK(lint_export(*biased, "mixtral", o).find("expert-bias-dropped")->severity == LintSeverity::Error);
    const std::string out2 = fresh("biased-refused");
    CHECK_THROWS_WITH(export_hf(*biased, "mixtral", out2, o), "expert-bias-dropped");
    CHECK(!fs::exists(out2));
    CHECK_EQ(leftovers(out2), 0);
    ExportOptions st = opts();
    st.strict = true;
    CHECK(lint_export(*biased, "qwen2moe", st).has_errors());
}

TEST(linter_findings) {
    const LlamaModel& dense = *demo().model;
    // unequal widths: Mixtral error, --pad-experts info and an exact export
    MoeSpec u;
    u.widths = {256, 192, 160, 160};
    auto uneq = make_moe(dense, u);
    ExportLint l = lint_export(*uneq, "mixtral", opts());
    CHECK(l.find("unequal-expert-width") && l.find("unequal-expert-width")->severity == LintSeverity::Error);
    CHECK(l.has_errors());
    std::printf("%s", l.to_text().c_str());
    ExportOptions pad = opts();
    pad.pad_experts = true;
    l = lint_export(*uneq, "mixtral", pad);
    CHECK(!l.has_errors() && l.find("padded-experts"));
    CHECK(!l.find("width-not-multiple-256"));  // padded to 256
    const std::string out = fresh("padded");
    export_hf(*uneq, "mixtral", out, pad);
    at::Tensor ids = test_ids();
    const double d = max_abs(load_model(out, ComputeDType::F32).model->forward(ids), uneq->forward(ids));
    std::printf("zero-padded experts: max |dlogit| = %.3e\n", d);
    CHECK(d <= 5e-5);  // exact in exact arithmetic; longer GEMM reductions round differently
    // widths multiple of 256 and E = 3: no width warning, a power-of-two warning
    MoeSpec three;
    three.widths = {256, 256, 256};
    l = lint_export(*make_moe(dense, three), "mixtral", opts());
    CHECK(!l.find("width-not-multiple-256") && !l.find("width-not-multiple-tp"));
    CHECK(l.find("experts-not-power-of-two") && l.find("experts-not-power-of-two")->severity == LintSeverity::Warning);
    ExportOptions tp = opts();
    tp.tensor_parallel = 4;  // 256 per 4 ranks = 64 < 128
    CHECK(lint_export(*make_moe(dense, three), "mixtral", tp).find("width-not-multiple-tp"));
    // a shared expert cannot go to Mixtral
    MoeSpec sh;
    sh.widths = {160, 160, 160, 160};
    sh.shared = true;
    l = lint_export(*make_moe(dense, sh), "mixtral", opts());
    CHECK(l.find("shared-expert-unsupported") && l.has_errors());
    CHECK(!lint_export(*make_moe(dense, sh), "qwen2moe", opts()).has_errors());
    // raw top-k values: not Mixtral
    MoeSpec raw;
    raw.norm_topk = false;
    CHECK(lint_export(*make_moe(dense, raw), "mixtral", opts()).find("gate-not-renormalised"));
    CHECK(!lint_export(*make_moe(dense, raw), "qwen2moe", opts()).has_errors());
    // Den2MoEE null experts, selection bias, dense router mode: warnings; --strict makes them errors
    {
        const SwiGluFfn& d0 = dense.dense_ffn(0);
        std::vector<std::shared_ptr<const FeedForward>> ffns;
        for (int il = 0; il < 6; ++il) {
            std::vector<std::shared_ptr<const SwiGluFfn>> ex;
            for (int e = 0; e < 4; ++e)
                ex.push_back(std::make_shared<SwiGluFfn>(d0.gate().narrow(0, 192 * e, 192),
                                                         d0.up().narrow(0, 192 * e, 192),
                                                         d0.down().narrow(1, 192 * e, 192), at::Tensor(), at::kFloat));
            RouterSpec rs;
            rs.gate = RouterSpec::Gate::Den2MoEE;
            rs.weight = at::randn({4, 256});
            rs.null_weight = at::zeros({2, 256});
            rs.select_bias = at::randn({4}) * 0.01;
            rs.top_k = 2;
            rs.dense = true;
            ffns.push_back(std::make_shared<MoeFfn>(ex, rs, nullptr, at::kFloat));
        }
        auto m = dense.with_ffns(ffns);
        l = lint_export(*m, "mixtral", opts());
        CHECK(!l.has_errors());
        CHECK(l.find("null-experts-dropped") && l.find("null-experts-dropped")->severity == LintSeverity::Warning);
        CHECK(l.find("selection-bias-dropped"));
        CHECK(l.find("dense-router-mode"));
        ExportOptions st = opts();
        st.strict = true;
        l = lint_export(*m, "mixtral", st);
        CHECK(l.has_errors() && l.find("null-experts-dropped")->severity == LintSeverity::Error);
    }
    // a dense model (what recipe flap gives): no MoE layer
    l = lint_export(dense, "mixtral", opts());
    CHECK(l.find("no-moe-layers") && l.has_errors());
    CHECK_THROWS_WITH(export_hf(dense, "mixtral", fresh("dense"), opts()), "no-moe-layers");
    CHECK_THROWS_WITH(lint_export(dense, "deepseek", opts()), "unknown export format");
    // JSON report
    nlohmann::json j = lint_export(*uneq, "mixtral", opts()).to_json();
    CHECK(j["errors"].get<int64_t>() >= 1 && j["findings"][0]["severity"] == "error");
}

TEST(export_is_atomic) {
    auto moe = make_moe(*demo().model, {});
    // cancelled after the first of several shards: no folder, no temporary left
    const std::string out = fresh("cancelled");
    RunContext ctx;
    ctx.on_progress = [&](const Progress& p) {
        if (p.step >= 1) ctx.cancel.cancel();
    };
    ExportOptions o = opts();
    o.shard_size = 4 << 20;
    bool cancelled = false;
    try {
        export_hf(*moe, "mixtral", out, o, ctx);
    } catch (const Cancelled&) {
        cancelled = true;
    }
    CHECK(cancelled);
    CHECK(!fs::exists(out));
    CHECK_EQ(leftovers(out), 0);
    // an error after the weights were written (an unreadable tokenizer_config.json): nothing left
    const std::string src = fresh("bad-source");
    fs::create_directories(src);
    fs::copy_file(demo_dir() + "/tokenizer.model", src + "/tokenizer.model");
    CHECK(::mkfifo((src + "/tokenizer_config.json").c_str(), 0644) == 0);
    ExportOptions bad = opts();
    bad.source_dir = src;
    const std::string out2 = fresh("failed");
    CHECK_THROWS_WITH(export_hf(*moe, "mixtral", out2, bad), "tokenizer_config.json");
    CHECK(!fs::exists(out2));
    CHECK_EQ(leftovers(out2), 0);
    // an existing folder that is not an export is refused and left alone
    const std::string other = fresh("not-an-export");
    fs::create_directories(other);
    std::ofstream(other + "/keep.txt") << "mine";
    CHECK_THROWS_WITH(export_hf(*moe, "mixtral", other, opts()), "not an earlier den2moe export");
    CHECK(fs::exists(other + "/keep.txt"));
    // an earlier export is replaced as a whole (here: Qwen2-MoE over Mixtral)
    const std::string re = fresh("replaced");
    export_hf(*moe, "mixtral", re, opts());
    export_hf(*moe, "qwen2moe", re, opts());
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(re + "/config.json"));
    CHECK_EQ(cfg["model_type"].get<std::string>(), "qwen2_moe");
    CHECK_EQ(leftovers(re), 0);
}

TEST(sharded_export_loads_back) {
    auto moe = make_moe(*demo().model, {});
    const std::string out = fresh("sharded");
    ExportOptions o = opts();
    o.shard_size = 3 << 20;  // 3 MB: the 4 MB embedding gets its own shard
    ExportResult r = export_hf(*moe, "qwen2moe", out, o);
    std::printf("sharded: %lld shards, %lld bytes\n", (long long)r.n_shards, (long long)r.bytes);
    CHECK(r.n_shards >= 5);
    CHECK(fs::exists(out + "/model.safetensors.index.json"));
    CHECK(!fs::exists(out + "/model.safetensors"));
    char first[64];
    std::snprintf(first, sizeof first, "/model-00001-of-%05lld.safetensors", (long long)r.n_shards);
    CHECK(fs::exists(out + first));
    nlohmann::json idx = nlohmann::json::parse(std::ifstream(out + "/model.safetensors.index.json"));
    CHECK_EQ(idx["weight_map"].size(), size_t(r.n_tensors));
    CHECK_EQ(idx["metadata"]["total_size"].get<int64_t>(), r.bytes);
    at::Tensor ids = test_ids();
    const double d = max_abs(load_model(out, ComputeDType::F32).model->forward(ids), moe->forward(ids));
    CHECK(d <= 1e-5);
    // bf16 export: stored as bf16, loads, close to the fp32 model
    ExportOptions b = opts();
    b.dtype = "bf16";
    const std::string outb = fresh("bf16");
    export_hf(*moe, "mixtral", outb, b);
    CHECK_EQ(SafetensorsReader::open(outb).info("model.embed_tokens.weight").dtype, StDType::BF16);
    LoadedModel lb = load_model(outb, ComputeDType::BF16);
    at::Tensor ref = moe->forward(ids);
    const double rel = max_abs(lb.model->forward(ids), ref) / ref.abs().max().item<double>();
    std::printf("bf16 export vs fp32 model: rel max err %.3e\n", rel);
    CHECK(rel < 0.1);
}

TEST(interleaved_rope_is_permuted) {
    // stories260K is a llama2.c checkpoint (adjacent RoPE pairs): an upcycled MoE (2 copies, top-1)
    // equals the dense model; exported (half-split rows) and read back it must still equal it
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/stories260K/stories260K.bin", ComputeDType::F32);
    CHECK(lm.model->config().rope_style == RopeStyle::Interleaved);
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < lm.model->config().n_layer; ++il) {
        const SwiGluFfn& d = lm.model->dense_ffn(il);
        auto copy = std::make_shared<SwiGluFfn>(d.gate(), d.up(), d.down(), at::Tensor(), at::kFloat);
        RouterSpec rs;
        rs.weight = at::randn({2, lm.model->config().n_embd});
        rs.top_k = 1;
        ffns.push_back(std::make_shared<MoeFfn>(std::vector<std::shared_ptr<const SwiGluFfn>>{copy, copy}, rs,
                                                nullptr, at::kFloat));
    }
    auto moe = lm.model->with_ffns(ffns);
    moe->source = lm.model->source;
    const std::string out = fresh("stories");
    ExportResult r = export_hf(*moe, "mixtral", out, {});
    CHECK(r.lint.find("rope-permuted") != nullptr);
    CHECK(fs::exists(out + "/tok512.bin"));  // the llama2.c tokenizer travels along
    LoadedModel back = load_model(out, ComputeDType::F32);
    CHECK(back.model->config().rope_style == RopeStyle::HalfSplit);
    at::manual_seed(5);
    at::Tensor ids = at::randint(3, 512, {2, 30}, at::kLong);
    at::Tensor ref = lm.model->forward(ids);
    const double d = max_abs(back.model->forward(ids), ref);
    std::printf("interleaved -> half-split: max |dlogit| vs dense = %.3e\n", d);
    CHECK(d <= 1e-4);
}

TEST(loader_errors_name_the_tensor) {
    auto moe = make_moe(*demo().model, {});
    const std::string good = fresh("good");
    export_hf(*moe, "mixtral", good, opts());
    const std::string q = fresh("good-qwen");
    export_hf(*moe, "qwen2moe", q, opts());
    // a missing expert tensor
    const std::string miss = fresh("missing");
    copy_dir(good, miss);
    rewrite(miss, [](auto& t) { t.erase("model.layers.4.block_sparse_moe.experts.3.w3.weight"); });
    CHECK_THROWS_WITH(load_model(miss, ComputeDType::F32), "model.layers.4.block_sparse_moe.experts.3.w3.weight");
    CHECK_THROWS_WITH(load_model(miss, ComputeDType::F32), "layer 4");
    // a wrong shape
    const std::string shape = fresh("shape");
    copy_dir(good, shape);
    rewrite(shape, [](auto& t) {
        auto& w = t["model.layers.1.block_sparse_moe.experts.0.w2.weight"];
        w = w.narrow(1, 0, 100).contiguous();
    });
    CHECK_THROWS_WITH(load_model(shape, ComputeDType::F32),
                      "model.layers.1.block_sparse_moe.experts.0.w2.weight has shape [256, 100]; "
                      "config.json implies [256, 192]");
    // config and tensors disagree on the expert count
    const std::string count = fresh("count");
    copy_dir(good, count);
    {
        nlohmann::json cfg = nlohmann::json::parse(std::ifstream(count + "/config.json"));
        cfg["num_local_experts"] = 8;
        std::ofstream(count + "/config.json") << cfg.dump(2);
    }
    CHECK_THROWS_WITH(load_model(count, ComputeDType::F32),
                      "block_sparse_moe.gate.weight has shape [4, 256]; config.json implies [8, 256]");
    // non-zero Qwen2 attention biases are read as a Qwen2 attention's (tests/engine/model/test_qwen.cpp)
    const std::string qb = fresh("qkv-bias");
    copy_dir(q, qb);
    rewrite(qb, [](auto& t) { t["model.layers.0.self_attn.k_proj.bias"] = at::ones({128}); });
    LoadedModel biased = load_model(qb, ComputeDType::F32);
    CHECK(biased.model->config().qkv_bias);
    CHECK(biased.model->named_tensors().at("model.layers.0.self_attn.k_proj.bias").eq(1).all().item<bool>());
    // a wrong-shaped one names the tensor
    rewrite(qb, [](auto& t) { t["model.layers.0.self_attn.k_proj.bias"] = at::ones({100}); });
    CHECK_THROWS_WITH(load_model(qb, ComputeDType::F32), "model.layers.0.self_attn.k_proj.bias");
    // an extra tensor is a warning, not an error
    const std::string extra = fresh("extra");
    copy_dir(good, extra);
    rewrite(extra, [](auto& t) { t["model.layers.0.block_sparse_moe.experts.0.w1.bias"] = at::zeros({192}); });
    LoadedModel lm = load_model(extra, ComputeDType::F32);
    CHECK_EQ(lm.warnings.size(), size_t{1});
}

TEST(writes_oracle_fixtures) {
    // Exports + the native model's logits for tests/reference/mixtral_oracle.py (tests.cmake):
    // $D2M_BUILD_DIR/export-oracle/{mixtral,qwen2moe}/ and {mixtral,qwen2moe}_logits.safetensors
    const char* bd = std::getenv("D2M_BUILD_DIR");
    const std::string root = std::string(bd ? bd : d2m_test::tmp_dir()) + "/export-oracle";
    fs::create_directories(root);
    at::Tensor ids = test_ids();
    MoeSpec qs;  // the Qwen2-MoE fixture exercises every rewrite the oracle can see
    qs.widths = {160, 160, 160, 160};
    qs.shared = true;
    qs.den2moee = true;
    qs.norm_topk = false;
    qs.dense_layers = {2};
    const std::pair<const char*, MoeSpec> cases[] = {{"mixtral", MoeSpec{}}, {"qwen2moe", qs}};
    for (const auto& [fmt, spec] : cases) {
        auto moe = make_moe(*demo().model, spec);
        ExportOptions o = opts();
        o.shard_size = 8 << 20;  // the oracle reads the sharded layout too
        ExportResult r = export_hf(*moe, fmt, root + "/" + fmt, o);
        CHECK(r.n_shards > 1);
        at::Tensor logits = moe->forward(ids);
        save_safetensors(root + "/" + fmt + "_logits.safetensors", {{"ids", ids}, {"logits", logits}});
        std::printf("%s fixture: %s (%lld shards, %.2f s)\n", fmt, r.out_dir.c_str(), (long long)r.n_shards,
                    r.seconds);
    }
}

D2M_TEST_MAIN()
