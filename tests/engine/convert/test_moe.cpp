// MoE runtime and the first conversion recipes: upcycled experts reproduce the dense logits (top-1
// weight exactly 1, top-2 weights summing to 1), grouped dispatch equals the naive per-token loop,
// router hook sites carry the routing, and DIVE builds one exactly-⌊F·r⌋-pruned expert per cluster
// from cached statistics (a rerun computes none).
#include <ATen/ATen.h>

#include <filesystem>

#include "support/check.h"
#include "support/demo_project.h"

#include "calib/stats_cache.h"
#include "convert/convert.h"
#include "core/run_context.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "model/moe_io.h"
#include "project/project.h"

using namespace den2moe;
namespace fs = std::filesystem;

namespace {

Project tiny_project() { return d2m_test::tiny_demo_project(); }

LoadedModel demo(ComputeDType dt = ComputeDType::F32) {
    return load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", dt);
}

}  // namespace

TEST(upcycled_moe_equals_dense) {
    LoadedModel lm = demo();
    Project p = tiny_project();
    at::manual_seed(0);
    at::Tensor ids = at::randint(3, 4096, {2, 40}, at::kLong);
    at::Tensor ref = lm.model->forward(ids);
    for (int64_t k : {1, 2, 4}) {
        ConvertSettings s;
        s.recipe = "upcycle";
        s.n_experts = 4;
        s.top_k = k;
        ConvertResult r = convert_model(p, lm.model, *lm.tokenizer, "h", {}, s, null_context());
        at::Tensor out = r.model->forward(ids);
        const double err = ((out - ref).abs().max() / ref.abs().max()).item<double>();
        std::printf("upcycle top-%lld: rel err %.2e\n", (long long)k, err);
        CHECK(err < 1e-5);
        CHECK_EQ(r.model->ffn(0).kind(), "moe");
    }
}

TEST(grouped_dispatch_equals_per_token_reference) {
    LoadedModel lm = demo();
    at::manual_seed(1);
    const SwiGluFfn& d = lm.model->dense_ffn(2);
    std::vector<std::shared_ptr<const SwiGluFfn>> ex;
    for (int e = 0; e < 5; ++e) {
        std::vector<int64_t> idx;
        for (int64_t j = e; j < 768; j += 5 + e) idx.push_back(j);  // unequal widths
        at::Tensor ki = at::tensor(idx, at::kLong);
        ex.push_back(std::make_shared<SwiGluFfn>(d.gate().index_select(0, ki), d.up().index_select(0, ki),
                                                 d.down().index_select(1, ki), at::randn({256}) * 0.1, at::kFloat));
    }
    auto shared = std::make_shared<SwiGluFfn>(d.gate().narrow(0, 0, 64), d.up().narrow(0, 0, 64),
                                              d.down().narrow(1, 0, 64), at::Tensor(), at::kFloat);
    for (int64_t k : {1, 2, 3}) {
        for (bool with_shared : {false, true}) {
            RouterSpec rs;
            rs.weight = at::randn({5, 256});
            rs.top_k = k;
            MoeFfn moe(ex, rs, with_shared ? shared : nullptr, at::kFloat);
            at::Tensor x = at::randn({3, 11, 256});
            at::Tensor a = moe.forward(x, 0, {});
            at::Tensor b = moe_forward_reference(moe, x);
            CHECK((a - b).abs().max().item<double>() < 1e-5 * (1 + b.abs().max().item<double>()));
        }
    }
    // bf16 experts: same dispatch, bf16 rounding
    RouterSpec rs;
    rs.weight = at::randn({5, 256});
    rs.top_k = 2;
    std::vector<std::shared_ptr<const SwiGluFfn>> exb;
    for (auto& e : ex) exb.push_back(std::make_shared<SwiGluFfn>(e->gate(), e->up(), e->down(), e->down_bias(), at::kBFloat16));
    MoeFfn moe(exb, rs, nullptr, at::kBFloat16);
    at::Tensor x = at::randn({2, 9, 256}).to(at::kBFloat16);
    at::Tensor a = moe.forward(x, 0, {}).to(at::kFloat), b = moe_forward_reference(moe, x).to(at::kFloat);
    CHECK((a - b).abs().max().item<double>() < 2e-2 * (1 + b.abs().max().item<double>()));
}

TEST(router_hooks_carry_the_routing) {
    LoadedModel lm = demo();
    Project p = tiny_project();
    ConvertSettings s;
    s.recipe = "random";
    s.n_experts = 8;
    s.top_k = 2;
    ConvertResult r = convert_model(p, lm.model, *lm.tokenizer, "h", {}, s, null_context());
    at::Tensor probs, logits;
    ObserverSet obs;
    obs.add(site::kRouterProbs, [&](const HookEvent& e) { probs = e.tensor.clone(); }, 3);
    obs.add(site::kRouterLogits, [&](const HookEvent& e) { logits = e.tensor.clone(); }, 3);
    ForwardOptions fo;
    fo.observers = &obs;
    at::Tensor ids = at::randint(3, 4096, {2, 16}, at::kLong);
    r.model->forward(ids, {}, fo);
    CHECK(probs.defined() && logits.defined());
    CHECK_EQ(probs.size(2), 8);
    CHECK(((probs.sum(-1) - 1).abs().max()).item<double>() < 1e-6);
    CHECK(((probs > 0).sum(-1) == 2).all().item<bool>());
    // the two selected experts are the two largest logits
    at::Tensor top = std::get<1>(logits.topk(2, -1));
    CHECK((probs.gather(-1, top) > 0).all().item<bool>());
    // parameters: router 8×256 + 8 experts of 96 channels × 3 × 256; active: router + 2 experts
    CHECK_EQ(r.model->ffn(0).n_params(), 8 * 256 + 8 * 96 * 3 * 256);
    CHECK_EQ(r.model->ffn(0).n_active_params(), 8 * 256 + 2 * 96 * 3 * 256);
}

TEST(dive_builds_one_pruned_expert_per_cluster_from_cache) {
    LoadedModel lm = demo();
    Project p = tiny_project();
    ProjectClusters cl;
    cl.names = {"math", "prose"};
    cl.members = {{"gsm8k", "mmlu_stem"}, {"wiki", "stories", "news"}};
    cl.manual = true;
    ConvertSettings s;
    s.recipe = "dive";
    s.top_k = 1;
    s.ratio = 0.5;
    ConvertResult r = convert_model(p, lm.model, *lm.tokenizer, "h", cl, s, null_context());
    CHECK_EQ(r.stats_cache_misses, 5);
    const auto& moe = dynamic_cast<const MoeFfn&>(r.model->ffn(4));
    CHECK_EQ(moe.n_experts(), 2);
    CHECK_EQ(moe.expert(0).width(), 384);
    CHECK_EQ(moe.expert(1).width(), 384);
    CHECK(moe.expert(0).down_bias().defined());
    CHECK(!at::equal(moe.expert(0).gate(), moe.expert(1).gate()));  // different calibration, different channels
    CHECK_EQ(r.provenance["clusters"]["manual"].get<bool>(), true);
    CHECK_EQ(r.provenance["clusters"]["members"][1][2].get<std::string>(), "news");
    CHECK_EQ(r.provenance["domains"].size(), size_t{5});
    at::Tensor ids = at::randint(3, 4096, {1, 32}, at::kLong);
    at::Tensor out = r.model->forward(ids);
    CHECK(at::isfinite(out).all().item<bool>());
    // a manual edit + rerun: statistics all from the cache
    cl.members = {{"gsm8k", "mmlu_stem", "news"}, {"wiki", "stories"}};
    ConvertResult again = convert_model(p, lm.model, *lm.tokenizer, "h", cl, s, null_context());
    CHECK_EQ(again.stats_cache_misses, 0);
    CHECK_EQ(again.stats_cache_hits, 5);
    // saved natively
    const std::string dir = d2m_test::tmp_dir() + "/moe";
    save_moe_native(again, dir);
    CHECK(fs::exists(dir + "/model.safetensors") && fs::exists(dir + "/moe_config.json") &&
          fs::exists(dir + "/provenance.json"));
    // ... and read back: identical logits
    save_moe_native(again, dir, lm.tokenizer_path);
    LoadedModel back = load_model(dir, ComputeDType::F32);
    CHECK_EQ(back.format, "den2moe-moe");
    CHECK(fs::exists(dir + "/tokenizer.model"));
    CHECK(at::equal(back.model->forward(ids), again.model->forward(ids)));
    // flap at the same active width: a dense model with 384-wide FFNs
    s.recipe = "flap";
    ConvertResult f = convert_model(p, lm.model, *lm.tokenizer, "h", {}, s, null_context());
    CHECK_EQ(f.model->dense_ffn(0).width(), 384);
    CHECK_EQ(f.stats_cache_misses, 18 - 5);
    // errors
    ProjectClusters bad = cl;
    bad.members[1].push_back("gsm8k");
    s.recipe = "dive";
    CHECK_THROWS_WITH(convert_model(p, lm.model, *lm.tokenizer, "h", bad, s, null_context()), "is in two clusters");
    s.recipe = "den2moe";
    CHECK_THROWS_WITH(convert_model(p, lm.model, *lm.tokenizer, "h", cl, s, null_context()), "unknown recipe");
}

D2M_TEST_MAIN()
