// Byte-level BPE encode speed (Qwen2 vocabulary): engine tokens/s on the oracle corpus (bpe_oracle.py
// --corpus-only: ~3,700 texts), one thread, caches warm, in interleaved rounds with the pure-Python GPT-2
// reference and (--hf-python PY) Hugging Face tokenizers' single-thread encode loop; medians and ratios.
// usage: bench_bpe [--reps N] [--hf-python build-nogui/hfvenv/bin/python] [--markdown]
//        (from the source root, or with D2M_SOURCE_DIR / D2M_SHARED_DIR set)
#include "bench_util.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <unistd.h>

int main(int argc, char** argv) {
    using den2moe::Tokenizer;
    const std::string shared = std::getenv("D2M_SHARED_DIR") ? std::getenv("D2M_SHARED_DIR") : "../shared";
    const std::string src = std::getenv("D2M_SOURCE_DIR") ? std::getenv("D2M_SOURCE_DIR") : ".";
    int reps = 5;
    bool markdown = false;
    std::string hf_python;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
        else if (a == "--hf-python" && i + 1 < argc) hf_python = argv[++i];
        else if (a == "--markdown") markdown = true;
    }
    const std::string oracle = src + "/tests/reference/bpe_oracle.py --shared " + shared + " --multilingual " + src +
                               "/tests/data/multilingual.jsonl";
    const std::string corpus_file = "/tmp/bench_bpe_corpus_" + std::to_string(::getpid()) + ".json";
    den2moe::bench::run_capture("/usr/bin/python3 " + oracle + " --impl python --corpus-only --out " + corpus_file);
    std::vector<std::string> texts;
    {
        std::ifstream in(corpus_file);
        if (!in) {
            std::fprintf(stderr, "bench_bpe: the corpus was not written (%s)\n", corpus_file.c_str());
            return 1;
        }
        texts = nlohmann::json::parse(in).at("texts").get<std::vector<std::string>>();
    }
    std::remove(corpus_file.c_str());
    size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();

    const std::unique_ptr<Tokenizer> tok = Tokenizer::load(shared + "/models/qwen2_tokenizer");
    size_t n_tokens = 0;
    auto engine_pass = [&] {
        size_t n = 0;
        for (const auto& t : texts) n += tok->encode(t, false, false).size();
        n_tokens = n;
    };
    auto peer = [&](const std::string& python, const std::string& impl) -> std::pair<double, size_t> {
        const std::string out =
            den2moe::bench::run_capture(python + " " + oracle + " --impl " + impl + " --bench 2>/dev/null");
        try {
            const auto j = nlohmann::json::parse(out.substr(out.find('{')));
            return {j.at("seconds").get<double>(), j.at("tokens").get<size_t>()};
        } catch (...) {
            std::fprintf(stderr, "bench_bpe: %s %s did not run\n", python.c_str(), impl.c_str());
            return {0.0, 0};
        }
    };
    engine_pass();  // warm the word cache, as the peers' warm-up pass does
    std::vector<double> t_engine, t_py, t_hf;
    size_t py_tokens = 0, hf_tokens = 0;
    for (int r = 0; r < reps; ++r) {  // interleaved rounds: load that comes and goes hits all alike
        const auto t0 = std::chrono::steady_clock::now();
        engine_pass();
        t_engine.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        auto [s, n] = peer("/usr/bin/python3", "python");
        if (s > 0) t_py.push_back(s), py_tokens = n;
        if (!hf_python.empty()) {
            auto [sh, nh] = peer(hf_python, "hf");
            if (sh > 0) t_hf.push_back(sh), hf_tokens = nh;
        }
    }
    using den2moe::bench::median;
    const double e = n_tokens / median(t_engine);
    const double p = t_py.empty() ? 0.0 : py_tokens / median(t_py);
    const double h = t_hf.empty() ? 0.0 : hf_tokens / median(t_hf);
    std::printf("byte-level BPE encode, Qwen2 vocabulary, %zu texts, %zu bytes, %zu tokens, 1 thread, warm caches, "
                "medians of %d interleaved rounds\n",
                texts.size(), bytes, n_tokens, reps);
    std::printf("  engine             %10.0f tokens/s\n", e);
    if (p > 0) std::printf("  python GPT-2 ref   %10.0f tokens/s  (engine %.2fx)%s\n", p, e / p,
                           py_tokens == n_tokens ? "" : "  TOKEN COUNTS DIFFER");
    if (h > 0) std::printf("  HF tokenizers      %10.0f tokens/s  (engine %.2fx)%s\n", h, e / h,
                           hf_tokens == n_tokens ? "" : "  TOKEN COUNTS DIFFER");
    if (markdown) {
        std::printf("\n| corpus | tokens | engine tok/s | Python GPT-2 tok/s | ratio | HF tokenizers tok/s | ratio |\n"
                    "|---|---|---|---|---|---|---|\n| %zu texts (domains + multilingual) | %zu | %.0f | %.0f | %.2fx | "
                    "%.0f | %s |\n",
                    texts.size(), n_tokens, e, p, p > 0 ? e / p : 0.0, h,
                    h > 0 ? (std::to_string(e / h).substr(0, 4) + "x").c_str() : "-");
    }
    return 0;
}
