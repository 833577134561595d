// The native MoE loader checks every tensor's shape against moe_config.json, like the Hugging Face
// loaders: a folder with a wrong-shaped expert, a wrong-shaped router or a missing tensor is a user
// error naming the tensor and both shapes (before: "internal invariant failed" or a raw c10::Error).
// Writes the bad folders to $D2M_BUILD_DIR/bad-moe-* for the CLI test that expects exit 1.
#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/check.h"

#include "core/error.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "model/moe_io.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

std::string out_dir(const std::string& name) {
    const char* b = std::getenv("D2M_BUILD_DIR");
    return (fs::path(b && *b ? b : d2m_test::tmp_dir()) / name).string();
}

/// Two upcycled experts per layer of the demo model, saved natively into `dir`.
void write_upcycled(const std::string& dir) {
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    const LlamaModel& m = *lm.model;
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < m.config().n_layer; ++il) {
        auto e = std::make_shared<SwiGluFfn>(m.dense_ffn(il));
        RouterSpec rs;
        rs.weight = at::randn({2, m.config().n_embd});
        ffns.push_back(std::make_shared<MoeFfn>(std::vector<std::shared_ptr<const SwiGluFfn>>{e, e}, rs, nullptr,
                                                at::kFloat));
    }
    auto moe = m.with_ffns(ffns);
    nlohmann::json cfg = {{"format", "den2moe-moe-v1"},
                          {"recipe", "upcycle"},
                          {"num_experts", 2},
                          {"top_k", 1},
                          {"expert_widths", {m.config().n_ff}},
                          {"router", {{"gate", "softmax"}}},
                          {"base", nlohmann::json::parse(hf_config_to_json(m.config()))}};
    save_moe_native(*moe, cfg, nlohmann::json::object(), dir, lm.tokenizer_path);
}

/// Rewrite `dir`'s model.safetensors with `name` replaced by `t` (or removed when undefined).
void replace_tensor(const std::string& dir, const std::string& name, const at::Tensor& t) {
    const std::string file = dir + "/model.safetensors";
    std::vector<std::pair<std::string, at::Tensor>> all;
    {
        SafetensorsReader r = SafetensorsReader::open(file);
        for (const auto& n : r.names()) {
            if (n == name) {
                if (t.defined()) all.emplace_back(n, t);
            } else {
                all.emplace_back(n, r.get(n).clone());
            }
        }
    }
    save_safetensors(file, all);
}

}  // namespace

TEST(native_moe_loader_names_the_tensor_and_both_shapes) {
    const std::string good = out_dir("good-moe");
    write_upcycled(good);
    CHECK(load_model(good, ComputeDType::F32).model != nullptr);

    const std::string bad_expert = out_dir("bad-moe-expert");
    fs::remove_all(bad_expert);
    fs::copy(good, bad_expert, fs::copy_options::recursive);
    replace_tensor(bad_expert, "model.layers.2.mlp.experts.1.up_proj.weight", at::zeros({100, 256}));
    CHECK_THROWS_WITH(load_model(bad_expert, ComputeDType::F32),
                      "Tensor model.layers.2.mlp.experts.1.up_proj.weight has shape [100, 256]; moe_config.json "
                      "implies [768, 256]");
    try {
        load_model(bad_expert, ComputeDType::F32);
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::Incompatible);  // a user error (exit 1), not Internal (exit 2)
    }

    const std::string bad_router = out_dir("bad-moe-router");
    fs::remove_all(bad_router);
    fs::copy(good, bad_router, fs::copy_options::recursive);
    replace_tensor(bad_router, "model.layers.0.mlp.router.weight", at::zeros({3, 256}));
    CHECK_THROWS_WITH(load_model(bad_router, ComputeDType::F32),
                      "Tensor model.layers.0.mlp.router.weight has shape [3, 256]; moe_config.json implies [2, 256]");

    const std::string missing = out_dir("bad-moe-missing");
    fs::remove_all(missing);
    fs::copy(good, missing, fs::copy_options::recursive);
    replace_tensor(missing, "model.layers.5.mlp.experts.0.down_proj.weight", at::Tensor());
    CHECK_THROWS_WITH(load_model(missing, ComputeDType::F32),
                      "Tensor model.layers.5.mlp.experts.0.down_proj.weight (layer 5 of 6) is missing");
    fs::remove_all(good);
}

TEST(native_save_is_atomic_and_replaces_a_folder_whole) {
    const std::string dir = d2m_test::tmp_dir() + "/whole";
    fs::create_directories(dir);
    { std::ofstream(dir + "/stale.txt") << "from an earlier run\n"; }
    write_upcycled(dir);
    CHECK(!fs::exists(dir + "/stale.txt"));
    CHECK(fs::exists(dir + "/model.safetensors") && fs::exists(dir + "/tokenizer.model"));
    int leftovers = 0;
    for (const auto& e : fs::directory_iterator(fs::path(dir).parent_path())) {
        leftovers += e.path().filename().string().find(".tmp-") != std::string::npos ? 1 : 0;
    }
    CHECK_EQ(leftovers, 0);
    fs::remove_all(d2m_test::tmp_dir());
}

D2M_TEST_MAIN()
