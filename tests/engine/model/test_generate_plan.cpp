// plan_generation (issue 20): a prompt longer than the model's context is refused; -n beyond what
// fits is lowered to the context with a warning, as llama2.c's run.c clamps its steps (prompt + new
// tokens = seq_len + 1: the last new token is never fed back); generate_greedy refuses a plan that
// does not fit instead of sizing an unbounded KV cache. Checked by hand on a 512-position config and
// by generating the whole context of stories260K (exactly 512 new tokens after BOS).
#include "core/error.h"
#include "core/run_context.h"
#include "io/hf_config.h"
#include "model/generate.h"
#include "model/loaded_model.h"
#include "support/check.h"

using namespace den2moe;

TEST(plan_by_hand) {
    LlamaConfig cfg;
    cfg.max_position_embeddings = 512;
    GenerateOptions go;
    go.max_new_tokens = 64;
    GenerationPlan p = plan_generation(cfg, 10, go);
    CHECK_EQ(p.options.max_new_tokens, int64_t(64));
    CHECK(p.warning.empty());
    go.max_new_tokens = 503;  // 10 + 503 = 513 tokens: 512 positions fed, the last token only emitted
    p = plan_generation(cfg, 10, go);
    CHECK_EQ(p.options.max_new_tokens, int64_t(503));
    CHECK(p.warning.empty());
    go.max_new_tokens = 99999999;
    p = plan_generation(cfg, 10, go);
    CHECK_EQ(p.options.max_new_tokens, int64_t(503));
    CHECK_EQ(p.warning, std::string("-n 99999999 lowered to 503: the prompt's 10 tokens and the new ones fill the "
                                    "model's context of 512 positions"));
    p = plan_generation(cfg, 512, go);  // a prompt filling the context still gets its one next token
    CHECK_EQ(p.options.max_new_tokens, int64_t(1));
    CHECK_THROWS_WITH(plan_generation(cfg, 513, go), "the prompt = 513 tokens is longer than the model's context of 512");
    go.max_new_tokens = -1;
    CHECK_THROWS_WITH(plan_generation(cfg, 10, go), "-n (new tokens) must be >= 0, got -1");
}

TEST(stories260k_fills_its_context_and_no_more) {
    const std::string dir = d2m_test::shared_dir() + "/models/stories260K";
    LoadedModel lm = load_model(dir + "/stories260K.bin", ComputeDType::F32, dir + "/tok512.bin");
    CHECK_EQ(lm.model->config().max_position_embeddings, int64_t(512));
    const std::vector<int> prompt = {1};
    GenerateOptions go;
    go.max_new_tokens = 1000000;
    go.stop_at_eos = go.stop_at_bos = false;
    RunContext ctx;
    CHECK_THROWS_WITH(generate_greedy(*lm.model, prompt, go, ctx), "longer than the model's context of 512");
    const GenerationPlan plan = plan_generation(lm.model->config(), 1, go);
    CHECK_EQ(plan.options.max_new_tokens, int64_t(512));
    const std::vector<int> ids = generate_greedy(*lm.model, prompt, plan.options, ctx);
    CHECK_EQ(ids.size(), size_t(512));
    for (int id : ids) CHECK(id >= 0 && id < 512);
}

D2M_TEST_MAIN()
