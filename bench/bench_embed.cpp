// bench_embed: text-embedding throughput (tokens/s) of the engine's TextEncoder (eval/embeddings.h: BOS +
// MoEE prompt, length-sorted left-padded batches, final-norm hidden state at the last token) on
// demo-llama-7m, next to PyTorch eager on the same model, texts, batch size and threads
// (tests/reference/llama_reference.py embed, run as a subprocess in the same run), batched in the given
// order (as MoEE's encode does) and length-sorted (as the engine does). The texts are STS13's first
// sentences through the "none" template. Optionally (--moe DIR) the engine's RW + HS encoding of a
// converted MoE. Prints medians and ratios; --markdown for docs/benchmarks.md.
#include <ATen/ATen.h>

#include "bench_util.h"
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/run_context.h"
#include "core/runtime.h"
#include "eval/embeddings.h"
#include "eval/prompts.h"
#include "eval/task_data.h"
#include "eval/task_registry.h"
#include "model/loaded_model.h"
#include "tokenizer/tokenizer.h"

using namespace den2moe;


int main(int argc, char** argv) {
    std::string shared = std::getenv("D2M_SHARED_DIR") ? std::getenv("D2M_SHARED_DIR") : "../shared";
    std::string src = std::getenv("D2M_SOURCE_DIR") ? std::getenv("D2M_SOURCE_DIR") : ".";
    int threads = 2, reps = 5;
    int64_t batch = 32, n_texts = 512;
    bool markdown = false;
    std::string moe_dir;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
        else if (a == "--texts" && i + 1 < argc) n_texts = std::atoll(argv[++i]);
        else if (a == "--moe" && i + 1 < argc) moe_dir = argv[++i];
        else if (a == "--markdown") markdown = true;
    }
    den2moe::bench::init_bench_runtime(threads);
    const std::string model_dir = shared + "/models/demo-llama-7m";
    StsData sts = load_sts(*find_task("STS13"), shared, 0);
    std::vector<std::string> prompts;
    for (int64_t i = 0; i < n_texts && i < static_cast<int64_t>(sts.sentence1.size()); ++i)
        prompts.push_back(moee_prompt(sts.sentence1[static_cast<size_t>(i)], "none", ""));
    const std::string texts_file = "/tmp/bench_embed_texts_" + std::to_string(::getpid()) + ".json";
    std::ofstream(texts_file) << nlohmann::json(prompts).dump();

    struct Row {
        std::string what;
        double ours, eager_given, eager_sorted;
    };
    std::vector<Row> rows;
    RunContext quiet;
    auto engine_tps = [&](const LoadedModel& lm, bool want_rw) {
        EncoderOptions eo;
        eo.batch = batch;
        eo.want_rw = want_rw;
        int64_t tokens = 0;
        const double s = den2moe::bench::median_seconds(
            [&] {
                TextEncoder enc(*lm.model, *lm.tokenizer, eo);  // fresh: nothing remembered between runs
                enc.encode(prompts, quiet, "bench");
                tokens = enc.tokens_encoded();
            },
            reps);
        return tokens / s;
    };
    LoadedModel lm = load_model(model_dir, ComputeDType::F32);
    const double a1 = engine_tps(lm, false);
    const std::string cmd = "/usr/bin/python3 " + src + "/tests/reference/llama_reference.py embed --model " +
                            model_dir + " --threads " + std::to_string(threads) + " --batch " + std::to_string(batch) +
                            " --texts " + texts_file + " --reps " + std::to_string(reps) + " 2>/dev/null";
    double given = 0, sorted = 0;
    try {
        const std::string out = den2moe::bench::run_capture(cmd);
        const auto j = nlohmann::json::parse(out.substr(out.find('{')));
        given = j.at("given_order").at("tokens_per_s").get<double>();
        sorted = j.at("sorted").at("tokens_per_s").get<double>();
    } catch (...) {
        std::fprintf(stderr, "bench_embed: the PyTorch reference did not run (%s)\n", cmd.c_str());
    }
    const double a2 = engine_tps(lm, false);  // engine before and after the reference: load drifts
    const double ours = std::max(a1, a2);
    rows.push_back({"demo-llama-7m HS (fp32)", ours, given, sorted});
    std::printf("HS fp32, %zu texts, batch %lld, %d threads: engine %.0f tok/s (runs %.0f, %.0f) | eager given order "
                "%.0f tok/s (%.2fx) | eager length-sorted %.0f tok/s (%.2fx)\n",
                prompts.size(), (long long)batch, threads, ours, a1, a2, given, given > 0 ? ours / given : 0.0,
                sorted, sorted > 0 ? ours / sorted : 0.0);
    if (!moe_dir.empty()) {
        LoadedModel moe = load_model(moe_dir, ComputeDType::F32);
        const double m = engine_tps(moe, true);
        rows.push_back({"MoE " + moe_dir + " HS + RW (fp32)", m, 0, 0});
        std::printf("MoE HS + RW fp32: engine %.0f tok/s\n", m);
    }
    std::remove(texts_file.c_str());
    if (markdown) {
        std::printf("\n| model / embedding | texts x batch | engine tok/s | eager tok/s (given order) | ratio | eager tok/s "
                    "(length-sorted) | ratio |\n|---|---|---|---|---|---|---|\n");
        for (const auto& r : rows)
            std::printf("| %s | %zu x %lld | %.0f | %.0f | %s | %.0f | %s |\n", r.what.c_str(), prompts.size(),
                        (long long)batch, r.ours, r.eager_given,
                        r.eager_given > 0 ? (std::to_string(r.ours / r.eager_given).substr(0, 4) + "x").c_str() : "-",
                        r.eager_sorted,
                        r.eager_sorted > 0 ? (std::to_string(r.ours / r.eager_sorted).substr(0, 4) + "x").c_str() : "-");
    }
    return 0;
}
