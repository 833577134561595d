// PEFT adapter writer (export/peft_adapter.h, issue 22): from a training checkpoint written here by hand
// (the trainer's layout: master:<module>.lora_A/B.weight + den2moe_train_state), the adapter holds PEFT's
// keys with our masters' exact values and PEFT's config; an interleaved-RoPE model (llama2.c's stories260K)
// gets lora_B's q/k rows in the export's half-split order (row h·Dh + 2i + j -> h·Dh + j·Dh/2 + i, by hand);
// everything an adapter cannot carry is refused before anything is written. tests/interop/check_peft.py
// loads the result in PEFT itself.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/check.h"

#include "core/run_context.h"
#include "export/peft_adapter.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"

using namespace den2moe;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const LoadedModel& demo() {
    static LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    return lm;
}

/// A training folder holding only checkpoint.safetensors with `masters` (name without "master:").
std::string make_run(const std::string& name, const std::map<std::string, at::Tensor>& masters, int64_t rank = 4) {
    const std::string dir = d2m_test::tmp_dir() + "/" + name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::vector<std::pair<std::string, at::Tensor>> t;
    for (const auto& kv : masters) {
        t.emplace_back("master:" + kv.first, kv.second);
        t.emplace_back("exp_avg:" + kv.first, at::zeros_like(kv.second));
    }
    const json state = {{"format", "den2moe-train-checkpoint-v1"},
                        {"step", 7},
                        {"source_model", "/src/moe"},
                        {"source_hash", "abc"},
                        {"settings", {{"lora_rank", rank}, {"lora_alpha", 16.0}, {"lora_dropout", 0.1}}}};
    save_safetensors(dir + "/checkpoint.safetensors", t, {{"den2moe_train_state", state.dump()}});
    return dir;
}

at::Tensor rnd(std::vector<int64_t> shape, uint64_t seed) {
    at::manual_seed(static_cast<int64_t>(seed));
    return at::randn(shape);
}

}  // namespace

TEST(adapter_keys_values_and_config) {
    const LlamaConfig& c = demo().model->config();
    CHECK(c.rope_style == RopeStyle::HalfSplit);
    const int64_t r = 4, D = c.n_embd;
    const at::Tensor Aq = rnd({r, D}, 1), Bq = rnd({c.q_dim(), r}, 2), Av = rnd({r, D}, 3), Bv = rnd({c.kv_dim(), r}, 4);
    const std::string run = make_run("peft_ok", {{"model.layers.0.self_attn.q_proj.lora_A.weight", Aq},
                                                 {"model.layers.0.self_attn.q_proj.lora_B.weight", Bq},
                                                 {"model.layers.5.self_attn.v_proj.lora_A.weight", Av},
                                                 {"model.layers.5.self_attn.v_proj.lora_B.weight", Bv}});
    const std::string out = d2m_test::tmp_dir() + "/peft_ok_adapter";
    fs::remove_all(out);
    const PeftAdapterResult res = write_peft_adapter(*demo().model, run, "mixtral", out, null_context());
    CHECK_EQ(res.rank, 4);
    CHECK_EQ(res.train_step, 7);
    CHECK_EQ(res.target_modules.size(), size_t(2));
    SafetensorsReader a = SafetensorsReader::open(out + "/adapter_model.safetensors");
    CHECK_EQ(a.names().size(), size_t(4));
    CHECK(at::equal(a.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), Aq));
    CHECK(at::equal(a.get("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"), Bq));  // half-split: as is
    CHECK(at::equal(a.get("base_model.model.model.layers.5.self_attn.v_proj.lora_B.weight"), Bv));
    const json cfg = json::parse(std::ifstream(out + "/adapter_config.json"));
    CHECK_EQ(cfg.at("peft_type").get<std::string>(), std::string("LORA"));
    CHECK_EQ(cfg.at("r").get<int64_t>(), 4);
    CHECK_CLOSE(cfg.at("lora_alpha").get<double>(), 16.0, 0);
    CHECK(cfg.at("target_modules") ==
          json({"model.layers.0.self_attn.q_proj", "model.layers.5.self_attn.v_proj"}));
    CHECK(fs::exists(out + "/den2moe_adapter.json"));
    // an earlier adapter folder is replaced as a whole
    write_peft_adapter(*demo().model, run, "qwen2moe", out, null_context());
    CHECK(fs::exists(out + "/adapter_config.json"));
}

TEST(interleaved_rope_permutes_lora_b_rows_as_the_export) {
    static LoadedModel st = load_model(d2m_test::shared_dir() + "/models/stories260K/stories260K.bin", ComputeDType::F32,
                                       d2m_test::shared_dir() + "/models/stories260K/tok512.bin");
    const LlamaConfig& c = st.model->config();
    CHECK(c.rope_style == RopeStyle::Interleaved);
    const int64_t r = 2, Dh = c.head_dim;
    const at::Tensor B = at::arange(c.kv_dim() * r, at::kFloat).reshape({c.kv_dim(), r});
    const std::string run = make_run("peft_il", {{"model.layers.1.self_attn.k_proj.lora_A.weight", rnd({r, c.n_embd}, 5)},
                                                 {"model.layers.1.self_attn.k_proj.lora_B.weight", B}}, r);
    const std::string out = d2m_test::tmp_dir() + "/peft_il_adapter";
    fs::remove_all(out);
    write_peft_adapter(*st.model, run, "mixtral", out, null_context());
    const at::Tensor Bw = SafetensorsReader::open(out + "/adapter_model.safetensors")
                              .get("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight");
    int64_t bad = 0;
    for (int64_t h = 0; h < c.n_head_kv; ++h)
        for (int64_t i = 0; i < Dh / 2; ++i)
            for (int64_t j = 0; j < 2; ++j)
                bad += !at::equal(Bw[h * Dh + j * (Dh / 2) + i], B[h * Dh + 2 * i + j]);
    CHECK_EQ(bad, 0);
}

TEST(refuses_what_an_adapter_cannot_carry) {
    const LlamaModel& m = *demo().model;
    const int64_t D = m.config().n_embd;
    const std::string out = d2m_test::tmp_dir() + "/peft_refused";
    fs::remove_all(out);
    const at::Tensor A = rnd({4, D}, 1), B = rnd({D, 4}, 2);
    const std::string extra = make_run("peft_norm", {{"model.layers.0.self_attn.o_proj.lora_A.weight", A},
                                                     {"model.layers.0.self_attn.o_proj.lora_B.weight", B},
                                                     {"model.norm.weight", at::ones({D})}});
    CHECK_THROWS_WITH(write_peft_adapter(m, extra, "mixtral", out, null_context()), "besides its LoRA (model.norm.weight");
    const std::string expert = make_run("peft_expert", {{"model.layers.0.mlp.experts.1.up_proj.lora_A.weight", A},
                                                        {"model.layers.0.mlp.experts.1.up_proj.lora_B.weight", B}});
    CHECK_THROWS_WITH(write_peft_adapter(m, expert, "mixtral", out, null_context()), "routed experts are fused");
    const std::string half = make_run("peft_half", {{"model.layers.0.self_attn.o_proj.lora_A.weight", A}});
    CHECK_THROWS_WITH(write_peft_adapter(m, half, "mixtral", out, null_context()), "only one of lora_A / lora_B");
    const std::string norank = make_run("peft_r0", {{"model.norm.weight", at::ones({D})}}, 0);
    CHECK_THROWS_WITH(write_peft_adapter(m, norank, "mixtral", out, null_context()), "trained no LoRA");
    CHECK_THROWS_WITH(write_peft_adapter(m, d2m_test::shared_dir() + "/models/demo-llama-7m", "mixtral", out,
                                         null_context()),
                      "has no checkpoint.safetensors");
    CHECK_THROWS_WITH(write_peft_adapter(m, expert, "llama", out, null_context()), "unknown export format");
    const std::string wrong = make_run("peft_wrong", {{"model.layers.0.self_attn.k_proj.lora_A.weight", A},
                                                      {"model.layers.0.self_attn.k_proj.lora_B.weight", B}});
    CHECK_THROWS_WITH(write_peft_adapter(m, wrong, "mixtral", out, null_context()), "does not fit");  // k is [kv_dim, D]
    CHECK(!fs::exists(out));  // nothing written by any refusal
    // a folder that is not an adapter is never replaced
    const std::string other = d2m_test::tmp_dir() + "/peft_not_adapter";
    fs::create_directories(other);
    std::ofstream(other + "/notes.txt") << "mine";
    const std::string ok = make_run("peft_ok2", {{"model.layers.0.self_attn.o_proj.lora_A.weight", A},
                                                 {"model.layers.0.self_attn.o_proj.lora_B.weight", B}});
    CHECK_THROWS_WITH(write_peft_adapter(m, ok, "mixtral", other, null_context()), "is not an adapter folder");
    CHECK(fs::exists(other + "/notes.txt"));
}

D2M_TEST_MAIN()
