// MoE runtime and the first conversion recipes: upcycled experts reproduce the dense logits (top-1
// weight exactly 1, top-2 weights summing to 1), grouped dispatch equals the naive per-token loop,
// router hook sites carry the routing, and DIVE builds one exactly-⌊F·r⌋-pruned expert per cluster
// from cached statistics (a rerun computes none).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "support/check.h"
#include "support/demo_project.h"

#include "calib/stats_cache.h"
#include "convert/convert.h"
#include "core/observers.h"
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
        s.recipe = Recipe::Upcycle;
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
            const double err = (a - b).abs().max().item<double>(), bmax = b.abs().max().item<double>();
            std::printf("grouped top-%lld%s: max abs err %.3g (max |ref| %.3g)\n", (long long)k,
                        with_shared ? " + shared" : "", err, bmax);
            CHECK(err < 1e-5 * (1 + bmax));
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

// The CPU fast paths: the Softmax gate's host top-k against an ATen computation written here
// (softmax / topk / gather), and the row-parallel dispatch (>= 128 rows on 2 threads: one share per
// thread, direct top-1 scatter, null slots zeroed) against the per-token reference, for top-1 with unit
// and non-unit gates, top-2 and top-3, a temperature, a routed scale, Den2MoEE null experts and a
// shared expert; then the same on one thread (the sequential dispatch).
TEST(cpu_router_and_row_parallel_dispatch_match_references) {
    LoadedModel lm = demo();
    at::manual_seed(5);
    const SwiGluFfn& d = lm.model->dense_ffn(1);
    const int64_t E = 6;
    std::vector<std::shared_ptr<const SwiGluFfn>> ex;
    for (int64_t e = 0; e < E; ++e) {
        at::Tensor ki = std::get<0>(at::randperm(768).narrow(0, 0, 96 + 32 * e).sort());  // unequal widths
        ex.push_back(std::make_shared<SwiGluFfn>(d.gate().index_select(0, ki), d.up().index_select(0, ki),
                                                 d.down().index_select(1, ki), at::Tensor(), at::kFloat));
    }
    auto shared = std::make_shared<SwiGluFfn>(d.gate().narrow(0, 0, 64), d.up().narrow(0, 0, 64),
                                              d.down().narrow(1, 0, 64), at::Tensor(), at::kFloat);
    at::Tensor x = at::randn({3, 137, 256});  // 411 rows: shares and blocks of unequal size
    at::Tensor xf = x.reshape({-1, 256});
    struct Case { int64_t k; bool norm; double temp, scale; };
    for (int threads : {2, 1}) {
        at::set_num_threads(threads);
        for (Case c : {Case{1, true, 1.0, 1.0}, Case{1, false, 1.0, 1.0}, Case{2, true, 0.7, 1.0},
                       Case{2, false, 1.0, 2.0}, Case{3, true, 1.3, 1.0}}) {
            RouterSpec rs;
            rs.weight = at::randn({E, 256}) * 0.2;
            rs.top_k = c.k;
            rs.norm_topk = c.norm;
            rs.temperature = c.temp;
            rs.routed_scale = c.scale;
            MoeFfn moe(ex, rs, c.k == 2 ? shared : nullptr, at::kFloat);
            // routing against ATen
            at::Tensor w, logits;
            moe.route(xf, &w, &logits);
            at::Tensor ref_logits = at::mm(xf, rs.weight.t());
            auto top = (ref_logits / c.temp).topk(c.k, -1);
            at::Tensor gates = c.norm ? at::softmax(std::get<0>(top), -1)
                                      : at::softmax(ref_logits / c.temp, -1).gather(1, std::get<1>(top));
            at::Tensor ref_w = at::zeros({xf.size(0), E}).scatter_(1, std::get<1>(top), gates * c.scale);
            const double lerr = (logits - ref_logits).abs().max().item<double>();
            const double werr = (w - ref_w).abs().max().item<double>();
            CHECK(lerr < 1e-4);
            CHECK(werr < 1e-5);
            // dispatch against the per-token loop
            at::Tensor a = moe.forward(x, 0, {});
            at::Tensor b = moe_forward_reference(moe, x);
            const double err = (a - b).abs().max().item<double>() / (1 + b.abs().max().item<double>());
            std::printf("threads %d top-%lld norm %d T %.1f scale %.1f: logits %.1e, weights %.1e, output %.1e\n", threads,
                        (long long)c.k, (int)c.norm, c.temp, c.scale, lerr, werr, err);
            CHECK(err < 1e-5);
        }
        // Den2MoEE with null experts: a top-1 slot that lands on a null expert outputs zero
        for (int64_t k : {1, 2}) {
            RouterSpec rs;
            rs.gate = RouterSpec::Gate::Den2MoEE;
            rs.weight = at::randn({E, 256}) * 0.2;
            rs.null_weight = at::randn({2, 256}) * 0.2;
            rs.top_k = k;
            MoeFfn moe(ex, rs, nullptr, at::kFloat);
            at::Tensor w;
            moe.route(xf, &w, nullptr);
            const int64_t null_tokens = (w.sum(1) == 0).sum().item<int64_t>();
            at::Tensor a = moe.forward(x, 0, {});
            at::Tensor b = moe_forward_reference(moe, x);
            const double err = (a - b).abs().max().item<double>() / (1 + b.abs().max().item<double>());
            std::printf("threads %d den2moee top-%lld: %lld tokens all-null, output %.1e\n", threads, (long long)k,
                        (long long)null_tokens, err);
            if (k == 1) CHECK(null_tokens > 0);  // the case is exercised
            CHECK(err < 1e-5);
        }
    }
    at::set_num_threads(2);
}

// The thread planner of the row-parallel path: every slot in exactly one piece of its own expert,
// a thread's pieces in slot order, whole experts where they balance, and skewed loads evened out
// (a cut expert's two pieces are both still whole GEMM blocks of work).
namespace {
std::vector<int64_t> check_shares(const std::vector<int64_t>& first, int nt,
                                  const std::vector<std::vector<SlotPiece>>& shares) {
    const int64_t E = static_cast<int64_t>(first.size()) - 1, P = first.back();
    CHECK_EQ(static_cast<int>(shares.size()), nt);
    std::vector<SlotPiece> all;
    std::vector<int64_t> load;
    for (const auto& s : shares) {
        int64_t n = 0;
        for (size_t i = 0; i < s.size(); ++i) {
            CHECK(s[i].hi > s[i].lo);  // no empty pieces
            CHECK(s[i].e >= 0 && s[i].e < E);
            CHECK(s[i].lo >= first[s[i].e] && s[i].hi <= first[s[i].e + 1]);  // inside its expert
            if (i > 0) CHECK(s[i - 1].hi <= s[i].lo);                          // slot order
            n += s[i].hi - s[i].lo;
            all.push_back(s[i]);
        }
        load.push_back(n);
    }
    std::sort(all.begin(), all.end(), [](const SlotPiece& a, const SlotPiece& b) { return a.lo < b.lo; });
    int64_t at_slot = 0;
    for (const SlotPiece& p : all) {  // the pieces tile [0, P) exactly
        CHECK_EQ(p.lo, at_slot);
        at_slot = p.hi;
    }
    CHECK_EQ(at_slot, P);
    return load;
}
std::vector<int64_t> firsts(const std::vector<int64_t>& counts) {
    std::vector<int64_t> f{0};
    for (int64_t c : counts) f.push_back(f.back() + c);
    return f;
}
}  // namespace

TEST(thread_planner_covers_every_slot_and_balances) {
    // balanced experts stay whole: 4 x 300 slots on 2 threads -> 2 experts each, no cuts
    {
        auto f = firsts({300, 300, 300, 300});
        auto sh = moe_thread_shares(f, 2, 8);
        auto load = check_shares(f, 2, sh);
        CHECK_EQ(sh[0].size(), size_t{2});
        CHECK_EQ(sh[1].size(), size_t{2});
        CHECK_EQ(load[0], 600);
        CHECK_EQ(load[1], 600);
    }
    // one thread: every non-empty expert whole, in slot order; empty experts give no piece
    {
        auto f = firsts({10, 0, 500, 3, 0});
        auto sh = moe_thread_shares(f, 1, 8);
        check_shares(f, 1, sh);
        CHECK_EQ(sh[0].size(), size_t{3});
        CHECK_EQ(sh[0][1].e, 2);
    }
    // skewed (one expert holds 90 %): LPT alone would give 1800 vs 200 slots; the hand-overs cut
    // the big expert so the threads' costs (n + 32 per 256-row block) differ by less than one
    // block's fixed cost plus 2 * min_move slots. By hand: LPT gives 1800 slots (cost 1800 + 7 * 32
    // = 2024) vs 200 in 3 pieces (296). Move 1 hands m = (2024 - 296 - 32) / 2 = 848 slots of
    // expert 0 over: 952 slots (cost 952 + 4 * 32 = 1080) vs 1048 (848 + 3 * 32 + 296 = 1240).
    // Move 2 gives m = (1240 - 1080 - 32) / 2 = 64 back, joined to thread 0's piece: 1016 (1144)
    // vs 984 (1176); then (1176 - 1144 - 32) / 2 = 0 stops.
    {
        auto f = firsts({1800, 80, 70, 50});
        auto sh = moe_thread_shares(f, 2, 8);
        auto load = check_shares(f, 2, sh);
        std::printf("skewed 1800/80/70/50 on 2 threads: %lld | %lld slots\n", (long long)load[0], (long long)load[1]);
        CHECK_EQ(load[0], 1016);
        CHECK_EQ(load[1], 984);
        CHECK_EQ(sh[0].size(), size_t{1});  // expert 0's slots [0, 1016)
        CHECK_EQ(sh[1].size(), size_t{4});  // [1016, 1800) and experts 1-3 whole
    }
    // nothing to share: an empty routing, or no experts
    {
        auto sh = moe_thread_shares(firsts({0, 0, 0}), 2, 8);
        CHECK(sh.size() == 2 && sh[0].empty() && sh[1].empty());
        CHECK(moe_thread_shares({0}, 3, 8).size() == 3);
    }
    // random counts, 1..4 threads: invariants, and no thread above the even share by more than
    // a block's fixed cost in slots (32) plus min_move and the cost of its extra blocks
    at::manual_seed(11);
    for (int trial = 0; trial < 200; ++trial) {
        const int64_t E = 1 + trial % 16;
        const int nt = 1 + trial % 4;
        std::vector<int64_t> counts;
        for (int64_t e = 0; e < E; ++e) {
            const int64_t c = at::randint(0, trial % 3 == 0 ? 4000 : 600, {1}, at::kLong).item<int64_t>();
            counts.push_back(trial % 5 == 0 && e > 0 ? c / 50 : c);  // every 5th: one dominant expert
        }
        auto f = firsts(counts);
        auto sh = moe_thread_shares(f, nt, 8);
        auto load = check_shares(f, nt, sh);
        const int64_t P = f.back();
        const int64_t mx = *std::max_element(load.begin(), load.end());
        const int64_t biggest = *std::max_element(counts.begin(), counts.end());
        const int64_t bound = (P + nt - 1) / nt + 32 * (E + 1) + 8;
        if (mx > bound) std::printf("trial %d: E %lld nt %d P %lld max load %lld > %lld (biggest %lld)\n", trial,
                                    (long long)E, nt, (long long)P, (long long)mx, (long long)bound, (long long)biggest);
        CHECK(mx <= bound);
    }
}

TEST(router_hooks_carry_the_routing) {
    LoadedModel lm = demo();
    Project p = tiny_project();
    ConvertSettings s;
    s.recipe = Recipe::Random;
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
    s.recipe = Recipe::Dive;
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
    save_moe_native(*again.model, again.moe_config, again.provenance, dir);
    CHECK(fs::exists(dir + "/model.safetensors") && fs::exists(dir + "/moe_config.json") &&
          fs::exists(dir + "/provenance.json"));
    // ... and read back: identical logits
    save_moe_native(*again.model, again.moe_config, again.provenance, dir, lm.tokenizer_path);
    LoadedModel back = load_model(dir, ComputeDType::F32);
    CHECK_EQ(back.format, "den2moe-moe");
    CHECK(fs::exists(dir + "/tokenizer.model"));
    CHECK(at::equal(back.model->forward(ids), again.model->forward(ids)));
    // flap at the same active width: a dense model with 384-wide FFNs
    s.recipe = Recipe::Flap;
    ConvertResult f = convert_model(p, lm.model, *lm.tokenizer, "h", {}, s, null_context());
    CHECK_EQ(f.model->dense_ffn(0).width(), 384);
    CHECK_EQ(f.stats_cache_misses, 18 - 5);
    // errors
    ProjectClusters bad = cl;
    bad.members[1].push_back("gsm8k");
    s.recipe = Recipe::Dive;
    CHECK_THROWS_WITH(convert_model(p, lm.model, *lm.tokenizer, "h", bad, s, null_context()), "is in two clusters");
    CHECK_THROWS_WITH(parse_recipe("den2moe"), "unknown recipe");
}

D2M_TEST_MAIN()
