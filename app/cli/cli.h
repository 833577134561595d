// Shared pieces of the den2moe CLI: argument parsing, progress printing, exit codes.
// Commands are thin: parse arguments, call one engine function, print/write its result.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/settings.h"

namespace den2moe {
class RunContext;
}

namespace den2moe::cli {

enum ExitCode { kOk = 0, kUserError = 1, kInternalError = 2, kCancelled = 130 };

/// --name value / --name=value / --flag, plus positionals. Unknown options are errors.
class Args {
public:
    Args(int argc, char** argv, int first);
    const std::vector<std::string>& positionals() const { return pos_; }
    bool has(const std::string& name) const;
    std::string get(const std::string& name, const std::string& def = {}) const;
    std::vector<std::string> get_all(const std::string& name) const;
    long long get_int(const std::string& name, long long def) const;
    double get_double(const std::string& name, double def) const;
    /// Throw if an option outside `known` was given (names without dashes).
    void allow(const std::vector<std::string>& known) const;
    bool help() const { return has("help"); }

private:
    std::vector<std::string> pos_;
    std::multimap<std::string, std::string> opts_;
};

/// Apply the options of `a` that name a field of `schema` (its flag; a Bool field as a switch:
/// `--flag` = true, `--no-flag` = false, or `--flag=false`) onto `s`, each checked by the schema.
/// The settings' defaults live in the struct (and the project file), never here.
template <class S>
void apply_settings(const Schema<S>& schema, S& s, const Args& a) {
    for (const auto& f : schema.fields()) {
        if (f.type == FieldType::Bool) {
            if (a.has(f.flag)) schema.set_text(s, f.key, a.get(f.flag));
            if (a.has("no-" + f.flag)) schema.set_text(s, f.key, "false");
        } else if (a.has(f.flag)) {
            schema.set_text(s, f.key, a.get(f.flag));
        }
    }
}
/// The option names `apply_settings` reads from `schema` (for Args::allow).
template <class S>
std::vector<std::string> settings_flags(const Schema<S>& schema) {
    std::vector<std::string> out;
    for (const auto& f : schema.fields()) {
        out.push_back(f.flag);
        if (f.type == FieldType::Bool) out.push_back("no-" + f.flag);
    }
    return out;
}
/// --help lines for a schema: "  --top-k N   experts per token (default 1; 1 <= x <= 64)".
std::string settings_help(const std::vector<FieldInfo>& fields);

/// Progress on stderr (one updating line with stage, step/total, ETA) unless --quiet.
void attach_progress(RunContext& ctx, bool quiet);
/// Threads for torch: --threads N, else $D2M_THREADS, else the machine's cores.
void setup_threads(const Args& a);
/// A loaded model's warnings on stderr, one "warning: ..." line each.
void print_warnings(const std::vector<std::string>& warnings);

struct Command {
    const char* name;
    const char* summary;
    const char* usage;  ///< full --help text
    int (*run)(const Args&, RunContext&);
};
const std::vector<Command>& commands();

// command implementations (cmd_*.cpp)
int cmd_info(const Args&, RunContext&);
int cmd_generate(const Args&, RunContext&);
int cmd_ppl(const Args&, RunContext&);
int cmd_mine(const Args&, RunContext&);
int cmd_cluster(const Args&, RunContext&);
int cmd_convert(const Args&, RunContext&);
int cmd_route(const Args&, RunContext&);
int cmd_export(const Args&, RunContext&);
int cmd_eval(const Args&, RunContext&);
const char* eval_usage();  ///< --help of `eval` (its settings from the schema)

}  // namespace den2moe::cli
