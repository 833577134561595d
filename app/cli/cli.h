// The den2moe CLI: one thin command per pipeline step. A command parses its options (steps' options come
// from app/frontend, generated from the engine's settings schemas), calls one engine function and
// prints or writes its result. Parsing, the progress printer and the exit codes are app/frontend's,
// shared with den2moe-studio's headless form.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "args.h"
#include "console.h"
#include "core/settings.h"
#include "steps.h"

namespace den2moe {
class RunContext;
}

namespace den2moe::cli {

using frontend::Args;
using frontend::ExitCode;
using frontend::kCancelled;
using frontend::kInternalError;
using frontend::kOk;
using frontend::kUserError;

/// Apply the options of `a` that name fields of `schema` onto `s` (frontend::apply_schema).
template <class S>
void apply_settings(const Schema<S>& schema, S& s, const Args& a) {
    frontend::apply_schema(schema, s, a);
}
/// The option names of `schema` (for Args::allow), Bool fields also as --no-FLAG.
template <class S>
std::vector<std::string> settings_flags(const Schema<S>& schema) {
    return frontend::flags_of(frontend::schema_options(schema));
}
/// --help lines for a schema's fields.
std::string settings_help(const std::vector<FieldInfo>& fields);

/// Threads for torch: --threads N, else $D2M_THREADS, else the machine's cores.
void setup_threads(const Args& a);
/// A loaded model's warnings on stderr, one "warning: ..." line each.
void print_warnings(const std::vector<std::string>& warnings);
/// Write `text` to --out (atomically) and/or stdout (--json).
void emit_json_text(const Args& a, const std::string& text);

/// --nproc and --dist-timeout (commands that run on several processes: train, mine).
std::vector<frontend::OptionInfo> dist_options();
/// Run `body` as this process's part of a multi-process job (app/cli/dist_cli.cpp): with --nproc N
/// outside a job, start N workers of this command line and return their exit status; inside a job
/// (torchrun, srun or --nproc), join it, run, and leave through a barrier; else just run `body`.
int run_distributed(const Args& a, const std::function<int()>& body);
/// The number of ranks run_distributed will run `body` on (the launcher's environment, else --nproc).
int planned_world_size(const Args& a);

struct Command {
    const char* name;
    const char* summary;
    const char* usage;  ///< the synopsis and description of --help; the options follow, generated
    std::vector<frontend::OptionInfo> (*options)();  ///< every option the command takes
    int (*run)(const Args&, RunContext&);
};
const std::vector<Command>& commands();

// command implementations (cmd_*.cpp) and their options
int cmd_info(const Args&, RunContext&);
int cmd_generate(const Args&, RunContext&);
int cmd_ppl(const Args&, RunContext&);
int cmd_tokenize(const Args&, RunContext&);
int cmd_mine(const Args&, RunContext&);
int cmd_cluster(const Args&, RunContext&);
int cmd_convert(const Args&, RunContext&);
int cmd_route(const Args&, RunContext&);
int cmd_export(const Args&, RunContext&);
std::vector<frontend::OptionInfo> info_options();
std::vector<frontend::OptionInfo> generate_options();
std::vector<frontend::OptionInfo> ppl_options();
std::vector<frontend::OptionInfo> tokenize_options();
std::vector<frontend::OptionInfo> mine_options();
std::vector<frontend::OptionInfo> cluster_options();
std::vector<frontend::OptionInfo> convert_options();
std::vector<frontend::OptionInfo> route_options();
std::vector<frontend::OptionInfo> export_cmd_options();
std::vector<frontend::OptionInfo> train_options();
int cmd_train(const Args&, RunContext&);
std::vector<frontend::OptionInfo> pairs_options();
int cmd_pairs(const Args&, RunContext&);
std::vector<frontend::OptionInfo> eval_options();
int cmd_eval(const Args&, RunContext&);
std::vector<frontend::OptionInfo> runs_options();
int cmd_runs(const Args&, RunContext&);

}  // namespace den2moe::cli
