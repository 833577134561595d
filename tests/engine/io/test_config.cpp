// Tests for engine/io/hf_config: the demo config.json, a Mistral-style config (explicit head_dim,
// GQA, list eos), HF defaults, each rejected input with the message it must carry (malformed
// JSON, missing key, wrong type, unsupported architecture/activation, inconsistent heads), and
// the hf_config_to_json -> parse round trip (including the interleaved-RoPE marker).
#include <string>

#include "core/error.h"
#include "io/hf_config.h"
#include "support/check.h"
#include "io_test_util.h"

using namespace den2moe;

namespace {

io_test::ScratchCleanup scratch_cleanup;  // destroyed after the tests ran

const char* kMistral = R"({
  "architectures": ["MistralForCausalLM"],
  "model_type": "mistral",
  "hidden_size": 5120,
  "intermediate_size": 14336,
  "num_hidden_layers": 40,
  "num_attention_heads": 32,
  "num_key_value_heads": 8,
  "head_dim": 128,
  "vocab_size": 131072,
  "max_position_embeddings": 1024000,
  "rms_norm_eps": 1e-05,
  "rope_theta": 1000000.0,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "bos_token_id": 1,
  "eos_token_id": [2, 7],
  "torch_dtype": "bfloat16",
  "hidden_act": "silu"
})";

/// A minimal valid Llama config with `extra` spliced in before the closing brace.
std::string llama_with(const std::string& extra) {
    return R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 172,
               "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 512)" +
           extra + "}";
}

bool same(const LlamaConfig& a, const LlamaConfig& b) {
    return a.architecture == b.architecture && a.model_type == b.model_type &&
           a.vocab_size == b.vocab_size && a.n_embd == b.n_embd && a.n_ff == b.n_ff &&
           a.n_layer == b.n_layer && a.n_head == b.n_head && a.n_head_kv == b.n_head_kv &&
           a.head_dim == b.head_dim && a.max_position_embeddings == b.max_position_embeddings &&
           a.rms_norm_eps == b.rms_norm_eps && a.rope_theta == b.rope_theta &&
           a.tie_word_embeddings == b.tie_word_embeddings && a.rope_style == b.rope_style &&
           a.bos_token_id == b.bos_token_id && a.eos_token_id == b.eos_token_id &&
           a.torch_dtype == b.torch_dtype && a.hidden_act == b.hidden_act;
}

}  // namespace

TEST(parses_demo_config) {
    const std::string path = d2m_test::shared_dir() + "/models/demo-llama-7m/config.json";
    LlamaConfig c = load_hf_config(path);
    CHECK_EQ(c.architecture, std::string("LlamaForCausalLM"));
    CHECK_EQ(c.model_type, std::string("llama"));
    CHECK_EQ(c.n_embd, 256);
    CHECK_EQ(c.n_layer, 6);
    CHECK_EQ(c.n_head, 8);
    CHECK_EQ(c.n_head_kv, 4);
    CHECK_EQ(c.n_ff, 768);
    CHECK_EQ(c.vocab_size, 4096);
    CHECK_EQ(c.head_dim, 32);
    CHECK_EQ(c.kv_dim(), 128);
    CHECK_EQ(c.q_dim(), 256);
    CHECK_EQ(c.max_position_embeddings, 512);
    CHECK_CLOSE(c.rms_norm_eps, 1e-5, 0.0);
    CHECK_CLOSE(c.rope_theta, 10000.0, 0.0);
    CHECK(!c.tie_word_embeddings);
    CHECK(c.rope_style == RopeStyle::HalfSplit);
    CHECK_EQ(c.bos_token_id, 1);
    CHECK_EQ(c.eos_token_id, 2);
    CHECK_EQ(c.torch_dtype, std::string("bfloat16"));
    CHECK_EQ(c.hidden_act, std::string("silu"));
}

TEST(parses_mistral_style_config) {
    LlamaConfig c = parse_hf_config(kMistral, "mistral/config.json");
    CHECK_EQ(c.architecture, std::string("MistralForCausalLM"));
    CHECK_EQ(c.model_type, std::string("mistral"));
    CHECK_EQ(c.head_dim, 128);      // explicit: q_dim (4096) != hidden_size (5120)
    CHECK_EQ(c.q_dim(), 4096);
    CHECK_EQ(c.kv_dim(), 1024);
    CHECK_EQ(c.n_head_kv, 8);
    CHECK_EQ(c.vocab_size, 131072);
    CHECK_EQ(c.max_position_embeddings, 1024000);
    CHECK_CLOSE(c.rope_theta, 1e6, 0.0);
    CHECK_EQ(c.eos_token_id, 2);    // first of the list
    CHECK_EQ(c.torch_dtype, std::string("bfloat16"));
}

TEST(applies_hf_defaults) {
    // No num_key_value_heads / head_dim / architectures-only; eos null; integral floats accepted.
    LlamaConfig c = parse_hf_config(llama_with(R"(, "eos_token_id": null, "rope_theta": 500000)"), "x.json");
    CHECK_EQ(c.n_head_kv, 8);
    CHECK_EQ(c.head_dim, 8);
    CHECK_EQ(c.model_type, std::string("llama"));
    CHECK_EQ(c.eos_token_id, -1);
    CHECK_EQ(c.bos_token_id, 1);
    CHECK_CLOSE(c.rope_theta, 500000.0, 0.0);
    CHECK_EQ(c.torch_dtype, std::string("float32"));
    CHECK(!c.tie_word_embeddings);
    // model_type alone names the architecture.
    LlamaConfig m = parse_hf_config(R"({"model_type": "mistral", "hidden_size": 64.0, "intermediate_size": 128,
        "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 100, "dtype": "float16"})", "m.json");
    CHECK_EQ(m.architecture, std::string("MistralForCausalLM"));
    CHECK_EQ(m.n_embd, 64);
    CHECK_EQ(m.torch_dtype, std::string("float16"));
}

TEST(malformed_json_names_file_and_parser_message) {
    CHECK_THROWS_WITH(parse_hf_config("{\"hidden_size\": 256,, }", "/models/x/config.json"),
                      "config.json at /models/x/config.json is not valid JSON: ");
    CHECK_THROWS_WITH(parse_hf_config("{\"hidden_size\": 256,, }", "/models/x/config.json"), "parse error");
    CHECK_THROWS_WITH(parse_hf_config("[1, 2]", "c.json"), "config.json at c.json is not a JSON object");
    const std::string bad = d2m_test::tmp_dir() + "/broken_config.json";
    io_test::write_bytes(bad, "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": ");
    CHECK_THROWS_WITH(load_hf_config(bad), "config.json at " + bad + " is not valid JSON");
    CHECK_THROWS_WITH(load_hf_config(d2m_test::tmp_dir() + "/absent.json"), "cannot read config.json at ");
}

TEST(missing_and_mistyped_keys_are_named) {
    const std::string no_ff = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 512})";
    CHECK_THROWS_WITH(parse_hf_config(no_ff, "a/config.json"),
                      "config.json at a/config.json lacks the required key \"intermediate_size\"");
    CHECK_THROWS_WITH(parse_hf_config(no_ff, "a/config.json"), "hint: ");
    CHECK_THROWS_WITH(parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": "64"})", "b.json"),
                      "config.json at b.json: key \"hidden_size\" must be an integer, found string \"64\"");
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "tie_word_embeddings": "yes")"), "c.json"),
                      "key \"tie_word_embeddings\" must be true or false");
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "rms_norm_eps": "1e-5")"), "c.json"),
                      "key \"rms_norm_eps\" must be a number");
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "eos_token_id": "</s>")"), "c.json"),
                      "key \"eos_token_id\" must be an integer");
}

TEST(unsupported_models_are_rejected_with_hints) {
    const std::string gemma = R"({"architectures": ["GemmaForCausalLM"], "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 512})";
    CHECK_THROWS_WITH(parse_hf_config(gemma, "g.json"), "declares architecture \"GemmaForCausalLM\"");
    CHECK_THROWS_WITH(parse_hf_config(gemma, "g.json"), "hint: only Llama-family");
    // Qwen2 / Qwen3 are read, their attention extras taken from the architecture table
    const std::string qwen = R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 512})";
    const LlamaConfig q2 = parse_hf_config(qwen, "q.json");
    CHECK(q2.qkv_bias && !q2.qk_norm && q2.model_type == "qwen2");
    CHECK_EQ(q2.attention_extras(1).size(), size_t(3));
    CHECK_EQ(q2.attention_extras(1)[1].first, std::string("model.layers.1.self_attn.k_proj.bias"));
    const LlamaConfig q3 = parse_hf_config(R"({"model_type": "qwen3", "hidden_size": 64, "head_dim": 32,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2,
        "vocab_size": 512, "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}})", "q3.json");
    CHECK(q3.qk_norm && !q3.qkv_bias && q3.architecture == "Qwen3ForCausalLM" && q3.rope_theta == 1e6);
    CHECK_EQ(q3.attention_extras(0)[1].first, std::string("model.layers.0.self_attn.k_norm.weight"));
    CHECK_EQ(q3.attention_extras(0)[1].second, int64_t(32));
    CHECK_THROWS_WITH(parse_hf_config(R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen2",
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 8,
        "vocab_size": 512})", "m.json"), "model_type \"qwen2\" contradicts architectures");
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "hidden_act": "gelu")"), "g.json"),
                      "config.json at g.json: hidden_act \"gelu\" is not supported");
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "attention_bias": true)"), "b.json"), "attention_bias = true");
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "rope_scaling": {"type": "linear", "factor": 2.0})"), "r.json"),
                      "sets rope_scaling");
    CHECK_THROWS_WITH(parse_hf_config(R"({"model_type": "gpt2", "hidden_size": 64})", "n.json"),
                      "has neither \"architectures\" nor a known \"model_type\"");
}

TEST(validate_catches_inconsistent_sizes) {
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "num_key_value_heads": 3)"), "h.json"),
                      "config at h.json: num_attention_heads (8) is not a multiple of num_key_value_heads (3)");
    CHECK_THROWS_WITH(parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 60,
        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 512})", "d.json"),
                      "hidden_size (60) is not divisible by num_attention_heads (8)");
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "num_hidden_layers": 0)"), "z.json"),
                      "config at z.json: num_hidden_layers must be positive, found 0");
    CHECK_THROWS_WITH(parse_hf_config(llama_with(R"(, "head_dim": 7)"), "o.json"), "head_dim (7) must be even");
    LlamaConfig c = parse_hf_config(llama_with(""), "ok.json");
    c.n_head_kv = 0;
    CHECK_THROWS_WITH(c.validate("edited"), "config at edited: num_key_value_heads must be positive");
}

TEST(round_trip_through_json) {
    LlamaConfig demo = load_hf_config(d2m_test::shared_dir() + "/models/demo-llama-7m/config.json");
    const std::string text = hf_config_to_json(demo);
    CHECK(text.find("\"num_key_value_heads\": 4") != std::string::npos);
    CHECK(text.find("\"intermediate_size\": 768") != std::string::npos);
    CHECK(text.find("den2moe_rope_style") == std::string::npos);
    CHECK(same(parse_hf_config(text, "rt"), demo));

    LlamaConfig m = parse_hf_config(kMistral, "m");
    CHECK(same(parse_hf_config(hf_config_to_json(m), "rt"), m));

    // A llama2.c-derived config keeps its RoPE pairing and tied output through the round trip.
    LlamaConfig l2 = parse_hf_config(llama_with(""), "l2");
    l2.rope_style = RopeStyle::Interleaved;
    l2.tie_word_embeddings = true;
    l2.rms_norm_eps = 1e-6;
    l2.eos_token_id = -1;
    LlamaConfig back = parse_hf_config(hf_config_to_json(l2), "rt");
    CHECK(back.rope_style == RopeStyle::Interleaved);
    CHECK(same(back, l2));
}

D2M_TEST_MAIN()
