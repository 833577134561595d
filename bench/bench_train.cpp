// bench_train: training tokens/s of a full step (forward, backward, clipping, AdamW) on the demo MoE
// (demo-llama-7m with 8 experts of 384 channels, top-1: DIVE's 8_1_0.5 shape, FLAP-style biases),
// stage router (every expert on every token, routers train) and stage experts (top-1, LoRA r 8 on
// every expert's gate/up/down + routers + norms), against PyTorch eager training of the same model
// from the same files (tests/reference/train_oracle.py bench: Mixtral-style gather / index_add
// dispatch, torch.optim.AdamW), same threads and batch. Each measurement is a fresh process (so its
// peak RSS is its own): ours and eager alternate in rounds, medians over rounds of the median step.
//   bench_train [--threads 2] [--rounds 3] [--steps 4] [--batch 8] [--seq 256] [--dtype fp32|bf16|both]
//               [--model MOE_DIR] [--stages router,experts] [--split-workers N] [--markdown]
// --split-workers: the trainer's settings.split_workers (threads splitting each micro-batch; 0 = auto, 1 = off;
// absent = the setting's default).
// Without --model a DIVE-shaped model is built (random channel subsets, random router) in a temp folder.
// D2M_TRAIN_PROFILE=FILE (one child, e.g. `bench_train --child ours ...`): one more step under libtorch's
// autograd profiler, written as a chrome trace (bench/train_profile.py sums it op by op).
// Contrastive stages (issue 17; --stages infonce,infonce-lora,cosmse): the `embedding` stage of the dense
// demo-llama-7m (--dense-model) on the demo's pairs (MRPC / STS12 / Banking77 train, 400 each, one hard
// negative per Banking77 pair), --pairs-batch pairs a step, texts as `den2moe train --append-eos
// --prompt none --max-length 64` encodes them, last-token pooling, L2 norm; infonce: tau --tau (0.05),
// in-batch + hard negatives, every self_attn / mlp weight and norm trains; infonce-lora: LoRA r 8 on
// q/k/v/o/gate/up/down + the norms; cosmse: (cos - label)^2, full. The eager peer is
// tests/reference/contrastive_oracle.py bench, fed the same batches in the trainer's order (token ids
// written by this program), so both sides train on the same texts; tokens/s = real (unpadded) tokens
// of a step / its time, median over the timed steps. Both children report their first step's loss
// (the same batch, the same weights): the table shows how far apart they are.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include "bench_util.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert/convert.h"
#include "model/moe_io.h"
#include "core/run_context.h"
#include "core/runtime.h"
#include "io/hf_config.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/moe.h"
#include "project/project.h"
#include "train/data.h"
#include "train/pairs.h"
#include "train/trainer.h"
#include "train/train_settings.h"

using namespace den2moe;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Opts {
    int threads = 2, rounds = 3, steps = 4;
    int64_t workers = -1;  // -1: TrainSettings' default
    int64_t batch = 8, seq = 256;
    int64_t pairs_batch = 16;  // contrastive stages: pairs per step
    double tau = 0.05;
    std::string dtype = "both", model, stages = "router,experts", child, stage, child_dtype;
    std::string dense_model, pairs;  // contrastive stages: the dense model, the pairs file
    bool markdown = false;
};

std::string source_root() {
    if (const char* s = std::getenv("D2M_SOURCE_DIR")) return s;
    // the build folder sits in the checkout (build-nogui/bench/bench_train)
    const fs::path exe = fs::canonical("/proc/self/exe");
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.parent_path(); p = p.parent_path()) {
        if (fs::exists(p / "tests/reference/train_oracle.py")) return p.string();
    }
    return ".";
}

double peak_rss_mib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    }
    return 0;
}

double cpu_seconds() {  // user + sys of this process
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "?";
}

// DIVE's 8_1_0.5 shape on the demo model: 8 experts of F/2 channels, FLAP-like biases, random router
std::string make_model(const std::string& dir) {
    LoadedModel lm = load_model(std::string(std::getenv("D2M_SHARED_DIR") ? std::getenv("D2M_SHARED_DIR") : "../shared") +
                                    "/models/demo-llama-7m",
                                ComputeDType::F32);
    const LlamaModel& m = *lm.model;
    at::manual_seed(42);
    const int64_t D = m.config().n_embd, F = m.config().n_ff;
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    for (int il = 0; il < m.config().n_layer; ++il) {
        const SwiGluFfn& d = m.dense_ffn(il);
        std::vector<std::shared_ptr<const SwiGluFfn>> ex;
        for (int e = 0; e < 8; ++e) {
            at::Tensor idx = std::get<0>(at::randperm(F, at::kLong).narrow(0, 0, F / 2).sort());
            ex.push_back(std::make_shared<SwiGluFfn>(d.gate().index_select(0, idx), d.up().index_select(0, idx),
                                                     d.down().index_select(1, idx), at::randn({D}) * 0.02, at::kFloat));
        }
        RouterSpec rs;
        rs.weight = (at::rand({8, D}) * 2 - 1) / std::sqrt(static_cast<double>(D));
        rs.top_k = 1;
        ffns.push_back(std::make_shared<MoeFfn>(ex, rs, nullptr, at::kFloat));
    }
    ConvertResult r;
    r.model = m.with_ffns(ffns);
    r.moe_config = {{"format", "den2moe-moe-v1"}, {"recipe", "bench"}, {"num_experts", 8}, {"top_k", 1},
                    {"router", {{"gate", "softmax"}}}, {"expert_bias", true},
                    {"base", json::parse(hf_config_to_json(m.config()))}};
    r.provenance = json::object();
    save_moe_native(*r.model, r.moe_config, r.provenance, dir, lm.tokenizer_path);
    return dir;
}

std::string shared_dir() {
    return std::getenv("D2M_SHARED_DIR") ? std::getenv("D2M_SHARED_DIR") : "../shared";
}

bool contrastive_stage(const std::string& st) { return st == "infonce" || st == "infonce-lora" || st == "cosmse"; }

/// The `embedding` stage's settings of a contrastive bench stage (the demo's encoding, --dtype).
TrainSettings contrastive_settings(const Opts& o, const std::string& stage, const std::string& dtype) {
    TrainSettings s;
    s.stage = "embedding";
    apply_stage_defaults(s, 0);
    s.loss = stage == "cosmse" ? "cosmse" : "infonce";
    s.tau = o.tau;
    s.pairs = o.pairs;
    s.batch = o.pairs_batch;
    s.steps = o.steps + 1;
    s.max_length = 64;
    s.append_eos = true;
    s.prompt = "none";
    s.domains = "wiki";
    s.eval_windows = 1;
    s.dtype = dtype;
    if (stage == "infonce-lora") {  // the demo's LoRA run: r 8 on attention + MLP, the norms train
        s.lora_rank = 8;
        s.lora_attention = true;
        s.trainable = "*norm.weight";
    }
    return s;
}

/// The pairs file (the demo's) and, per step of the trainer's order, the token ids of its pairs:
/// {"steps": [[{"ids": [[query], [positive], [negatives]...], "label": x}, ...], ...]} for the eager peer.
void write_contrastive_data(Opts& o, const std::string& dir) {
    PairBuildOptions po;
    po.max_per_source = 400;
    o.pairs = dir + "/pairs.jsonl";
    write_pairs(o.pairs, build_pairs(shared_dir(), po));
    Project p = load_project(source_root() + "/projects/demo.den2moe.json");
    for (const std::string st : {"infonce", "cosmse"}) {
        TrainSettings s = contrastive_settings(o, st, "fp32");
        Trainer tr(p, o.dense_model, s, null_context());
        const int64_t n = static_cast<int64_t>(tr.pairs().size());
        WindowOrder order({n}, {}, static_cast<uint64_t>(s.seed));  // the trainer's draws (train_step)
        json steps = json::array();
        for (int64_t k = 0; k < s.steps; ++k) {
            json batch = json::array();
            for (int64_t b = 0; b < s.batch; ++b) {
                const int64_t i = order.next().second;
                json row = {{"ids", tr.pair_tokens()[static_cast<size_t>(i)]}};
                if (tr.pairs()[static_cast<size_t>(i)].has_label()) row["label"] = tr.pairs()[static_cast<size_t>(i)].label;
                batch.push_back(row);
            }
            steps.push_back(batch);
        }
        std::ofstream(dir + "/batches-" + st + ".json") << json({{"steps", steps}}).dump();
    }
}

int run_child(const Opts& o) {
    init_runtime(o.threads);
    Project p = load_project(source_root() + "/projects/demo.den2moe.json");
    TrainSettings s;
    if (contrastive_stage(o.stage)) {
        s = contrastive_settings(o, o.stage, o.child_dtype);
    } else {
        s.stage = o.stage;
        apply_stage_defaults(s, model_top_k(o.model));
        s.domains = "wiki,python,gsm8k";
        s.seq_len = o.seq;
        s.batch = o.batch;
        s.tokens = o.seq * o.batch * (o.steps + 1);
        s.dtype = o.child_dtype;
        s.eval_windows = 1;
        if (o.workers >= 0) s.split_workers = o.workers;
    }
    Trainer tr(p, o.model, s, null_context());
    const double first_loss = tr.train_step();  // warm-up (contrastive: the first batch, compared with eager's)
    std::vector<double> t, rate;
    double loss = 0;
    const double c0 = cpu_seconds();
    for (int i = 0; i < o.steps; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        loss = tr.train_step();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        rate.push_back(static_cast<double>(tr.last_step_tokens()) / t.back());  // real tokens (LM: batch x seq)
    }
    const double cpu_step = (cpu_seconds() - c0) / o.steps;
    if (const char* prof = std::getenv("D2M_TRAIN_PROFILE")) {
        torch::autograd::profiler::RecordProfile guard(std::string{prof});
        tr.train_step();
    }
    std::printf("%s\n", json({{"tokens_per_s", bench::median(rate)},
                              {"step_s", bench::median(t)},
                              {"cpu_s_per_step", cpu_step},  // user + sys of all threads, mean of the timed steps
                              {"peak_rss_mib", peak_rss_mib()},
                              {"loss", loss},
                              {"first_loss", first_loss},
                              {"split_workers", tr.split_stats()["max_workers"]}})  // flat: the parent reads from the last '{'
                            .dump()
                            .c_str());
    return 0;
}

json run(const std::string& cmd) {
    FILE* f = popen(cmd.c_str(), "r");
    if (!f) return json();
    std::string out;
    char buf[4096];
    while (fgets(buf, sizeof buf, f)) out += buf;
    const int rc = pclose(f);
    const auto b = out.rfind('{');
    if (rc != 0 || b == std::string::npos) {
        std::fprintf(stderr, "failed (%d): %s\n%s\n", rc, cmd.c_str(), out.c_str());
        return json();
    }
    return json::parse(out.substr(b));
}

}  // namespace

int main(int argc, char** argv) {
    Opts o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
        if (a == "--threads") o.threads = std::stoi(next());
        else if (a == "--rounds") o.rounds = std::stoi(next());
        else if (a == "--steps") o.steps = std::stoi(next());
        else if (a == "--batch") o.batch = std::stoll(next());
        else if (a == "--seq") o.seq = std::stoll(next());
        else if (a == "--dtype") o.dtype = next();
        else if (a == "--model") o.model = next();
        else if (a == "--stages") o.stages = next();
        else if (a == "--child") o.child = next();
        else if (a == "--stage") o.stage = next();
        else if (a == "--child-dtype") o.child_dtype = next();
        else if (a == "--split-workers") o.workers = std::stoll(next());
        else if (a == "--markdown") o.markdown = true;
        else if (a == "--pairs-batch") o.pairs_batch = std::stoll(next());
        else if (a == "--tau") o.tau = std::stod(next());
        else if (a == "--dense-model") o.dense_model = next();
        else if (a == "--pairs") o.pairs = next();
    }
    if (!o.child.empty()) return run_child(o);

    bench::init_bench_runtime(o.threads);
    std::printf("CPU: %s; threads %d; batch %lld x %lld tokens; %d steps per process, %d rounds; workers %s; "
                "OMP_WAIT_POLICY %s\n", cpu_name().c_str(), o.threads, (long long)o.batch, (long long)o.seq, o.steps,
                o.rounds, o.workers >= 0 ? std::to_string(o.workers).c_str() : "default",
                std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "unset");
    std::vector<std::string> stages = split_list(o.stages);
    bool any_lm = false, any_contrastive = false;
    for (const auto& st : stages) (contrastive_stage(st) ? any_contrastive : any_lm) = true;
    if (o.model.empty() && any_lm) {
        o.model = (fs::temp_directory_path() / ("d2m_bench_train_" + std::to_string(::getpid()))).string();
        make_model(o.model);
    }
    std::string data_dir;
    if (any_contrastive) {
        if (o.dense_model.empty()) o.dense_model = shared_dir() + "/models/demo-llama-7m";
        data_dir = (fs::temp_directory_path() / ("d2m_bench_pairs_" + std::to_string(::getpid()))).string();
        fs::create_directories(data_dir);
        write_contrastive_data(o, data_dir);
        std::printf("contrastive stages: %s, %lld pairs a step, tau %g, max length 64, EOS appended; data in %s\n",
                    o.dense_model.c_str(), (long long)o.pairs_batch, o.tau, data_dir.c_str());
    }
    const std::string self = fs::canonical("/proc/self/exe").string();
    const std::string oracle = source_root() + "/tests/reference/train_oracle.py";
    const std::string c_oracle = source_root() + "/tests/reference/contrastive_oracle.py";
    std::vector<std::string> dtypes = o.dtype == "both" ? std::vector<std::string>{"fp32", "bf16"}
                                                        : std::vector<std::string>{o.dtype};
    struct Row {
        std::string stage, dtype;
        std::vector<double> ours, eager, ours_mem, eager_mem;
        std::vector<double> ours_cpu, eager_cpu;  // CPU seconds (user + sys) per timed step
        double first_ours = 0, first_eager = 0;  // contrastive: the first step's loss (same batch)
    };
    std::vector<Row> rows;
    for (const auto& dt : dtypes)
        for (const auto& st : stages) rows.push_back({st, dt, {}, {}, {}, {}, {}, {}, 0, 0});
    const std::string common = " --threads " + std::to_string(o.threads) + " --batch " + std::to_string(o.batch) +
                               " --seq " + std::to_string(o.seq) + " --steps " + std::to_string(o.steps);
    const std::string ours_extra = o.workers >= 0 ? " --split-workers " + std::to_string(o.workers) : std::string();
    for (int r = 0; r < o.rounds; ++r) {
        for (auto& row : rows) {
            json a, b;
            if (contrastive_stage(row.stage)) {
                const std::string pc = " --threads " + std::to_string(o.threads) + " --steps " + std::to_string(o.steps);
                const std::string loss = row.stage == "cosmse" ? "cosmse" : "infonce";
                a = run(self + " --child ours --stage " + row.stage + " --child-dtype " + row.dtype + " --model " +
                        o.dense_model + " --pairs " + o.pairs + " --pairs-batch " + std::to_string(o.pairs_batch) +
                        " --tau " + std::to_string(o.tau) + pc + " 2>/dev/null");
                b = run("OMP_NUM_THREADS=" + std::to_string(o.threads) + " /usr/bin/python3 " + c_oracle +
                        " bench --model " + o.dense_model + " --batches " + data_dir + "/batches-" + loss + ".json --loss " +
                        loss + " --tau " + std::to_string(o.tau) + " --dtype " + row.dtype + " --threads " +
                        std::to_string(o.threads) + (row.stage == "infonce-lora" ? " --lora 8" : ""));
                if (a.is_object() && b.is_object()) {
                    row.first_ours = a["first_loss"].get<double>();
                    row.first_eager = b["first_loss"].get<double>();
                }
            } else {
                a = run(self + " --child ours --stage " + row.stage + " --child-dtype " + row.dtype + " --model " +
                        o.model + common + ours_extra + " 2>/dev/null");
                b = run("OMP_NUM_THREADS=" + std::to_string(o.threads) + " /usr/bin/python3 " + oracle +
                        " bench --model " + o.model + " --stage " + row.stage + " --dtype " + row.dtype + common);
            }
            if (a.is_object()) {
                row.ours_cpu.push_back(a["cpu_s_per_step"].get<double>());
                row.ours.push_back(a["tokens_per_s"].get<double>());
                row.ours_mem.push_back(a["peak_rss_mib"].get<double>());
            }
            if (b.is_object()) {
                row.eager_cpu.push_back(b["cpu_s_per_step"].get<double>());
                row.eager.push_back(b["tokens_per_s"].get<double>());
                row.eager_mem.push_back(b["peak_rss_mib"].get<double>());
            }
            std::fprintf(stderr, "round %d %s %s: ours %.0f tok/s, eager %.0f tok/s\n", r + 1, row.stage.c_str(),
                         row.dtype.c_str(), a.is_object() ? a["tokens_per_s"].get<double>() : 0.0,
                         b.is_object() ? b["tokens_per_s"].get<double>() : 0.0);
        }
    }
    std::printf(o.markdown ? "\n| stage | dtype | den2moe tokens/s | PyTorch eager tokens/s | ratio | den2moe peak RSS | eager peak RSS |\n|---|---|---|---|---|---|---|\n"
                           : "\n%-8s %-5s %16s %16s %7s %14s %14s\n",
                "stage", "dtype", "den2moe tok/s", "eager tok/s", "ratio", "den2moe MiB", "eager MiB");
    for (const auto& row : rows) {
        const double a = bench::median(row.ours), b = bench::median(row.eager);
        const double ma = bench::median(row.ours_mem), mb = bench::median(row.eager_mem);
        if (o.markdown)
            std::printf("| %s | %s | %.0f | %.0f | %.2fx | %.0f MiB | %.0f MiB |\n", row.stage.c_str(), row.dtype.c_str(),
                        a, b, b > 0 ? a / b : 0.0, ma, mb);
        else
            std::printf("%-8s %-5s %16.0f %16.0f %6.2fx %14.0f %14.0f\n", row.stage.c_str(), row.dtype.c_str(), a, b,
                        b > 0 ? a / b : 0.0, ma, mb);
    }
    for (const auto& row : rows) {
        if (!contrastive_stage(row.stage) || row.first_eager == 0) continue;
        // the same batches on both sides: CPU time per step compares the same work (a loaded machine
        // distorts it least: waiting for a core is not counted)
        const double ca = bench::median(row.ours_cpu), cb = bench::median(row.eager_cpu);
        std::printf("%s %s: first-step loss (same batch, same weights) den2moe %.7f, eager %.7f, rel diff %.1e; "
                    "CPU s per step %.3f vs %.3f (%.2fx)\n",
                    row.stage.c_str(), row.dtype.c_str(), row.first_ours, row.first_eager,
                    std::abs(row.first_ours - row.first_eager) / std::abs(row.first_eager), ca, cb, ca > 0 ? cb / ca : 0.0);
    }
    return 0;
}
