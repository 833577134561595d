// active_params_per_token (model/active_params.h) by hand on demo-llama-7m's shapes (D 256, 8 heads of
// 32, 4 KV heads, FFN 768, 6 layers, V 4096): the dense model, Den2MoEE top-2 and dense mode (2 shared +
// 6 routed clusters of 96 channels, 1 null expert), DIVE top-1 (8 FLAP experts of 384 with a bias), and
// a Qwen-style attention (q/k/v biases, per-head q/k norms); the loaded dense model agrees with the
// engine's own n_active_params().
#include "support/check.h"

#include "io/hf_config.h"
#include "model/active_params.h"
#include "model/llama.h"
#include "model/loaded_model.h"

using namespace den2moe;

namespace {

LlamaConfig demo_config() {
    LlamaConfig c;
    c.vocab_size = 4096;
    c.n_embd = 256;
    c.n_ff = 768;
    c.n_layer = 6;
    c.n_head = 8;
    c.n_head_kv = 4;
    c.head_dim = 32;
    return c;
}

}  // namespace

TEST(demo_shapes_by_hand) {
    const LlamaConfig c = demo_config();
    // dense: attention q 256x256 + k, v 256x128 + o 256x256 = 196,608 per layer; norms 2 x 256 per layer + 256
    FfnShape dense;
    dense.expert_width = 768;
    ActiveParams a = active_params_per_token(c, std::vector<FfnShape>(6, dense));
    CHECK_EQ(a.attention, int64_t(6 * 196608));
    CHECK_EQ(a.norms, int64_t(3328));
    CHECK_EQ(a.ffn, int64_t(6 * 589824));  // 3 x 256 x 768
    CHECK_EQ(a.router, int64_t(0));
    CHECK_EQ(a.non_embedding(), int64_t(4721920));
    CHECK_EQ(a.embedding_row, int64_t(256));
    CHECK_EQ(a.lm_head, int64_t(4096 * 256));
    // Den2MoEE top-2: shared 192 (147,456) + 2 routed of 96 (2 x 73,728) + router 7 x 256 per layer
    FfnShape d2m;
    d2m.n_experts = 6;
    d2m.n_null = 1;
    d2m.top_k = 2;
    d2m.expert_width = 96;
    d2m.shared_width = 192;
    a = active_params_per_token(c, std::vector<FfnShape>(6, d2m));
    CHECK_EQ(a.ffn, int64_t(6 * (147456 + 2 * 73728)));
    CHECK_EQ(a.router, int64_t(6 * 7 * 256));
    CHECK_EQ(a.non_embedding(), int64_t(2963200));  // docs/den2moee-demo.md: <= 2.96 M
    // dense mode: every routed expert = the dense FFN's 589,824 + the router
    d2m.all_experts = true;
    CHECK_EQ(active_params_per_token(c, std::vector<FfnShape>(6, d2m)).non_embedding(), int64_t(4732672));
    // DIVE top-1: one FLAP expert of 384 channels with its down_proj bias, router 8 x 256
    FfnShape dive;
    dive.n_experts = 8;
    dive.top_k = 1;
    dive.expert_width = 384;
    dive.expert_bias = true;
    a = active_params_per_token(c, std::vector<FfnShape>(6, dive));
    CHECK_EQ(a.ffn, int64_t(6 * (3 * 256 * 384 + 256)));
    CHECK_EQ(a.router, int64_t(6 * 8 * 256));
    CHECK_EQ(a.non_embedding(), int64_t(1179648 + 3328 + 1771008 + 12288));
    // top-k above the routed experts counts each expert once
    dive.top_k = 9;
    CHECK_EQ(active_params_per_token(c, std::vector<FfnShape>(6, dive)).ffn, int64_t(6 * 8 * (3 * 256 * 384 + 256)));
    CHECK_THROWS_WITH(active_params_per_token(c, std::vector<FfnShape>(5, dense)), "5 FFN shapes for a model of 6");
}

TEST(qwen_style_attention_by_hand) {
    LlamaConfig c;
    c.vocab_size = 100;
    c.n_embd = 64;
    c.n_layer = 1;
    c.n_head = 4;
    c.n_head_kv = 2;
    c.head_dim = 32;  // explicit: q is 128 wide, not D
    c.qkv_bias = true;
    c.qk_norm = true;
    FfnShape f;
    f.expert_width = 10;
    const ActiveParams a = active_params_per_token(c, {f});
    // q 64x128 + k, v 64x64 + o 128x64 + biases 128 + 64 + 64 + q/k norms 2 x 32
    CHECK_EQ(a.attention, int64_t(8192 + 2 * 4096 + 8192 + 256 + 64));
    CHECK_EQ(a.ffn, int64_t(3 * 64 * 10));
    CHECK_EQ(a.norms, int64_t(3 * 64));
}

TEST(the_loaded_demo_model_agrees_with_the_engine) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    const ActiveParams a = active_params_per_token(lm.model->config(), ffn_shapes(*lm.model));
    CHECK_EQ(a.non_embedding(), int64_t(4721920));
    // the engine's count reads the whole embedding table (untied head): non-embedding + table + head
    CHECK_EQ(lm.model->n_active_params(), a.non_embedding() + 4096 * 256 + a.lm_head);
}

D2M_TEST_MAIN()
