// Tests for engine/io/model_files (+ llama2c, tensor_names): loading the demo HF folder and the
// stories260K llama2.c checkpoint (values cross-checked against Python), and each user error with
// its message: truncated .bin, config/weights shape mismatch, missing tensor, wrong dtype,
// malformed or missing config.json; the tied-embedding fill-in; tokenizer lookup.
#include <ATen/ATen.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/llama2c.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "io/tensor_names.h"
// glog (via ATen) defines CHECK / CHECK_EQ too; the test macros replace them.
#undef CHECK
#undef CHECK_EQ
#include "support/check.h"
#include "io_test_util.h"

using namespace den2moe;

using io_test::fresh_dir;
using io_test::read_bytes;
using io_test::write_bytes;

namespace {

io_test::ScratchCleanup scratch_cleanup;  // destroyed after the tests ran

std::string demo_dir() { return d2m_test::shared_dir() + "/models/demo-llama-7m"; }
std::string stories_bin() { return d2m_test::shared_dir() + "/models/stories260K/stories260K.bin"; }

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
    auto pos = s.find(from);
    if (pos == std::string::npos) {
        d2m_test::fail(__FILE__, __LINE__, "fixture text not found: " + from);
        return s;
    }
    return s.replace(pos, from.size(), to);
}

/// A copy of the demo folder: config.json (edited by `edit`) and the weights (a symlink).
std::string demo_copy(const std::string& name, const std::string& from = "", const std::string& to = "") {
    const std::string d = fresh_dir(name);
    std::string cfg = read_bytes(demo_dir() + "/config.json");
    if (!from.empty()) cfg = replace_once(cfg, from, to);
    write_bytes(d + "/config.json", cfg);
    ::unlink((d + "/model.safetensors").c_str());
    CHECK_EQ(::symlink((demo_dir() + "/model.safetensors").c_str(), (d + "/model.safetensors").c_str()), 0);
    return d;
}

/// The demo tensors, minus `drop`, plus `extra`.
std::vector<std::pair<std::string, at::Tensor>> demo_tensors(const std::string& drop,
                                                             std::vector<std::pair<std::string, at::Tensor>> extra = {}) {
    SafetensorsReader r = SafetensorsReader::open(demo_dir());
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& n : r.names())
        if (n != drop) out.emplace_back(n, r.get(n));
    for (auto& e : extra) out.push_back(std::move(e));
    return out;
}

}  // namespace

TEST(tensor_names_table) {
    CHECK_EQ(names::embed_tokens(), std::string("model.embed_tokens.weight"));
    CHECK_EQ(names::final_norm(), std::string("model.norm.weight"));
    CHECK_EQ(names::lm_head(), std::string("lm_head.weight"));
    CHECK_EQ(names::layer_prefix(3), std::string("model.layers.3."));
    CHECK_EQ(names::attn_norm(3), std::string("model.layers.3.input_layernorm.weight"));
    CHECK_EQ(names::ffn_norm(3), std::string("model.layers.3.post_attention_layernorm.weight"));
    CHECK_EQ(names::q_proj(3), std::string("model.layers.3.self_attn.q_proj.weight"));
    CHECK_EQ(names::k_proj(0), std::string("model.layers.0.self_attn.k_proj.weight"));
    CHECK_EQ(names::v_proj(11), std::string("model.layers.11.self_attn.v_proj.weight"));
    CHECK_EQ(names::o_proj(3), std::string("model.layers.3.self_attn.o_proj.weight"));
    CHECK_EQ(names::gate_proj(3), std::string("model.layers.3.mlp.gate_proj.weight"));
    CHECK_EQ(names::up_proj(3), std::string("model.layers.3.mlp.up_proj.weight"));
    CHECK_EQ(names::down_proj(3), std::string("model.layers.3.mlp.down_proj.weight"));
}

TEST(loads_demo_hf_folder) {
    ModelFiles mf = load_model_files(demo_dir());
    CHECK_EQ(mf.format, std::string("hf"));
    CHECK_EQ(mf.source, demo_dir());
    CHECK_EQ(mf.config.n_embd, 256);
    CHECK_EQ(mf.config.n_layer, 6);
    CHECK_EQ(mf.tensors.size(), size_t(6 * 9 + 3));
    CHECK(mf.warnings.empty());
    CHECK_EQ(mf.tokenizer_path, demo_dir() + "/tokenizer.model");
    for (int il = 0; il < 6; ++il) {
        CHECK(mf.tensors.count(names::gate_proj(il)) == 1);
        CHECK(mf.tensors.at(names::k_proj(il)).sizes().vec() == Shape({128, 256}));  // [Hkv*Dh, D]
        CHECK(mf.tensors.at(names::down_proj(il)).sizes().vec() == Shape({256, 768}));  // [D, F]
    }
    const at::Tensor& g = mf.tensors.at("model.layers.0.mlp.gate_proj.weight");  // [F, D], bf16 as stored
    CHECK(g.scalar_type() == at::kBFloat16);
    CHECK_CLOSE(g[0][0].item().toFloat(), 0.07128906, 1e-7);  // python value, see test_safetensors
    CHECK(mf.tensors.at(names::lm_head()).sizes().vec() == Shape({4096, 256}));
    // Same checkpoint through config.json or model.safetensors.
    ModelFiles via_cfg = load_model_files(demo_dir() + "/config.json");
    CHECK_EQ(via_cfg.tensors.size(), size_t(57));
    CHECK(at::equal(via_cfg.tensors.at(names::final_norm()), mf.tensors.at(names::final_norm())));
    ModelFiles via_st = load_model_files(demo_dir() + "/model.safetensors");
    CHECK_EQ(via_st.tensors.size(), size_t(57));
}

TEST(loads_stories260k_llama2c) {
    // Values from /usr/bin/python3: a = np.frombuffer(open(p,'rb').read()[28:], '<f4'), sliced in the
    // file order emb [V,D], attn_norm [L,D], wq, wk [L,kv,D], wv, wo, ffn_norm, w1, w2 [L,D,F], w3, final:
    //   emb[0,0] = -0.29474878, emb[511,63] = -0.4240326, emb[100,5] = 0.23131946
    //   wk[2,31,63] = 0.01866939, wk[2,0,0] = 0.053226728, w2[4,63,171] = -0.0035068716,
    //   w2[4,10,100] = 0.11132434, w3[1,171,0] = -0.009156842, attn_norm[3,7] = 1.0593365,
    //   final[0] = 2.458309, final[63] = 1.7077769
    ModelFiles mf = load_model_files(stories_bin());
    const LlamaConfig& c = mf.config;
    CHECK_EQ(mf.format, std::string("llama2c"));
    CHECK_EQ(c.n_embd, 64);
    CHECK_EQ(c.n_ff, 172);
    CHECK_EQ(c.n_layer, 5);
    CHECK_EQ(c.n_head, 8);
    CHECK_EQ(c.n_head_kv, 4);
    CHECK_EQ(c.head_dim, 8);
    CHECK_EQ(c.vocab_size, 512);
    CHECK_EQ(c.max_position_embeddings, 512);
    CHECK(c.tie_word_embeddings);
    CHECK(c.rope_style == RopeStyle::Interleaved);
    CHECK_CLOSE(c.rms_norm_eps, 1e-5, 0.0);
    CHECK_CLOSE(c.rope_theta, 10000.0, 0.0);
    CHECK_EQ(mf.tensors.size(), size_t(5 * 9 + 3));
    CHECK(mf.warnings.empty());
    CHECK_EQ(mf.tokenizer_path, d2m_test::shared_dir() + "/models/stories260K/tok512.bin");

    auto v = [&](const std::string& n) { return mf.tensors.at(n); };
    CHECK(v(names::embed_tokens()).scalar_type() == at::kFloat);
    CHECK(v(names::k_proj(2)).sizes().vec() == Shape({32, 64}));    // [Hkv*Dh, D]
    CHECK(v(names::down_proj(4)).sizes().vec() == Shape({64, 172})); // [D, F]
    CHECK_CLOSE(v(names::embed_tokens())[0][0].item<float>(), -0.29474878, 1e-7);
    CHECK_CLOSE(v(names::embed_tokens())[511][63].item<float>(), -0.4240326, 1e-7);
    CHECK_CLOSE(v(names::embed_tokens())[100][5].item<float>(), 0.23131946, 1e-7);
    CHECK_CLOSE(v(names::k_proj(2))[31][63].item<float>(), 0.01866939, 1e-7);
    CHECK_CLOSE(v(names::k_proj(2))[0][0].item<float>(), 0.053226728, 1e-7);
    CHECK_CLOSE(v(names::down_proj(4))[63][171].item<float>(), -0.0035068716, 1e-8);
    CHECK_CLOSE(v(names::down_proj(4))[10][100].item<float>(), 0.11132434, 1e-7);
    CHECK_CLOSE(v(names::up_proj(1))[171][0].item<float>(), -0.009156842, 1e-8);
    CHECK_CLOSE(v(names::attn_norm(3))[7].item<float>(), 1.0593365, 1e-6);
    CHECK_CLOSE(v(names::final_norm())[0].item<float>(), 2.458309, 1e-6);
    CHECK_CLOSE(v(names::final_norm())[63].item<float>(), 1.7077769, 1e-6);
    // Shared classifier: lm_head is the embedding itself.
    CHECK(at::equal(v(names::lm_head()), v(names::embed_tokens())));
    CHECK(v(names::lm_head()).data_ptr() == v(names::embed_tokens()).data_ptr());

    Llama2cCheckpoint ck = load_llama2c(stories_bin());
    CHECK_EQ(ck.seq_len, 512);
}

TEST(llama2c_size_and_header_errors) {
    const std::string dir = fresh_dir("llama2c_bad");
    const std::string full = read_bytes(stories_bin());
    const std::string cut = dir + "/cut.bin";
    write_bytes(cut, full.substr(0, full.size() - 4096));
    CHECK_THROWS_WITH(load_model_files(cut), "llama2.c checkpoint " + cut + " is 1052444 bytes, but its header");
    CHECK_THROWS_WITH(load_model_files(cut), "implies 1056540 bytes");
    CHECK_THROWS_WITH(load_model_files(cut), "(expected 1056540, found 1052444)");
    CHECK_THROWS_WITH(load_model_files(cut), "hint: the file is truncated");

    const std::string tiny = dir + "/tiny.bin";
    write_bytes(tiny, full.substr(0, 10));
    CHECK_THROWS_WITH(load_llama2c(tiny), "is 10 bytes long, shorter than its 28-byte header");

    // Unshared classifier (negative vocab) without the classifier bytes: the formula counts them.
    std::string unshared = full;
    const int32_t neg = -512;
    std::memcpy(&unshared[20], &neg, 4);
    write_bytes(dir + "/unshared.bin", unshared);
    CHECK_THROWS_WITH(load_llama2c(dir + "/unshared.bin"), "+ 32768 classifier) (expected 1187612, found 1056540)");
    // ... and with them appended it loads, untied.
    write_bytes(dir + "/unshared.bin", unshared + std::string(512 * 64 * 4, '\0'));
    Llama2cCheckpoint ck = load_llama2c(dir + "/unshared.bin");
    CHECK(!ck.config.tie_word_embeddings);
    CHECK_EQ(ck.config.vocab_size, 512);
    CHECK(ck.tensors.at(names::lm_head()).abs().sum().item<float>() == 0.0f);

    std::string bad_heads = full;
    const int32_t three = 3;
    std::memcpy(&bad_heads[16], &three, 4);  // n_kv_heads = 3 does not divide 8
    write_bytes(dir + "/heads.bin", bad_heads);
    CHECK_THROWS_WITH(load_llama2c(dir + "/heads.bin"), "has an impossible header (dim 64, hidden_dim 172");
    CHECK_THROWS_WITH(load_llama2c(dir + "/absent.bin"), "cannot open llama2.c checkpoint");
}

TEST(config_and_weights_shape_mismatch) {
    const std::string d = demo_copy("mismatch", "\"intermediate_size\": 768", "\"intermediate_size\": 512");
    CHECK_THROWS_WITH(load_model_files(d),
                      "Tensor model.layers.0.mlp.gate_proj.weight has shape [768, 256]; config.json implies [512, 256]");
    CHECK_THROWS_WITH(load_model_files(d), "(tensor in " + d + "/model.safetensors)");
    CHECK_THROWS_WITH(load_model_files(d), "hint: Is config.json from the same checkpoint?");

    const std::string kv = demo_copy("mismatch_kv", "\"num_key_value_heads\": 4", "\"num_key_value_heads\": 8");
    CHECK_THROWS_WITH(load_model_files(kv),
                      "Tensor model.layers.0.self_attn.k_proj.weight has shape [128, 256]; config.json implies [256, 256]");

    // Direct use on a map, with an up_proj of the wrong width in layer 3.
    ModelFiles mf = load_model_files(demo_dir());
    auto tensors = mf.tensors;
    tensors[names::up_proj(3)] = at::zeros({512, 256}, at::kBFloat16);
    CHECK_THROWS_WITH(check_llama_tensors(mf.config, tensors, "my.safetensors"),
                      "Tensor model.layers.3.mlp.up_proj.weight has shape [512, 256]; config.json implies "
                      "[768, 256] (tensor in my.safetensors)");
    // Extra tensors are warnings, not errors.
    tensors = mf.tensors;
    tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = at::zeros({16});
    auto warnings = check_llama_tensors(mf.config, tensors, "my.safetensors");
    CHECK_EQ(warnings.size(), size_t(1));
    CHECK(!warnings.empty() && warnings[0].find("rotary_emb.inv_freq") != std::string::npos);
}

TEST(missing_tensor_and_wrong_dtype) {
    const std::string d = demo_copy("missing");
    ::unlink((d + "/model.safetensors").c_str());
    save_safetensors(d + "/model.safetensors", demo_tensors("model.layers.2.mlp.down_proj.weight"));
    CHECK_THROWS_WITH(load_model_files(d), "Tensor model.layers.2.mlp.down_proj.weight (layer 2 of 6) is missing from " +
                                               d + "/model.safetensors");
    CHECK_THROWS_WITH(load_model_files(d), "num_hidden_layers = 6");

    // lm_head absent and tie_word_embeddings false: an error that points at the flag ...
    const std::string untied = demo_copy("no_lm_head");
    ::unlink((untied + "/model.safetensors").c_str());
    save_safetensors(untied + "/model.safetensors", demo_tensors(names::lm_head()));
    CHECK_THROWS_WITH(load_model_files(untied), "Tensor lm_head.weight is missing from");
    CHECK_THROWS_WITH(load_model_files(untied), "tie_word_embeddings = false");
    // ... and with tie_word_embeddings true, lm_head is filled in from the embedding.
    write_bytes(untied + "/config.json", replace_once(read_bytes(demo_dir() + "/config.json"),
                                                      "\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true"));
    ModelFiles tied = load_model_files(untied);
    CHECK_EQ(tied.tensors.size(), size_t(57));
    CHECK(at::equal(tied.tensors.at(names::lm_head()), tied.tensors.at(names::embed_tokens())));

    // A weight stored as integers is rejected.
    const std::string ints = demo_copy("int_weight");
    ::unlink((ints + "/model.safetensors").c_str());
    save_safetensors(ints + "/model.safetensors",
                     demo_tensors(names::final_norm(), {{names::final_norm(), at::ones({256}, at::kLong)}}));
    CHECK_THROWS_WITH(load_model_files(ints), "Tensor model.norm.weight in " + ints +
                                                  "/model.safetensors has dtype int64; weights must be float32");

    // An unused extra tensor becomes a warning naming it.
    const std::string extra = demo_copy("extra_tensor");
    ::unlink((extra + "/model.safetensors").c_str());
    save_safetensors(extra + "/model.safetensors", demo_tensors("", {{"model.extra.bias", at::zeros({4})}}));
    ModelFiles with_extra = load_model_files(extra);
    CHECK_EQ(with_extra.warnings.size(), size_t(1));
    CHECK(!with_extra.warnings.empty() && with_extra.warnings[0].find("Unused tensor model.extra.bias") == 0);
}

TEST(sharded_hf_folder) {
    const std::string d = demo_copy("sharded");
    ::unlink((d + "/model.safetensors").c_str());
    auto all = demo_tensors("");
    std::vector<std::pair<std::string, at::Tensor>> s1(all.begin(), all.begin() + 30), s2(all.begin() + 30, all.end());
    save_safetensors(d + "/model-00001-of-00002.safetensors", s1);
    save_safetensors(d + "/model-00002-of-00002.safetensors", s2);
    std::string index = "{\"weight_map\": {";
    for (size_t i = 0; i < all.size(); ++i)
        index += (i ? ", \"" : "\"") + all[i].first + "\": \"model-0000" + (i < 30 ? "1" : "2") + "-of-00002.safetensors\"";
    write_file_atomic(d + "/model.safetensors.index.json", index + "}}");
    ModelFiles mf = load_model_files(d);
    CHECK_EQ(mf.tensors.size(), size_t(57));
    // A wrong shape in the second shard names that shard.
    write_bytes(d + "/config.json", replace_once(read_bytes(demo_dir() + "/config.json"),
                                                 "\"vocab_size\": 4096", "\"vocab_size\": 4000"));
    CHECK_THROWS_WITH(load_model_files(d), "Tensor model.embed_tokens.weight has shape [4096, 256]; config.json implies [4000, 256]");
}

TEST(config_json_errors) {
    const std::string broken = demo_copy("broken_config");
    write_bytes(broken + "/config.json", "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 256,");
    CHECK_THROWS_WITH(load_model_files(broken), "config.json at " + broken + "/config.json is not valid JSON: ");

    const std::string no_cfg = demo_copy("no_config");
    ::unlink((no_cfg + "/config.json").c_str());
    CHECK_THROWS_WITH(load_model_files(no_cfg), "Folder " + no_cfg + " has no config.json");
    CHECK_THROWS_WITH(load_model_files(no_cfg), "hint: a Hugging Face checkpoint folder holds config.json");

    const std::string no_key = demo_copy("no_key", "\"num_hidden_layers\": 6,", "");
    CHECK_THROWS_WITH(load_model_files(no_key), "lacks the required key \"num_hidden_layers\"");

    CHECK_THROWS_WITH(load_model_files(d2m_test::tmp_dir() + "/nowhere"), "Model path " + d2m_test::tmp_dir() +
                                                                                "/nowhere does not exist");
    const std::string no_weights = fresh_dir("no_weights");
    write_bytes(no_weights + "/config.json", read_bytes(demo_dir() + "/config.json"));
    CHECK_THROWS_WITH(load_model_files(no_weights), "holds neither model.safetensors nor model.safetensors.index.json");
}

TEST(find_tokenizer_beside_models) {
    CHECK_EQ(find_tokenizer(demo_dir(), 4096), demo_dir() + "/tokenizer.model");
    CHECK_EQ(find_tokenizer(demo_dir() + "/", 4096), demo_dir() + "/tokenizer.model");
    CHECK_EQ(find_tokenizer(demo_dir() + "/config.json", 4096), demo_dir() + "/tokenizer.model");
    CHECK_EQ(find_tokenizer(stories_bin(), 512), d2m_test::shared_dir() + "/models/stories260K/tok512.bin");
    CHECK_EQ(find_tokenizer(stories_bin(), 4096), std::string(""));
    const std::string llama_tok = d2m_test::shared_dir() + "/models/llama2_tokenizer";
    CHECK_EQ(find_tokenizer(llama_tok, 32000), llama_tok + "/tokenizer.model");  // .model before .bin
    const std::string only_bin = fresh_dir("only_bin");
    write_bytes(only_bin + "/tokenizer.bin", "x");
    write_bytes(only_bin + "/tok512.bin", "x");
    CHECK_EQ(find_tokenizer(only_bin, 512), only_bin + "/tokenizer.bin");
    CHECK_EQ(find_tokenizer(fresh_dir("no_tok"), 512), std::string(""));
}

D2M_TEST_MAIN()
