// den2moe CLI plumbing: the command table's dispatch, thread setup, and main() behind the shared error
// boundary (exit 1 user error, 2 internal, 130 cancelled).
#include "cli.h"

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/interrupts.h"
#include "core/runtime.h"
#include "core/run_context.h"
#include "io/safetensors.h"
#include "model/gemm.h"

namespace den2moe::cli {

std::string settings_help(const std::vector<FieldInfo>& fields) {
    return frontend::options_help(frontend::field_options(fields));
}

void setup_threads(const Args& a) {
    init_runtime(a.has("threads") ? static_cast<int>(a.get_int("threads", 0)) : 0);
}

void print_warnings(const std::vector<std::string>& warnings) {
    for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
}

void emit_json_text(const Args& a, const std::string& text) {
    if (a.has("out")) write_file_atomic(a.get("out"), text);
    if (a.has("json")) std::fputs(text.c_str(), stdout);
}

}  // namespace den2moe::cli

using namespace den2moe;

static void print_usage() {
    std::printf("den2moe — Den2MoE Studio command line\n\nusage: den2moe COMMAND [options]\n\ncommands:\n");
    for (const auto& c : cli::commands()) std::printf("  %-10s %s\n", c.name, c.summary);
    std::printf("\n'den2moe COMMAND --help' describes a command. Exit codes: 0 ok, 1 user error, 2 internal "
                "error, 130 cancelled.\n");
}

int main(int argc, char** argv) {
    // first, before any thread starts: SIGINT / SIGTERM go to a thread of their own, never to a thread
    // inside a GEMM kernel (core/interrupts.h)
    route_interrupts_to_thread();
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
        if (!blas.hint.empty()) std::printf("hint: %s\n", blas.hint.c_str());
        std::printf("libtorch: %s\n", libtorch_description().c_str());
        const bool env_set = std::getenv("D2M_BF16_GEMM") != nullptr;
        std::printf("bf16 GEMMs: %s (%s)\n",
                    gemm::bf16_mode() == gemm::Bf16Mode::Native ? "native (libtorch's bf16 kernels)"
                                                                : "widened to float32 and rounded once",
                    env_set ? "set by D2M_BF16_GEMM" : cpu_bf16_support().reason.c_str());
        try {
            std::printf("fp32 GEMMs: %s\n", gemm::fp32_library_description().c_str());
            std::printf("pre-packed weights: %s\n", gemm::packed_weights_description().c_str());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return cli::kUserError;
        }
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
    for (int i = 2; i < argc; ++i) verbose = verbose || std::string(argv[i]) == "--verbose";
    return frontend::run_guarded(
        [&] {
            const auto options = frontend::join_options({cmd->options(), frontend::common_options()});
            cli::Args args(argc, argv, 2, frontend::switches_of(options));
            if (args.help()) {
                std::printf("%s\n\noptions:\n%s", cmd->usage, frontend::options_help(options).c_str());
                return int(cli::kOk);
            }
            args.allow(frontend::flags_of(options));
            cli::setup_threads(args);
            gemm::check_environment();  // a bad $D2M_GEMM or $D2M_PACKED_WEIGHTS_MB: a user error, before any work
            // an explicit OPENBLAS_CORETYPE is respected; say once what would be faster
            if (const BlasKernels& blas = select_blas_kernels(); !blas.hint.empty() && !args.has("quiet"))
                std::fprintf(stderr, "note: %s\n", blas.hint.c_str());
            RunContext ctx;
            ctx.client = "den2moe";
            frontend::ProgressPrinter printer(stderr);
            if (!args.has("quiet")) ctx.on_progress = printer.sink();
            set_interrupt_flag(ctx.cancel.raw_flag());  // Ctrl-C / SIGTERM: the job stops, exit 130
            return cmd->run(args, ctx);
        },
        verbose);
}
