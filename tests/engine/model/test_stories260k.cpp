// llama2.c reference: stories260K greedy, 200 tokens from BOS, decoded with tok512.bin, must be
// byte-identical to what llama2.c's run.c prints (shared/models/stories260K/expected_greedy_t0_n200.txt).
// Exercises the llama2.c loader (shared classifier), interleaved RoPE, GQA and the KV cache.
#include <fstream>
#include <sstream>

#include "core/run_context.h"
#include "model/generate.h"
#include "model/loaded_model.h"
#include "support/check.h"

using namespace den2moe;

static std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

TEST(greedy_200_tokens_byte_identical_to_run_c) {
    const std::string dir = d2m_test::shared_dir() + "/models/stories260K";
    LoadedModel lm = load_model(dir + "/stories260K.bin", ComputeDType::F32, dir + "/tok512.bin");
    CHECK(lm.model->config().rope_style == RopeStyle::Interleaved);
    std::vector<int> prompt = lm.tokenizer->encode("", true, false);
    CHECK(prompt == std::vector<int>{1});
    GenerateOptions go;
    go.max_new_tokens = 200;
    go.stop_at_eos = false;  // run.c stops at BOS only
    std::string text;
    RunContext ctx;
    auto ids = generate_greedy(*lm.model, prompt, go, ctx, [&](int prev, int next) {
        text += lm.tokenizer->decode_piece(prev, next);
        return true;
    });
    const std::string expected = read_all(dir + "/expected_greedy_t0_n200.txt");
    CHECK_EQ(ids.size(), size_t(200));
    if (text != expected) {
        size_t i = 0;
        while (i < text.size() && i < expected.size() && text[i] == expected[i]) ++i;
        std::fprintf(stderr, "first difference at byte %zu:\n got: %s\nwant: %s\n", i, text.substr(i, 60).c_str(),
                     expected.substr(i, 60).c_str());
    }
    CHECK(text == expected);
}

D2M_TEST_MAIN()
