// validate_ppl (issue 20): perplexity settings are checked before any work, each error naming the
// option; a window longer than the model's context is refused (the demo model has 512 positions).
#include "core/error.h"
#include "eval/ppl_validate.h"
#include "io/hf_config.h"
#include "support/check.h"

using namespace den2moe;

TEST(each_setting_named) {
    LlamaConfig cfg;
    cfg.max_position_embeddings = 512;
    PplOptions ok;
    validate_ppl(ok, cfg);
    ok.seq = 512;
    ok.stride = 512;
    validate_ppl(ok, cfg);
    PplOptions o;
    o.seq = 1;
    CHECK_THROWS_WITH(validate_ppl(o), "--seq must be at least 2, got 1");
    o = PplOptions{};
    o.stride = 257;
    CHECK_THROWS_WITH(validate_ppl(o), "--stride must be in [1, seq = 256], got 257");
    o.stride = -1;
    CHECK_THROWS_WITH(validate_ppl(o), "--stride must be in [1, seq = 256], got -1");
    o = PplOptions{};
    o.max_tokens = -5;
    CHECK_THROWS_WITH(validate_ppl(o), "--max-tokens must be >= 0, got -5");
    o = PplOptions{};
    o.batch = 0;
    CHECK_THROWS_WITH(validate_ppl(o), "--batch must be >= 1, got 0");
    o = PplOptions{};
    o.seq = 1024;
    validate_ppl(o);  // no model: the context is not known yet
    CHECK_THROWS_WITH(validate_ppl(o, cfg), "--seq = 1024 tokens is longer than the model's context of 512 positions");
}

D2M_TEST_MAIN()
