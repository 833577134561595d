// Tests of issue 20's engine-side hardening in engine/io: write_files_atomic (a shared output folder
// written as one step: other files kept, a name taken by a folder writes nothing, no staging folder
// left), check_finite_weight (NaN / ±Inf found on the stored bits of f32, bf16, f16 and f64, the count
// and the first index named; finite extremes and subnormals pass), check_fits_context, config.json
// sizes far beyond any model, and a llama2.c header whose sizes overflow 64-bit products.
#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "core/error.h"
#include "io/atomic_dir.h"
#include "io/checked_tensors.h"
#include "io/hf_config.h"
#include "io/llama2c.h"
#include "support/check.h"
#include "io_test_util.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

io_test::ScratchCleanup scratch_cleanup;

std::vector<std::string> listing(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST(write_files_atomic_new_folder_appears_whole) {
    const std::string dir = io_test::fresh_dir("wfa_new") + "/out";
    write_files_atomic(dir, {{"a.json", "{}\n"}, {"b.csv", "x,y\n"}}, "mining");
    CHECK(listing(dir) == std::vector<std::string>({"a.json", "b.csv"}));
    CHECK_EQ(io_test::read_bytes(dir + "/b.csv"), std::string("x,y\n"));
    CHECK(listing(fs::path(dir).parent_path().string()) == std::vector<std::string>({"out"}));  // no temporary sibling
}

TEST(write_files_atomic_keeps_other_files_and_replaces_its_own) {
    const std::string dir = io_test::fresh_dir("wfa_keep");
    io_test::write_bytes(dir + "/cache.bin", "cached");
    io_test::write_bytes(dir + "/a.json", "old");
    write_files_atomic(dir, {{"a.json", "new"}, {"b.csv", "b"}}, "cluster");
    CHECK(listing(dir) == std::vector<std::string>({"a.json", "b.csv", "cache.bin"}));
    CHECK_EQ(io_test::read_bytes(dir + "/a.json"), std::string("new"));
    CHECK_EQ(io_test::read_bytes(dir + "/cache.bin"), std::string("cached"));
}

TEST(write_files_atomic_name_taken_by_a_folder_writes_nothing) {
    const std::string dir = io_test::fresh_dir("wfa_taken");
    io_test::write_bytes(dir + "/a.json", "old");
    fs::create_directory(dir + "/b.csv");
    CHECK_THROWS_WITH(write_files_atomic(dir, {{"a.json", "new"}, {"b.csv", "b"}}, "mining"),
                      "mining: " + dir + "/b.csv exists and is not a file");
    CHECK_EQ(io_test::read_bytes(dir + "/a.json"), std::string("old"));  // not half-updated
    CHECK(listing(dir) == std::vector<std::string>({"a.json", "b.csv"}));  // no staging folder left
    // a plain file where the folder should be
    io_test::write_bytes(dir + "/plain", "x");
    CHECK_THROWS_WITH(write_files_atomic(dir + "/plain", {{"a", "b"}}, "mining"), "exists and is not a folder");
}

TEST(check_finite_weight_each_stored_dtype) {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    for (at::ScalarType st : {at::kFloat, at::kBFloat16, at::kHalf, at::kDouble}) {
        at::Tensor t = at::linspace(-3, 3, 6 * 7, at::kDouble).reshape({6, 7}).to(st);  // [6, 7]
        check_finite_weight(t, "w", "f.safetensors");  // finite: passes
        t[2][3] = nan;
        t[4][1] = -inf;
        t[5][6] = inf;
        CHECK_THROWS_WITH(check_finite_weight(t, "model.layers.0.mlp.up_proj.weight", "m.safetensors"),
                          "Tensor model.layers.0.mlp.up_proj.weight in m.safetensors holds 3 non-finite values "
                          "(NaN or Inf) of 42; the first is NaN at [2, 3]");
        t[2][3] = 0.0;
        CHECK_THROWS_WITH(check_finite_weight(t, "w", "m"), "holds 2 non-finite values (NaN or Inf) of 42; the first is -Inf at [4, 1]");
        try {
            check_finite_weight(t, "w", "m");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::InvalidInput);
        }
    }
    // the largest finite values and subnormals are finite; a 1-D tensor over several parallel chunks
    at::Tensor big = at::zeros({300000}, at::kBFloat16);  // [300000]
    big[0] = 3.3895313892515355e38;  // bf16 max
    big[1] = 1e-40;                  // subnormal
    check_finite_weight(big, "big", "f");
    big[299999] = inf;
    CHECK_THROWS_WITH(check_finite_weight(big, "big", "f"), "holds 1 non-finite value (NaN or Inf) of 300000; the first is +Inf at [299999]");
    at::Tensor half = at::full({4}, 65504.0, at::kHalf);  // fp16 max is finite
    check_finite_weight(half, "h", "f");
    check_finite_weight(at::ones({3}, at::kLong), "ids", "f");  // integer tensors pass
    // a non-contiguous view is checked by value
    at::Tensor m = at::zeros({4, 5}, at::kFloat);
    m[1][3] = nan;
    CHECK_THROWS_WITH(check_finite_weight(m.t(), "mt", "f"), "the first is NaN at [3, 1]");
}

TEST(check_fits_context_names_the_setting) {
    LlamaConfig cfg;
    cfg.max_position_embeddings = 512;
    check_fits_context(cfg, 512, "--seq");
    CHECK_THROWS_WITH(check_fits_context(cfg, 513, "--seq"),
                      "--seq = 513 tokens is longer than the model's context of 512 positions");
}

TEST(config_sizes_beyond_any_model_are_refused) {
    const std::string base = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 256, "intermediate_size": 768,
        "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 4096)";
    parse_hf_config(base + "}", "ok.json");
    CHECK_THROWS_WITH(parse_hf_config(base + R"(, "max_position_embeddings": 99999999999})", "c.json"),
                      "max_position_embeddings = 99999999999 is implausibly large");
    CHECK_THROWS_WITH(parse_hf_config(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 256, "intermediate_size": 768,
        "num_hidden_layers": 2, "num_attention_heads": 8, "vocab_size": 4000000000000})", "c.json"),
                      "vocab_size = 4000000000000 is implausibly large");
}

TEST(llama2c_header_overflowing_int64_is_refused) {
    const std::string dir = io_test::fresh_dir("l2c_huge");
    // dim 2^30, hidden 2^30, 2^30 layers: dim * dim * n_layer overflows 64 bits
    const int32_t h[7] = {1 << 30, 1 << 30, 1 << 30, 1, 1, 512, 256};
    io_test::write_bytes(dir + "/huge.bin", std::string(reinterpret_cast<const char*>(h), sizeof h) + std::string(64, '\0'));
    CHECK_THROWS_WITH(load_llama2c(dir + "/huge.bin"), "implies more than 2^62 bytes");
    // sizes that fit in 64 bits but not in this file: the byte count is named
    const int32_t s[7] = {64, 128, 2, 8, 8, 512, 256};
    io_test::write_bytes(dir + "/short.bin", std::string(reinterpret_cast<const char*>(s), sizeof s) + std::string(64, '\0'));
    CHECK_THROWS_WITH(load_llama2c(dir + "/short.bin"), "bytes, but its header (dim 64, hidden_dim 128");
}

D2M_TEST_MAIN()
