// den2moe CLI plumbing: argument parsing, progress line with ETA, thread setup, and main()
// with the error boundary (exit 1 user error, 2 internal, 130 cancelled).
#include "cli.h"

#include <ATen/Parallel.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "core/error.h"
#include "core/runtime.h"
#include "core/run_context.h"
#include "model/gemm.h"

namespace den2moe::cli {

namespace {

// Options that never take a value: `--lint-only DIR` must leave DIR a positional argument.
bool is_switch(const std::string& name) {
    static const char* const kSwitches[] = {"help",      "version",     "quiet",  "verbose",       "json",
                                            "no-eval",   "no-cache",    "strict", "refuse-biases", "lint-only",
                                            "pad-experts", "dense-router", "ignore-eos",
                                            "list-tasks", "show-prompt", "save-embeddings", "no-save-embeddings",
                                            "cache", "bos", "no-bos"};
    for (const char* s : kSwitches) {
        if (name == s) return true;
    }
    return false;
}

}  // namespace

Args::Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
            std::string name = a.substr(2), value = "1";
            auto eq = name.find('=');
            if (eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            } else if (!is_switch(name) && i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] == '-')) {
                value = argv[++i];
            }
            opts_.emplace(name, value);
        } else if (a.size() == 2 && a[0] == '-' && a[1] != '-' && i + 1 < argc) {
            opts_.emplace(std::string(1, a[1]), argv[++i]);  // short option with value: -n 200
        } else if (a == "-h") {
            opts_.emplace("help", "1");
        } else {
            pos_.push_back(a);
        }
    }
}

bool Args::has(const std::string& name) const { return opts_.count(name) > 0; }

std::string Args::get(const std::string& name, const std::string& def) const {
    auto it = opts_.find(name);
    return it == opts_.end() ? def : it->second;
}

std::vector<std::string> Args::get_all(const std::string& name) const {
    std::vector<std::string> v;
    auto range = opts_.equal_range(name);
    for (auto it = range.first; it != range.second; ++it) v.push_back(it->second);
    return v;
}

long long Args::get_int(const std::string& name, long long def) const {
    if (!has(name)) return def;
    std::string v = get(name);
    char* end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    D2M_CHECK(end && *end == 0 && !v.empty(), InvalidInput, "option --", name, " expects an integer, got '", v, "'");
    return x;
}

double Args::get_double(const std::string& name, double def) const {
    if (!has(name)) return def;
    std::string v = get(name);
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    D2M_CHECK(end && *end == 0 && !v.empty(), InvalidInput, "option --", name, " expects a number, got '", v, "'");
    return x;
}

void Args::allow(const std::vector<std::string>& known) const {
    for (const auto& kv : opts_) {
        bool ok = kv.first == "help" || kv.first == "threads" || kv.first == "quiet" || kv.first == "verbose";
        for (const auto& k : known) ok = ok || k == kv.first;
        D2M_CHECK(ok, InvalidInput, "unknown option --", kv.first, Hint{"see --help"});
    }
}

static std::string fmt_time(double s) {
    if (s < 0) return "?";
    char buf[32];
    if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
    else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
    return buf;
}

void attach_progress(RunContext& ctx, bool quiet) {
    if (quiet) return;
    ctx.on_progress = [](const Progress& p) {
        char line[256];
        if (p.total > 0)
            std::snprintf(line, sizeof line, "\r[%s] %lld/%lld %s  elapsed %s  ETA %s   ", p.stage.c_str(),
                          (long long)p.step, (long long)p.total, p.message.c_str(), fmt_time(p.elapsed_s).c_str(),
                          fmt_time(p.eta_s).c_str());
        else
            std::snprintf(line, sizeof line, "\r[%s] %lld %s  elapsed %s   ", p.stage.c_str(), (long long)p.step,
                          p.message.c_str(), fmt_time(p.elapsed_s).c_str());
        std::fputs(line, stderr);
        if (p.total > 0 && p.step >= p.total) std::fputs("\n", stderr);
        std::fflush(stderr);
    };
}

void setup_threads(const Args& a) {
    init_runtime(a.has("threads") ? static_cast<int>(a.get_int("threads", 0)) : 0);
}

std::string settings_help(const std::vector<FieldInfo>& fields) {
    std::string out;
    for (const auto& f : fields) {
        std::string lhs = "  --" + f.flag;
        if (f.type == FieldType::Int) lhs += " N";
        else if (f.type == FieldType::Real) lhs += " X";
        else if (f.type == FieldType::Text) lhs += " TEXT";
        else if (f.type == FieldType::Choice) {
            std::string c;
            for (const auto& x : f.choices) c += (c.empty() ? "" : "|") + x;
            lhs += " " + c;
        }
        std::string rhs = f.help + " (default " + (f.default_text.empty() ? "none" : f.default_text);
        if ((f.type == FieldType::Int || f.type == FieldType::Real) && f.range_text() != "any value")
            rhs += "; " + f.range_text();
        rhs += ")";
        if (f.type == FieldType::Bool) lhs += " / --no-" + f.flag;
        out += lhs + (lhs.size() < 30 ? std::string(30 - lhs.size(), ' ') : std::string("\n") + std::string(30, ' ')) +
               rhs + "\n";
    }
    return out;
}

void print_warnings(const std::vector<std::string>& warnings) {
    for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
}

}  // namespace den2moe::cli

using namespace den2moe;

static std::atomic<bool>* g_cancel_flag = nullptr;
extern "C" void d2m_on_sigint(int) {
    if (g_cancel_flag) g_cancel_flag->store(true);
}

static void print_usage() {
    std::printf("den2moe — Den2MoE Studio command line\n\nusage: den2moe COMMAND [options]\n\ncommands:\n");
    for (const auto& c : cli::commands()) std::printf("  %-10s %s\n", c.name, c.summary);
    std::printf("\n'den2moe COMMAND --help' describes a command. Exit codes: 0 ok, 1 user error, 2 internal "
                "error, 130 cancelled.\n");
}

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
        std::string(argv[1]) == "help") {
        print_usage();
        return argc < 2 ? cli::kUserError : cli::kOk;
    }
    if (std::string(argv[1]) == "--version") {
        std::printf("den2moe %s\n", D2M_VERSION);
        const int threads = init_runtime(0);
        const BlasKernels& blas = select_blas_kernels();
        std::printf("runtime: %d threads; BLAS %s %s (%s)\n", threads,
                    blas.library.empty() ? "(not OpenBLAS)" : blas.library.c_str(), blas.active.c_str(),
                    blas.reason.c_str());
        std::printf("bf16 GEMMs: %s\n", gemm::bf16_mode() == gemm::Bf16Mode::Native
                                            ? "native (libtorch's bf16 kernels)"
                                            : "widened to float32 and rounded once (this CPU has no fast bf16 GEMM)");
        return 0;
    }
    const std::string name = argv[1];
    const cli::Command* cmd = nullptr;
    for (const auto& c : cli::commands())
        if (name == c.name) cmd = &c;
    if (!cmd) {
        std::fprintf(stderr, "error: unknown command '%s'\n", name.c_str());
        print_usage();
        return cli::kUserError;
    }
    bool verbose = false;
    try {
        cli::Args args(argc, argv, 2);
        verbose = args.has("verbose");
        if (args.help()) {
            std::printf("%s\n", cmd->usage);
            return cli::kOk;
        }
        cli::setup_threads(args);
        RunContext ctx;
        cli::attach_progress(ctx, args.has("quiet"));
        g_cancel_flag = ctx.cancel.raw_flag();
        std::signal(SIGINT, d2m_on_sigint);
        return cmd->run(args, ctx);
    } catch (const Cancelled&) {
        std::fprintf(stderr, "\ncancelled\n");
        return cli::kCancelled;
    } catch (const Error& e) {
        std::fprintf(stderr, "\nerror: %s\n", e.what());
        return e.kind() == ErrorKind::Internal ? cli::kInternalError : cli::kUserError;
    } catch (const c10::Error& e) {
        std::fprintf(stderr, "\ninternal error (torch): %s\n",
                     verbose ? e.what() : e.what_without_backtrace());
        return cli::kInternalError;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "\ninternal error: %s\n", e.what());
        return cli::kInternalError;
    }
}
