// The trainer (engine/train): fixtures for the PyTorch oracle (tests/reference/train_oracle.py, run
// by tests.cmake) — the loss and every trainable gradient of one batch on converted MoE models, for
// the router stage (DIVE top-1, dense mixture at t = 0.05), the experts stage with LoRA (top-1 with
// FLAP biases: routers get an exact zero; top-2 random split: routers train) — and a few AdamW steps
// with clipping and the warm-up + cosine schedule. In process: LoRA merged into the written model
// gives the unmerged logits; a checkpoint restored into a fresh trainer continues bit for bit; a
// short run lowers the held-out loss; settings and checkpoints that do not fit are refused.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>  // GradMode, NoGradGuard: not reached through ATen.h in libtorch 2.x
#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "support/check.h"
#include "support/demo_project.h"

#include "convert/convert.h"
#include "model/moe_io.h"
#include "export/hf_export.h"
#include "core/run_context.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "project/project.h"
#include "train/data.h"
#include "train/lora.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "train/train_settings.h"

using namespace den2moe;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string root() {
    const char* bd = std::getenv("D2M_BUILD_DIR");
    const std::string r = std::string(bd ? bd : d2m_test::tmp_dir()) + "/train-oracle";
    fs::create_directories(r);
    return r;
}

Project project() { return d2m_test::tiny_demo_project(); }

/// A converted demo MoE saved natively in root()/name (built once per test binary run).
std::string converted(const std::string& name) {
    const std::string dir = root() + "/" + name;
    static std::set<std::string> built;  // once per run of this binary, never from an older build
    if (!built.insert(name).second) return dir;
    fs::remove_all(dir);
    LoadedModel lm = load_model(d2m_test::shared_dir() + "/models/demo-llama-7m", ComputeDType::F32);
    ConvertSettings s;
    ProjectClusters cl;
    if (name == "dive") {  // DIVE, 2 experts (wiki | gsm8k), FLAP biases, top-1, random router
        s.recipe = Recipe::Dive;
        s.router_init = "random";
        s.top_k = 1;
        cl.names = {"A", "B"};
        cl.members = {{"wiki"}, {"gsm8k"}};
    } else {  // random split, 4 experts, top-2
        s.recipe = Recipe::Random;
        s.n_experts = 4;
        s.top_k = 2;
    }
    Project p = project();
    ConvertResult r = convert_model(p, lm.model, *lm.tokenizer, "test", cl, s, null_context());
    save_moe_native(*r.model, r.moe_config, r.provenance, dir, lm.tokenizer_path);
    return dir;
}

TrainSettings small(const std::string& stage, int64_t top_k) {
    TrainSettings s;
    s.stage = stage;
    apply_stage_defaults(s, top_k);
    s.domains = "truthfulqa,python";  // the two smallest train splits: tokenised in well under a second
    s.seq_len = 32;
    s.batch = 2;
    s.tokens = 64 * 40;
    s.eval_windows = 2;
    s.dtype = "fp32";
    return s;
}

void write_fixture(const std::string& file, const std::map<std::string, at::Tensor>& t, const json& info) {
    std::vector<std::pair<std::string, at::Tensor>> v(t.begin(), t.end());
    save_safetensors(file, v, {{"info", info.dump()}});
}

/// Loss and gradients of one batch, written for train_oracle.py.
void grad_fixture(const std::string& name, const std::string& model, TrainSettings s, bool random_b) {
    s.lora_dropout = 0.0;  // the oracle cannot draw our masks
    Trainer tr(project(), model, s, null_context());
    std::map<std::string, at::Tensor> out;
    json lora = json::object();
    if (tr.lora()) {
        at::manual_seed(5);
        at::NoGradGuard ng;
        for (auto& kv : tr.lora()->adapters()) {
            if (random_b) kv.second.B.copy_(at::randn(kv.second.B.sizes()) * 0.02);  // B = 0 would hide A's gradient
            out["lora_A:" + kv.first] = kv.second.A.clone();
            out["lora_B:" + kv.first] = kv.second.B.clone();
        }
        lora = {{"rank", s.lora_rank}, {"alpha", s.lora_alpha}};
    }
    at::Tensor ids = tr.corpus().domains[0].train.narrow(0, 0, 1);
    ids = at::cat({ids, tr.corpus().domains[1].train.narrow(0, 0, 1)});  // [2, 32]: one window of each domain
    const double loss = tr.accumulate(ids);
    out["ids"] = ids;
    out["loss"] = at::tensor({loss}, at::kDouble);
    json names = json::array();
    for (const auto& kv : tr.gradients()) {
        out["grad:" + kv.first] = kv.second;
        names.push_back(kv.first);
    }
    json info = {{"model", model},      {"stage", s.stage}, {"temperature", s.temperature},
                 {"router_gate", s.router_gate}, {"lora", lora}, {"trainable", names}};
    write_fixture(root() + "/" + name + ".safetensors", out, info);
    // split_workers auto: on 2+ threads the batch of 2 windows runs as 2 workers, so the oracle checks the split path
    std::printf("%s: loss %.6f, %zu gradients, %lld worker(s)\n", name.c_str(), loss, names.size(),
                static_cast<long long>(tr.split_stats()["max_workers"].get<int64_t>()));
}

}  // namespace

TEST(writes_gradient_fixtures) {
    const std::string dive = converted("dive"), rnd = converted("random");
    grad_fixture("router_dive", dive, small("router", 1), false);
    grad_fixture("experts_dive", dive, small("experts", 1), true);
    grad_fixture("experts_random", rnd, small("experts", 2), true);
    TrainSettings p = small("experts", 1);
    p.router_gate = "probability";
    p.lora_rank = 0;
    grad_fixture("experts_dive_probability", dive, p, false);
}

TEST(writes_adamw_fixture) {
    // 6 steps on three tensors: decoupled weight decay, clipping (active in some steps), warm-up 2 + cosine
    at::manual_seed(3);
    std::vector<at::Tensor> p = {at::randn({5, 7}), at::randn({11}), at::randn({3, 2, 4})};
    std::map<std::string, at::Tensor> out;
    for (size_t i = 0; i < p.size(); ++i) out["p0:" + std::to_string(i)] = p[i].clone();
    std::vector<at::Tensor> m, v;
    for (auto& t : p) {
        m.push_back(at::zeros_like(t));
        v.push_back(at::zeros_like(t));
    }
    LrSchedule sched;
    sched.kind = "cosine";
    sched.lr = 1e-2;
    sched.warmup_ratio = 0.3;  // ceil(1.8) = 2 warm-up steps
    sched.min_lr_ratio = 0.1;
    sched.total_steps = 6;
    CHECK_EQ(sched.warmup_steps(), int64_t{2});
    AdamWConfig c{0.9, 0.95, 1e-8, 0.1};
    std::vector<double> lrs, norms;
    for (int s = 0; s < 6; ++s) {
        std::vector<at::Tensor> g;
        for (size_t i = 0; i < p.size(); ++i) {
            g.push_back(at::randn(p[i].sizes()) * (s % 2 ? 0.05 : 2.0));
            out["g:" + std::to_string(s) + ":" + std::to_string(i)] = g.back().clone();
        }
        norms.push_back(clip_grad_norm(g, 1.0));
        lrs.push_back(sched.at(s));
        for (size_t i = 0; i < p.size(); ++i) adamw_update(p[i], g[i], m[i], v[i], s + 1, lrs.back(), c);
    }
    for (size_t i = 0; i < p.size(); ++i) out["p:" + std::to_string(i)] = p[i];
    json info = {{"lr", 1e-2},      {"betas", {0.9, 0.95}}, {"eps", 1e-8}, {"weight_decay", 0.1}, {"clip", 1.0},
                 {"warmup_ratio", 0.3}, {"min_lr_ratio", 0.1}, {"steps", 6},  {"lrs", lrs},          {"norms", norms}};
    write_fixture(root() + "/adamw.safetensors", out, info);
    CHECK(lrs[0] == 0.0 && lrs[1] == 5e-3 && lrs[2] == 1e-2);  // HF warm-up starts at 0
}

TEST(writes_export_fixture) {
    // a trained model (experts stage, FLAP biases dropped first) exported to Mixtral: no lint error,
    // nothing dropped; tests.cmake checks the export with tests/reference/mixtral_oracle.py
    TrainSettings s = small("experts", 1);
    s.drop_expert_bias = true;
    s.tokens = 64 * 5;
    s.lr = 1e-3;
    Trainer tr(project(), converted("dive"), s, null_context());
    while (tr.step() < tr.total_steps()) tr.train_step();
    const std::string native = root() + "/trained-native";
    fs::remove_all(native);
    tr.write_model(native, json::object());
    LoadedModel back = load_model(native, ComputeDType::F32);
    CHECK(!dynamic_cast<const MoeFfn&>(back.model->ffn(0)).expert(0).down_bias().defined());
    ExportOptions o;
    o.source_dir = d2m_test::shared_dir() + "/models/demo-llama-7m";
    const std::string out = root() + "/trained-mixtral";
    fs::remove_all(out);
    ExportResult r = export_hf(*back.model, "mixtral", out, o);
    CHECK(!r.lint.has_errors());
    CHECK(r.lint.find("expert-bias-dropped") == nullptr);
    at::manual_seed(4);
    at::Tensor ids = at::randint(3, 4096, {2, 24}, at::kLong);
    save_safetensors(root() + "/trained-mixtral_logits.safetensors", {{"ids", ids}, {"logits", back.model->forward(ids)}});
}

TEST(lora_merged_equals_unmerged) {
    TrainSettings s = small("experts", 2);
    s.lora_attention = true;  // attention LoRA merges too
    Trainer tr(project(), converted("random"), s, null_context());
    {
        at::manual_seed(8);
        at::NoGradGuard ng;
        for (auto& kv : tr.lora()->adapters()) kv.second.B.copy_(at::randn(kv.second.B.sizes()) * 0.05);
    }
    // masters follow the compute copies in float32 (aliased), so the merge sees the same B
    at::Tensor ids = tr.corpus().domains[1].test.narrow(0, 0, 2);
    at::Tensor unmerged = tr.logits(ids);
    const std::string out = root() + "/merged";
    fs::remove_all(out);
    tr.write_model(out, json::object());
    LoadedModel back = load_model(out, ComputeDType::F32);
    at::Tensor merged = back.model->forward(ids);
    const double e = ((merged - unmerged).abs().max() / unmerged.abs().max()).item<double>();
    LoadedModel before = load_model(converted("random"), ComputeDType::F32);
    const double changed = ((before.model->forward(ids) - unmerged).abs().max()).item<double>();
    std::printf("LoRA merged vs unmerged: rel err %.2e (the adapters move the logits by %.3f)\n", e, changed);
    CHECK(e <= 1e-5);
    CHECK(changed > 1e-2);
}

TEST(checkpoint_resumes_bit_for_bit) {
    TrainSettings s = small("experts", 2);
    s.tokens = 64 * 6;
    s.lr = 1e-3;  // dropout 0.1 on: the generator's state travels in the checkpoint
    const std::string model = converted("random"), ck = root() + "/resume.safetensors";
    std::map<std::string, at::Tensor> straight;
    {
        Trainer a(project(), model, s, null_context());
        for (int i = 0; i < 6; ++i) {
            a.train_step();
            if (a.step() == 3) a.save_checkpoint(ck, json::object());
        }
        straight = a.parameters();
    }
    Trainer b(project(), model, s, null_context());
    b.load_checkpoint(ck);
    CHECK_EQ(b.step(), int64_t{3});
    while (b.step() < 6) b.train_step();
    int differ = 0;
    for (const auto& kv : b.parameters()) differ += at::equal(kv.second, straight.at(kv.first)) ? 0 : 1;
    std::printf("resumed at step 3: %d of %zu tensors differ from the uninterrupted run\n", differ, straight.size());
    CHECK_EQ(differ, 0);
    int moved = 0;  // and training did change them
    for (const auto& kv : Trainer(project(), model, s, null_context()).parameters())
        moved += at::equal(kv.second, straight.at(kv.first)) ? 0 : 1;
    CHECK(moved > 0);
}

namespace {
/// Largest |a − b| over the tensor, relative to its largest |b| (0 for an all-zero reference).
double rel_diff(const at::Tensor& a, const at::Tensor& b) {
    const double scale = b.abs().max().item<double>();
    const double d = (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
    return scale > 0 ? d / scale : d;
}

/// Loss and float32 gradients of one micro-batch of `nb` windows (seq 32) with `workers` threads.
std::pair<double, std::map<std::string, at::Tensor>> one_batch(const std::string& model, TrainSettings s,
                                                               int64_t workers, int64_t nb) {
    s.split_workers = workers;
    Trainer tr(project(), model, s, null_context());
    if (tr.lora()) {
        at::manual_seed(5);
        at::NoGradGuard ng;
        for (auto& kv : tr.lora()->adapters()) kv.second.B.copy_(at::randn(kv.second.B.sizes()) * 0.02);
    }
    at::Tensor ids = at::cat({tr.corpus().domains[0].train.narrow(0, 0, nb / 2),
                              tr.corpus().domains[1].train.narrow(0, 0, nb - nb / 2)});  // [nb, 32]
    const double loss = tr.accumulate(ids);
    const json st = tr.split_stats();
    CHECK_EQ(st["max_workers"].get<int64_t>(), std::min(workers, nb));  // the split really happened (or not)
    return {loss, tr.gradients()};
}
}  // namespace

// Splitting a micro-batch among worker threads (settings.split_workers) changes only the fp32 summation
// order: each worker's weight gradients are sums over its rows, added afterwards. Loss (rel 1e-6) and
// every gradient (rel 1e-5 of the tensor's largest entry and of its norm) equal the one-pass
// micro-batch, for the router stage (dense mixture, top-1 DIVE) and the experts stage (LoRA on random B,
// top-2 routing, routers training), 2 and 3 workers, uneven slices. Why 1e-5 and not 1e-6: the one
// pass itself moves that far with another thread count (1 vs 2 threads: 5.5e-6 on the router stage,
// whose t = 0.05 softmax scales the routers' gradient by 20 over sums that cancel; 1.8e-6 on the
// experts stage); the split measured 2e-6 to 6e-6, the same order. A lost slice, a wrong weight or a
// double count moves the loss or a gradient by ~1e-1.
TEST(split_microbatch_equals_one_pass) {
    const int threads = at::get_num_threads();
    at::set_num_threads(2);  // two workers really run at once
    struct Case { std::string model; TrainSettings s; };
    TrainSettings ex = small("experts", 2);
    ex.lora_dropout = 0.0;  // the one-pass and the split draw different masks
    const std::vector<Case> cases = {{converted("dive"), small("router", 1)}, {converted("random"), ex}};
    for (const auto& c : cases) {
        for (int64_t workers : {int64_t{2}, int64_t{3}}) {
            const int64_t nb = 5;  // 5 windows: slices of 2 + 3 (2 workers), 1 + 2 + 2 (3 workers)
            auto one = one_batch(c.model, c.s, 1, nb);
            auto split = one_batch(c.model, c.s, workers, nb);
            double worst = 0;
            std::string where;
            CHECK_EQ(one.second.size(), split.second.size());
            for (const auto& kv : one.second) {
                const double d = rel_diff(split.second.at(kv.first), kv.second);
                if (d > worst) { worst = d; where = kv.first; }
            }
            const double dl = std::abs(split.first - one.first) / std::abs(one.first);
            // the same one-pass micro-batch on 1 intra-op thread: how far another summation order moves it
            at::set_num_threads(1);
            auto serial = one_batch(c.model, c.s, 1, nb);
            at::set_num_threads(2);
            double floor = 0, worst_norm = 0;
            for (const auto& kv : one.second) {
                floor = std::max(floor, rel_diff(serial.second.at(kv.first), kv.second));
                const double n = kv.second.norm().item<double>();
                if (n > 0) worst_norm = std::max(worst_norm, (split.second.at(kv.first) - kv.second).norm().item<double>() / n);
            }
            std::printf("%s stage, %lld workers: loss %.7f vs %.7f (rel %.2e); worst gradient rel %.2e of its max (%s), "
                        "%.2e of its norm; 1 vs 2 threads one pass: %.2e\n",
                        c.s.stage.c_str(), static_cast<long long>(workers), split.first, one.first, dl, worst,
                        where.c_str(), worst_norm, floor);
            CHECK(dl < 1e-6);
            CHECK(worst_norm < 1e-5);
            CHECK(worst < 1e-5);
            int nonzero = 0;  // and the gradients are not trivially equal
            for (const auto& kv : one.second) nonzero += kv.second.abs().max().item<double>() > 0 ? 1 : 0;
            CHECK(nonzero > 0);
        }
    }
    at::set_num_threads(threads);
}

// With workers on, every worker draws its LoRA dropout masks from its own seeded stream: two runs give
// the same weights bit for bit, and a run resumed from a checkpoint ends where the uninterrupted one
// does (experts stage, dropout 0.1, 2 workers on 2 threads; router stage likewise).
TEST(split_workers_deterministic_and_resume_bit_for_bit) {
    const int threads = at::get_num_threads();
    at::set_num_threads(2);
    for (const std::string stage : {"experts", "router"}) {
        TrainSettings s = small(stage, stage == "experts" ? 2 : 1);
        s.tokens = 64 * 6;
        s.lr = 1e-3;
        s.split_workers = 2;
        const std::string model = converted(stage == "experts" ? "random" : "dive");
        const std::string ck = root() + "/resume-split-" + stage + ".safetensors";
        auto run = [&](bool save) {
            Trainer a(project(), model, s, null_context());
            for (int i = 0; i < 6; ++i) {
                a.train_step();
                if (save && a.step() == 3) a.save_checkpoint(ck, json::object());
            }
            CHECK_EQ(a.split_stats()["max_workers"].get<int64_t>(), int64_t{2});
            return a.parameters();
        };
        const auto first = run(true), second = run(false);
        Trainer b(project(), model, s, null_context());
        b.load_checkpoint(ck);
        while (b.step() < 6) b.train_step();
        int differ_runs = 0, differ_resume = 0, moved = 0;
        const auto resumed = b.parameters();
        const auto initial = Trainer(project(), model, s, null_context()).parameters();
        for (const auto& kv : first) {
            differ_runs += at::equal(kv.second, second.at(kv.first)) ? 0 : 1;
            differ_resume += at::equal(kv.second, resumed.at(kv.first)) ? 0 : 1;
            moved += at::equal(kv.second, initial.at(kv.first)) ? 0 : 1;
        }
        std::printf("%s stage, 2 workers: %d tensors differ between two runs, %d after resume at step 3, %d of %zu "
                    "moved\n", stage.c_str(), differ_runs, differ_resume, moved, first.size());
        CHECK_EQ(differ_runs, 0);
        CHECK_EQ(differ_resume, 0);
        CHECK(moved > 0);
    }
    at::set_num_threads(threads);
}

// The dropout masks follow (seed, step, slice): with dropout on, 2 workers differ from 1 (other masks),
// but only by dropout's noise: the losses of the first step agree to a few per cent.
TEST(split_workers_draw_their_own_dropout) {
    const int threads = at::get_num_threads();
    at::set_num_threads(2);
    TrainSettings s = small("experts", 2);
    s.lora_dropout = 0.5;
    const std::string model = converted("random");
    auto a = one_batch(model, s, 1, 4), b = one_batch(model, s, 2, 4), c = one_batch(model, s, 2, 4);
    double d_ab = 0, d_bc = 0;
    for (const auto& kv : a.second) {
        d_ab = std::max(d_ab, rel_diff(b.second.at(kv.first), kv.second));
        d_bc = std::max(d_bc, rel_diff(c.second.at(kv.first), b.second.at(kv.first)));
    }
    std::printf("dropout 0.5: 1 vs 2 workers gradients rel %.3g, two 2-worker runs %.3g\n", d_ab, d_bc);
    CHECK(d_ab > 1e-3);    // other masks
    CHECK_EQ(d_bc, 0.0);   // the same masks, whatever thread ran first
    CHECK(std::abs(a.first - b.first) / a.first < 0.05);
    at::set_num_threads(threads);
}

// split_workers auto (0): the thread count in every stage and dtype (bf16 experts included: quiet
// machine, docs/benchmarks.md); 1 = off; batch 1 never splits.
TEST(split_workers_auto_follows_the_measurement) {
    const int threads = at::get_num_threads();
    at::set_num_threads(2);
    auto used = [&](const std::string& stage, const std::string& dtype, int64_t workers, int64_t batch) {
        TrainSettings s = small(stage, stage == "experts" ? 2 : 1);
        s.dtype = dtype;
        s.split_workers = workers;
        s.batch = batch;
        Trainer tr(project(), converted(stage == "experts" ? "random" : "dive"), s, null_context());
        tr.accumulate(tr.corpus().domains[0].train.narrow(0, 0, batch));
        return tr.split_stats()["max_workers"].get<int64_t>();
    };
    CHECK_EQ(used("experts", "fp32", 0, 2), int64_t{2});
    CHECK_EQ(used("router", "bf16", 0, 2), int64_t{2});
    CHECK_EQ(used("experts", "bf16", 0, 2), int64_t{2});
    CHECK_EQ(used("experts", "bf16", 2, 2), int64_t{2});
    CHECK_EQ(used("experts", "fp32", 1, 2), int64_t{1});
    CHECK_EQ(used("experts", "fp32", 0, 1), int64_t{1});
    at::set_num_threads(threads);
}

TEST(short_run_lowers_held_out_loss) {
    TrainSettings s = small("router", 1);
    s.seq_len = 64;
    s.batch = 4;
    s.tokens = 256 * 25;
    s.lr = 3e-3;
    s.eval_windows = 4;
    Trainer tr(project(), converted("dive"), s, null_context());
    const double before = tr.evaluate().mean;
    while (tr.step() < tr.total_steps()) tr.train_step();
    const double after = tr.evaluate().mean;
    std::printf("router stage, %lld steps: held-out loss %.4f -> %.4f (ppl %.2f -> %.2f)\n",
                (long long)tr.total_steps(), before, after, std::exp(before), std::exp(after));
    CHECK(after < before - 0.01);
}

TEST(refuses_what_does_not_fit) {
    // a budget smaller than one step, LR <= 0, the router stage on a dense model
    TrainSettings s = small("router", 1);
    s.tokens = 10;
    CHECK_THROWS_WITH(validate_train_settings(s), "smaller than one optimizer step");
    s = small("router", 1);
    CHECK_THROWS_WITH(train_schema().set_text(s, "lr", "0"), "--lr = 0 is out of range");
    CHECK_THROWS_WITH(Trainer(project(), d2m_test::shared_dir() + "/models/demo-llama-7m", small("router", 0),
                              null_context()),
                      "holds a dense model");
    // a checkpoint of another model, a truncated one
    TrainSettings e = small("experts", 2);
    e.tokens = 64 * 2;
    Trainer a(project(), converted("random"), e, null_context());
    a.train_step();
    const std::string ck = root() + "/other.safetensors";
    a.save_checkpoint(ck, json::object());
    TrainSettings d = small("experts", 1);
    d.tokens = 64 * 2;
    Trainer b(project(), converted("dive"), d, null_context());
    CHECK_THROWS_WITH(b.load_checkpoint(ck), "belongs to another model");
    const auto size = fs::file_size(ck);
    fs::resize_file(ck, size / 2);
    CHECK_THROWS_WITH(a.load_checkpoint(ck), "cannot be read");
}

TEST(nan_guard_names_the_step_and_tensor) {
    TrainSettings s = small("experts", 2);
    s.tokens = 64 * 2;
    Trainer tr(project(), converted("random"), s, null_context());
    tr.train_step();
    {
        at::NoGradGuard ng;  // a poisoned norm weight: the loss and every gradient turn NaN
        tr.model().named_tensors().at("model.norm.weight").fill_(std::nan(""));
    }
    CHECK_THROWS_WITH(tr.train_step(), "training diverged at step 2: the loss is ");
    CHECK_THROWS_WITH(tr.train_step(), "the first non-finite tensor is the gradient of "
                                       "model.layers.0.input_layernorm.weight");  // the first in name order
}

TEST(window_order_is_seeded_and_covers_each_epoch) {
    WindowOrder a({3, 5}, {}, 7), b({3, 5}, {}, 7), c({3, 5}, {}, 8);
    std::vector<std::pair<int64_t, int64_t>> da, db, dc;
    for (int i = 0; i < 16; ++i) {
        da.push_back(a.next());
        db.push_back(b.next());
        dc.push_back(c.next());
    }
    CHECK(da == db);
    CHECK(da != dc);
    for (int epoch = 0; epoch < 2; ++epoch) {  // uniform over tokens: every window once per epoch
        std::set<std::pair<int64_t, int64_t>> seen(da.begin() + epoch * 8, da.begin() + epoch * 8 + 8);
        CHECK_EQ(seen.size(), size_t{8});
    }
    WindowOrder s({3, 5}, {}, 7);
    s.seek(11);
    CHECK(s.next() == da[11]);
    WindowOrder w({3, 5}, {1.0, 0.0}, 7);  // a domain of weight 0 is never drawn; the other cycles
    std::set<int64_t> wins;
    for (int i = 0; i < 9; ++i) {
        auto dw = w.next();
        CHECK_EQ(dw.first, int64_t{0});
        wins.insert(dw.second);
    }
    CHECK_EQ(wins.size(), size_t{3});
}

TEST(stage_defaults_follow_the_reference) {
    TrainSettings r = small("router", 1), r2 = small("router", 2), e = small("experts", 1), x = small("extra", 1);
    CHECK(r.temperature == 0.05 && r2.temperature == 0.5 && r.lr == 1e-4 && r.schedule == "constant");
    CHECK(r.lora_rank == 0 && r.trainable == "*.mlp.router.weight");
    CHECK(e.lora_rank == 8 && e.lora_alpha == 16 && e.lora_dropout == 0.1 && e.warmup_ratio == 0.03);
    CHECK(e.schedule == "cosine" && e.min_lr_ratio == 0.1 && e.clip == 1.0 && e.weight_decay == 0.0);
    CHECK(x.lr == 1e-5 && x.schedule == "constant" && x.lora_rank == 8);
    // the extra stage: fresh LoRA (B = 0) on the merged model, which the first step moves
    x.tokens = 64;
    Trainer tr(project(), converted("dive"), x, null_context());
    CHECK_EQ(tr.total_steps(), int64_t{1});
    const std::string b = LoraSet::b_name("model.layers.2.mlp.experts.1.up_proj.weight");
    CHECK(tr.parameters().at(b).abs().max().item<double>() == 0.0);
    tr.train_step();
    CHECK(tr.parameters().at(b).abs().max().item<double>() > 0.0);
}

TEST(glob_and_lists) {
    CHECK(glob_match("*.mlp.router.weight", "model.layers.3.mlp.router.weight"));
    CHECK(glob_match("*norm.weight", "model.norm.weight"));
    CHECK(glob_match("*norm.weight", "model.layers.0.post_attention_layernorm.weight"));
    CHECK(!glob_match("*norm.weight", "model.layers.0.mlp.router.weight"));
    CHECK(glob_match("model.layers.?.mlp.*", "model.layers.4.mlp.experts.1.up_proj.weight"));
    CHECK_EQ(split_list(" a, b ,,c ").size(), size_t{3});
}

D2M_TEST_MAIN()
