// A Den2MoE project: the model, the calibration/evaluation domains and every setting of the
// pipeline (each step's settings struct, one section per step: calibration, evaluation, pruning,
// clustering, conversion, export, training, task_eval), stored as JSON (`*.den2moe.json`) with a `format_version` and
// migrations from older versions. Plain std types only (no torch, no Qt): the GUI includes this header directly.
//
// Paths inside the file are relative to the project file's folder, or start with `$SHARED`, which
// resolves to $D2M_SHARED_DIR, else to `../shared` beside the checkout (found by walking up from
// the project file and from the executable).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "convert/convert_settings.h"
#include "data/corpus.h"
#include "eval/task_settings.h"
#include "export/export_settings.h"
#include "project/settings.h"
#include "train/train_settings.h"

namespace den2moe {

/// One calibration/evaluation domain.
struct ProjectDomain {
    std::string name;
    /// A domain folder holding <split>.jsonl(.gz)/.txt(.gz)/.csv files ("" when files are listed).
    std::string dir;
    std::vector<std::string> calib_files;  ///< explicit calibration files (override dir)
    std::vector<std::string> eval_files;   ///< explicit evaluation files (override dir)
    std::string format;         ///< "jsonl" | "txt" | "csv" | "" (from the extension)
    std::string text_template;  ///< "{question}\n{answer}"; "" = the "text" field / whole line
    std::string calib_split = "train";
    std::string eval_split = "test";
    bool enabled = true;
};

/// A cluster assignment: for each cluster the names of its domains. `manual` marks an assignment
/// the user edited by hand (kept instead of re-deriving it from the dendrogram cut).
struct ProjectClusters {
    std::vector<std::string> names;               ///< per cluster display name ("C1", ...)
    std::vector<std::vector<std::string>> members;///< per cluster: domain names
    bool manual = false;
    bool empty() const { return members.empty(); }
};

/// Every step's settings live in the project (one section each), so the CLI and the app read the same
/// values; CLI flags and GUI widgets override fields of these structs, and the app saves what the user
/// changed.
struct Project {
    static constexpr int kFormatVersion = 3;

    std::string name = "untitled";
    std::string file;       ///< absolute path of the project file ("" = never saved)
    std::string model;      ///< as written in the file (relative / $SHARED / absolute)
    std::string tokenizer;  ///< optional override
    std::string dtype = "bf16";  ///< compute dtype of calibration/evaluation: "bf16" | "fp32"
    std::vector<ProjectDomain> domains;
    CalibSettings calib;
    EvalSettings eval;
    PruneSettings prune;
    ClusterSettings cluster;
    ConvertSettings convert;
    ExportSettings hf_export;
    TaskEvalSettings task_eval;  ///< zero-shot and MTEB-style task evaluation (`den2moe eval --project`)
    /// The "training" section as written: the user's explicit choices, applied over each stage's own
    /// defaults (apply_stage_defaults, which depend on the stage and the model's top-k) and under the
    /// flags. Checked against train_schema() when the project is read.
    nlohmann::json training = nlohmann::json::object();
    ProjectClusters clusters;
    std::string cache_dir;  ///< "" = <project dir>/.den2moe-cache
    std::string notes;

    /// Names of the enabled domains, in project order.
    std::vector<std::string> domain_names() const;
    /// Index of a domain by name, -1 if absent.
    int64_t find_domain(const std::string& name) const;
};

/// Read a project (any supported format_version; older ones are migrated in memory).
/// Throws Error(InvalidInput/Io) naming the file, the key and what was expected.
Project load_project(const std::string& path);
Project parse_project(const std::string& json_text, const std::string& file_for_paths);
/// Write atomically (temp file + rename) with the current format_version; sets p.file.
void save_project(Project& p, const std::string& path);
std::string project_to_json(const Project& p);

/// Check what can be checked without running anything: model path exists, every domain has
/// calibration and evaluation files, names unique, settings in range. One message per problem
/// (empty = valid), each naming the object.
std::vector<std::string> validate_project(const Project& p);

/// Resolve a path as written in the project: `$SHARED/...`, absolute, or relative to the project's
/// folder (or the working directory when the project was never saved).
std::string resolve_project_path(const Project& p, const std::string& path);
/// The shared data folder: $D2M_SHARED_DIR, else the first existing `shared` folder beside an
/// ancestor of `near` (a file or folder), of the working directory or of the executable; "" if none.
std::string find_shared_dir(const std::string& near = {});
/// Absolute cache folder of the project.
std::string project_cache_dir(const Project& p);

/// The calibration and evaluation file lists of a domain, resolved to absolute paths.
/// Throws Error(InvalidInput) naming the domain when a split has no file.
std::vector<std::string> domain_calib_files(const Project& p, const ProjectDomain& d);
std::vector<std::string> domain_eval_files(const Project& p, const ProjectDomain& d);
/// The one way a domain's text is read (mining, conversion, expert load, training): its calibration
/// or evaluation files with the domain's format and text template.
CorpusSpec domain_calib_corpus(const Project& p, const ProjectDomain& d);
CorpusSpec domain_eval_corpus(const Project& p, const ProjectDomain& d);

/// A project over a domain root (a folder with domains.json or domain sub-folders).
Project make_project(const std::string& model, const std::string& domains_root);

}  // namespace den2moe
