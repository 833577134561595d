// Qwen2 and Qwen3 in Hugging Face layout (issue 17 item 1): tiny random-weight checkpoints written by
// tests/reference/qwen_reference.py (tests.cmake: oracle_qwen_models), whose independent PyTorch forward
// (from transformers' formulas) gives the reference logits. Checked here: the config's architecture
// flags, Infer-mode logits vs the reference (fp32, rel 1e-5, left/right padding), the Train mode equal
// to the Infer mode (rel 1e-5), the KV cache equal to the full pass, named_tensors() reloading to the
// same model; conversion by the upcycle and random recipes with the attention carried over, the native
// save / load and the Qwen2-MoE / Qwen3-MoE exports loading back to the same logits, and the linter
// refusing an export whose attention the target cannot compute.
#include <ATen/ATen.h>

#include <filesystem>

#include "support/check.h"
#include "support/demo_project.h"

#include "convert/convert.h"
#include "core/run_context.h"
#include "export/hf_export.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe_io.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

std::string oracle_dir() {
    const char* p = std::getenv("D2M_QWEN_ORACLE");
    return p ? p : "";
}
std::string model_dir(const std::string& arch) { return oracle_dir() + "/" + arch; }

struct Ref {
    at::Tensor ids, mask, logits;  // [B, T] int64, [B, T] int64, [B, T, V] float32
};
Ref reference(const std::string& arch) {
    auto r = SafetensorsReader::open(oracle_dir() + "/" + arch + "_logits.safetensors");
    return {r.get("ids"), r.get("mask"), r.get("logits_fp32")};
}

// max |a - b| over real (mask = 1) positions / max |b|
double rel_err(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
    at::Tensor d = (a - b).abs().amax(-1).masked_select(mask.to(at::kBool));
    return d.max().item<double>() / b.abs().max().item<double>();
}

const char* const kArchs[] = {"qwen2", "qwen3"};

}  // namespace

TEST(config_flags_come_from_the_architecture) {
    LoadedModel q2 = load_model(model_dir("qwen2"), ComputeDType::F32);
    const LlamaConfig& c2 = q2.model->config();
    CHECK_EQ(c2.model_type, std::string("qwen2"));
    CHECK(c2.qkv_bias && !c2.qk_norm && !c2.tie_word_embeddings);
    CHECK_EQ(c2.head_dim, int64_t(16));
    CHECK_EQ(c2.rope_theta, 1e6);
    CHECK(q2.warnings.empty());
    LoadedModel q3 = load_model(model_dir("qwen3"), ComputeDType::F32);
    const LlamaConfig& c3 = q3.model->config();
    CHECK(!c3.qkv_bias && c3.qk_norm && c3.tie_word_embeddings);
    CHECK_EQ(c3.head_dim, int64_t(32));  // ≠ hidden 64 / 4 heads
    CHECK(q3.warnings.empty());
    // the saved config says what it is, and reads back to the same flags
    const LlamaConfig back = parse_hf_config(hf_config_to_json(c3), "round trip");
    CHECK(back.qk_norm && back.architecture == "Qwen3ForCausalLM" && back.head_dim == 32);
    // an active sliding window is refused, not silently ignored; o_proj biases likewise
    std::string cfg = hf_config_to_json(c2);
    cfg.replace(cfg.find("\"use_sliding_window\": false"), 27, "\"use_sliding_window\": true");
    CHECK_THROWS_WITH(parse_hf_config(cfg, "w.json"), "use_sliding_window = true");
    std::string c3b = hf_config_to_json(c3);
    c3b.replace(c3b.find("\"attention_bias\": false"), 23, "\"attention_bias\": true");
    CHECK_THROWS_WITH(parse_hf_config(c3b, "b.json"), "attention_bias = true");
}

TEST(logits_match_the_reference) {
    for (const char* arch : kArchs) {
        const Ref ref = reference(arch);
        LoadedModel lm = load_model(model_dir(arch), ComputeDType::F32);
        at::Tensor got = lm.model->forward(ref.ids, ref.mask);
        CHECK(got.sizes() == ref.logits.sizes());
        const double err = rel_err(got, ref.logits, ref.mask);
        std::fprintf(stderr, "%s Infer vs reference: rel %.3g\n", arch, err);
        CHECK(err <= 1e-5);
        // the architecture's tensors matter: without them the logits are far off (the test can fail)
        auto t = lm.model->named_tensors();
        for (int il = 0; il < 2; ++il)
            for (const auto& [name, n] : lm.model->config().attention_extras(il))
                t[name] = name.find("norm") != std::string::npos ? at::ones({n}) : at::zeros({n});
        auto plain = LlamaModel::from_tensors(lm.model->config(), t, ComputeDType::F32);
        const double off = rel_err(plain->forward(ref.ids, ref.mask), ref.logits, ref.mask);
        std::fprintf(stderr, "%s without its attention extras: rel %.3g\n", arch, off);
        CHECK(off > 1e-2);
    }
}

TEST(train_mode_equals_infer_mode) {
    for (const char* arch : kArchs) {
        const Ref ref = reference(arch);
        LoadedModel lm = load_model(model_dir(arch), ComputeDType::F32);
        ForwardOptions tr;
        tr.mode = ExecMode::Train;
        at::Tensor a = lm.model->forward(ref.ids, ref.mask);
        at::Tensor b = lm.model->forward(ref.ids, ref.mask, tr);
        const double err = rel_err(b, a, ref.mask);
        std::fprintf(stderr, "%s Train vs Infer: rel %.3g\n", arch, err);
        CHECK(err <= 1e-5);
        CHECK(rel_err(b, ref.logits, ref.mask) <= 1e-5);
        // gradients reach the architecture's own tensors (q_norm is used as given; the biases through the
        // fused [q; k; v] bias, a differentiable concatenation of them)
        auto params = lm.model->named_tensors();
        const std::string name = arch == std::string("qwen3") ? names::q_norm(1) : names::attn_bias(1, "k_proj");
        at::Tensor w = params.at(name).clone().requires_grad_(true);
        params[name] = w;
        auto m2 = LlamaModel::from_tensors(lm.model->config(), params, ComputeDType::F32);
        m2->forward(ref.ids, ref.mask, tr).pow(2).mean().backward();
        CHECK(w.grad().defined() && w.grad().abs().max().item<double>() > 0);
    }
}

TEST(kv_cache_equals_the_full_pass) {
    for (const char* arch : kArchs) {
        const Ref ref = reference(arch);
        LoadedModel lm = load_model(model_dir(arch), ComputeDType::F32);
        at::Tensor ids = ref.ids.narrow(0, 0, 1);  // the unpadded row
        const int64_t T = ids.size(1);
        KVCache cache = lm.model->new_cache(1, T);
        ForwardOptions o;
        o.cache = &cache;
        lm.model->forward(ids.narrow(1, 0, T - 3), {}, o);
        at::Tensor tail = lm.model->forward(ids.narrow(1, T - 3, 3), {}, o);  // [1, 3, V]
        at::Tensor want = ref.logits.narrow(0, 0, 1).narrow(1, T - 3, 3);
        const double err = ((tail - want).abs().max() / want.abs().max()).item<double>();
        std::fprintf(stderr, "%s KV cache vs reference: rel %.3g\n", arch, err);
        CHECK(err <= 1e-5);
    }
}

TEST(named_tensors_reload_to_the_same_model) {
    for (const char* arch : kArchs) {
        const Ref ref = reference(arch);
        LoadedModel lm = load_model(model_dir(arch), ComputeDType::F32);
        auto t = lm.model->named_tensors();
        const LlamaConfig& c = lm.model->config();
        for (int il = 0; il < 2; ++il)
            for (const auto& [name, n] : c.attention_extras(il)) CHECK(t.count(name) && t.at(name).numel() == n);
        CHECK_EQ(t.count(names::lm_head()), size_t(c.tie_word_embeddings ? 0 : 1));
        auto again = LlamaModel::from_tensors(c, t, ComputeDType::F32);
        CHECK(again->forward(ref.ids, ref.mask).equal(lm.model->forward(ref.ids, ref.mask)));
    }
}

namespace {

/// `arch` converted by `recipe` on the tiny demo project (4 windows of 64 tokens per domain): 4 experts
/// top-2 (upcycle, random), two clusters at ratio 0.5 (dive), 8 experts top-2 (den2moee).
ConvertResult convert(const LoadedModel& lm, const std::string& arch, Recipe recipe) {
    ConvertSettings s;
    s.recipe = recipe;
    s.top_k = 2;
    s.n_experts = recipe == Recipe::Den2MoEE ? 8 : 4;
    ProjectClusters cl;
    if (recipe == Recipe::Dive) {
        s.ratio = 0.5;
        cl.names = {"math", "prose"};
        cl.members = {{"gsm8k", "mmlu_stem"}, {"wiki", "stories"}};
        cl.manual = true;
    }
    return convert_model(d2m_test::tiny_demo_project(), lm.model, *lm.tokenizer, str("qwen-", arch), cl, s,
                         null_context());
}

/// Saved as a native MoE folder and loaded back: rel difference of the logits, and the loaded model.
double native_round_trip(const ConvertResult& r, const LoadedModel& lm, const std::string& dir, const Ref& ref) {
    save_moe_native(*r.model, r.moe_config, r.provenance, dir, lm.tokenizer_path);
    LoadedModel back = load_model(dir, ComputeDType::F32);
    CHECK(back.model->config().qk_norm == lm.model->config().qk_norm);
    CHECK(back.model->config().qkv_bias == lm.model->config().qkv_bias);
    return rel_err(back.model->forward(ref.ids, ref.mask), r.model->forward(ref.ids, ref.mask), ref.mask);
}

}  // namespace

TEST(converted_saved_and_exported_keep_the_logits) {
    const std::string root = d2m_test::tmp_dir() + "/qwen-convert";
    fs::remove_all(root);
    for (const char* arch : kArchs) {
        const Ref ref = reference(arch);
        LoadedModel lm = load_model(model_dir(arch), ComputeDType::F32);
        const at::Tensor dense = lm.model->forward(ref.ids, ref.mask);
        const std::string fmt = arch == std::string("qwen2") ? "qwen2moe" : "qwen3moe";
        for (Recipe recipe : {Recipe::Upcycle, Recipe::Random}) {
            ConvertResult r = convert(lm, arch, recipe);
            CHECK(r.model->config().qkv_bias == lm.model->config().qkv_bias);
            CHECK(r.model->config().qk_norm == lm.model->config().qk_norm);
            const at::Tensor moe = r.model->forward(ref.ids, ref.mask);
            if (recipe == Recipe::Upcycle) {  // copies of the dense FFN, weights summing to 1: the dense model
                const double err = rel_err(moe, dense, ref.mask);
                std::fprintf(stderr, "%s upcycled vs dense: rel %.3g\n", arch, err);
                CHECK(err <= 1e-5);
            }
            // native folder: the attention's tensors saved and read back
            const std::string nat = str(root, "/", arch, "-", recipe_name(recipe));
            CHECK(native_round_trip(r, lm, nat, ref) <= 1e-6);
            // the Hugging Face MoE export of the same architecture family, read back
            ExportOptions eo;
            eo.source_dir = model_dir(arch);
            const ExportLint lint = lint_export(*r.model, fmt, eo);
            CHECK(!lint.has_errors());
            CHECK(lint.find(arch == std::string("qwen2") ? "qkv-bias" : "qk-norm") != nullptr);
            const std::string out = nat + "-" + fmt;
            export_hf(*r.model, fmt, out, eo);
            LoadedModel hf = load_model(out, ComputeDType::F32);
            CHECK_EQ(hf.format, "hf-" + fmt);
            const double err = rel_err(hf.model->forward(ref.ids, ref.mask), moe, ref.mask);
            std::fprintf(stderr, "%s %s -> %s: rel %.3g\n", arch, recipe_name(recipe), fmt.c_str(), err);
            CHECK(err <= 1e-6);
            // formats whose attention differs are refused, naming the fitting one
            const ExportLint mx = lint_export(*r.model, "mixtral", eo);
            CHECK(mx.has_errors() && mx.find("attention-mismatch"));
            CHECK(mx.find("attention-mismatch")->hint.find(fmt) != std::string::npos);
            const ExportLint other = lint_export(*r.model, fmt == "qwen2moe" ? "qwen3moe" : "qwen2moe", eo);
            CHECK(other.has_errors() && other.find("attention-mismatch"));
        }
    }
}

TEST(every_recipe_family_converts_them) {
    // DIVE (calibration statistics through the hook sites, FLAP-pruned experts) and Den2MoEE (spherical
    // k-means partition, shared + null experts): the attention is the dense model's, tensor for tensor
    const std::string root = d2m_test::tmp_dir() + "/qwen-recipes";
    fs::remove_all(root);
    for (const char* arch : kArchs) {
        const Ref ref = reference(arch);
        LoadedModel lm = load_model(model_dir(arch), ComputeDType::F32);
        for (Recipe recipe : {Recipe::Dive, Recipe::Den2MoEE}) {
            ConvertResult r = convert(lm, arch, recipe);
            const auto dense_t = lm.model->named_tensors();
            const auto moe_t = r.model->named_tensors();
            for (int il = 0; il < 2; ++il) {
                CHECK_EQ(r.model->ffn(il).kind(), std::string("moe"));
                for (const auto& [name, n] : lm.model->config().attention_extras(il))
                    CHECK(moe_t.count(name) && moe_t.at(name).equal(dense_t.at(name)));
            }
            const at::Tensor out = r.model->forward(ref.ids, ref.mask);
            CHECK(at::isfinite(out).all().item<bool>());
            const double err = native_round_trip(r, lm, str(root, "/", arch, "-", recipe_name(recipe)), ref);
            std::fprintf(stderr, "%s %s: native round trip rel %.3g\n", arch, recipe_name(recipe), err);
            CHECK(err <= 1e-6);
        }
    }
}

D2M_TEST_MAIN()
