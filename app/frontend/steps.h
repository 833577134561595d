// The pipeline steps as both front ends offer them: which options a step takes (generated from the
// engine's settings schemas, so no default or range is written here), and how a command line maps
// onto the project's settings structs. `den2moe mine/convert/export` and `den2moe-studio --run
// mining/conversion/export` call the same functions, so the same project and flags give the same job.
// Torch-free and Qt-free.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "args.h"
#include "core/settings.h"
#include "pipeline/mining.h"
#include "project/project.h"

namespace den2moe::frontend {

enum ExitCode { kOk = 0, kUserError = 1, kInternalError = 2, kCancelled = 130 };

/// One command-line option of a step.
struct OptionInfo {
    std::string flag;     ///< without dashes
    std::string metavar;  ///< "N", "X", "a|b", "FILE"; "" for a switch
    std::string help;     ///< one line, with the default
    bool is_switch = false;
};

/// The options of a settings schema (Bool fields are switches, also as --no-FLAG).
template <class S>
std::vector<OptionInfo> schema_options(const Schema<S>& schema);
std::vector<OptionInfo> field_options(const std::vector<FieldInfo>& fields);
/// Apply the options of `a` that name fields of `schema` onto `s`, each checked by the schema.
template <class S>
void apply_schema(const Schema<S>& schema, S& s, const Args& a) {
    for (const auto& f : schema.fields()) {
        if (f.type == FieldType::Bool) {
            if (a.has(f.flag)) schema.set_text(s, f.key, a.get(f.flag).empty() ? "true" : a.get(f.flag));
            if (a.has("no-" + f.flag)) schema.set_text(s, f.key, "false");
        } else if (a.has(f.flag)) {
            schema.set_text(s, f.key, a.get(f.flag));
        }
    }
}
template <class S>
std::vector<OptionInfo> schema_options(const Schema<S>& schema) {
    return field_options(schema.fields());
}

std::set<std::string> switches_of(const std::vector<OptionInfo>& options);
std::vector<std::string> flags_of(const std::vector<OptionInfo>& options);
/// "  --top-k N                  experts per token (default 1; 1 <= x <= 1024)" lines.
std::string options_help(const std::vector<OptionInfo>& options);
/// Concatenate option lists (later duplicates of a flag are dropped).
std::vector<OptionInfo> join_options(std::initializer_list<std::vector<OptionInfo>> lists);

/// The options every command of both front ends takes: --threads N, --quiet, --verbose, --help.
std::vector<OptionInfo> common_options();

/// Options that override the project itself: --dtype, --cache-dir.
std::vector<OptionInfo> project_options();
void apply_project_options(Project& p, const Args& a);

// ---- mining ----
/// The calibration, evaluation, pruning and clustering sections, the project options, --domains
/// a,b,c and --no-cache.
std::vector<OptionInfo> mining_options();
struct MiningJob {
    Project project;  ///< with the overrides applied
    MiningOptions options;
    std::vector<std::string> warnings;  ///< e.g. a cut at more clusters than domains (lowered to the count)
};
/// Apply the mining options of `a` to `project`; validate_mining() before returning.
MiningJob mining_job(Project project, const Args& a);

// ---- conversion ----
/// The conversion section (--recipe first switches to the recipe's own defaults), the project
/// options, --clusters FILE (a clusters.json; default: the project's saved clusters) and --out DIR.
std::vector<OptionInfo> conversion_options();
struct ConversionJob {
    Project project;
    ProjectClusters clusters;
    ConvertSettings settings;
    std::string out_dir;
};
/// Apply the conversion options of `a`; `--clusters` with an integer value is the mining cut's K (the
/// app's headless form shares the flag) and is ignored here. validate_conversion_job() before returning.
ConversionJob conversion_job(Project project, const Args& a);

// ---- export ----
/// The export section, --out DIR, --lint-only, --tokenizer PATH.
std::vector<OptionInfo> export_options();
ExportSettings export_settings(ExportSettings base, const Args& a);

}  // namespace den2moe::frontend
