// The runs of a project: every model folder the project produced (a conversion, each training stage, an
// export) and the evaluation folders of those models, whichever front end made them. Steps that write a
// folder record it in the project's run index (<project cache>/runs.jsonl, one JSON line appended per
// event, so the CLI and the app can record at the same time; a torn last line is skipped); listing reads
// the index, the default conversion folders (<cache>/experts/*) and each folder's own provenance file, so
// the lineage (source, clusters, recipe, stages, settings) comes from the folder, never from the index.
// Torch-free, Qt-free: the CLI and the app's runs panel read these structs.
#pragma once

#include <nlohmann/json.hpp>

#include <limits>
#include <string>
#include <vector>

#include "project/project.h"

namespace den2moe {

/// One model folder of a project (kind conversion / training / export) or an evaluation folder.
struct ProjectRun {
    std::string path;     ///< absolute, normalised
    std::string kind;     ///< "conversion" | "training" | "export" | "evaluation"
    std::string label;    ///< the folder's name, or the name given by rename_run
    std::string created;  ///< provenance "created" / "exported_at", else the time it was recorded (UTC, ISO 8601)
    std::string client;   ///< "den2moe" | "den2moe-studio" ("" when unknown)
    /// The folder this one was made from: a training run's model, an export's source, an evaluation's
    /// model; "" for a conversion or an evaluation of the project's dense model (then `source_model`).
    std::string parent;
    std::string source_model;  ///< the dense model at the root of the lineage

    // lineage, from the provenance file (the conversion's part is carried along by training and export)
    std::string recipe;                ///< "dive", "random", ... ("" when unknown)
    int64_t n_experts = 0, top_k = 0;
    ProjectClusters clusters;          ///< the domains behind each expert (empty for splits)
    std::vector<std::string> stages;   ///< training stages in order ("router", "experts", ...)
    std::string format;                ///< export: "mixtral", "qwen2moe", ...
    nlohmann::json settings;           ///< conversion settings; training: "stages" → each stage's settings
    nlohmann::json provenance;         ///< the whole provenance document

    // results
    double ppl_before = std::numeric_limits<double>::quiet_NaN();  ///< held-out ppl before the last stage
    double ppl_after = std::numeric_limits<double>::quiet_NaN();   ///< ... and after it
    int64_t train_steps = 0, train_tokens = 0;                     ///< the last stage's
    std::vector<std::string> evaluations;  ///< model runs: evaluation folders (summary.json) of this model

    bool is_model() const { return kind != "evaluation"; }
    /// One line of lineage: "dive · 8 experts top-2 · 2 clusters (manual) → router → experts".
    std::string lineage() const;
};

/// <project cache>/runs.jsonl.
std::string run_index_path(const Project& p);

/// Appends "this step wrote `dir`" to the project's run index (kind as ProjectRun::kind, client as
/// RunContext::client). A project never saved has no index: nothing is recorded. Recording is a side
/// note of a finished step: an index that cannot be written is reported through the returned message
/// ("" = recorded), never by failing the step.
std::string record_run(const Project& p, const std::string& kind, const std::string& dir, const std::string& client);

/// Every run of the project whose folder still exists, oldest first (by `created`, then path): the
/// index's folders, the folders under <cache>/experts holding a provenance.json, and evaluation folders
/// attached to the model they evaluated (summary.json "model_path"). A folder recorded several times is
/// listed once; a damaged provenance file lists the run with what could be read (never throws for it).
std::vector<ProjectRun> list_project_runs(const Project& p);

/// Reads one folder as a run (kind from its files: provenance.json with "training" → training, else
/// conversion; den2moe_provenance.json → export; summary.json → evaluation). Throws Error(InvalidInput)
/// naming the folder when it holds none of them.
ProjectRun read_run_folder(const std::string& dir);

/// The path a run of the folder `dir` is listed under (absolute, normalised, links resolved where the
/// folder exists): ProjectRun::path of that run.
std::string run_path(const std::string& dir);
/// The run of `runs` whose folder is `dir` (any spelling of it), null when none.
const ProjectRun* find_run(const std::vector<ProjectRun>& runs, const std::string& dir);
/// The runs of `runs` made from the folder `dir` (their `parent`), in list order: what loses its source
/// when `dir` is deleted.
std::vector<const ProjectRun*> runs_made_from(const std::vector<ProjectRun>& runs, const std::string& dir);

/// Gives a run a display name (recorded in the index; the folder is not moved, so the lineage of the
/// runs made from it stays valid). An empty label restores the folder's name.
void rename_run(const Project& p, const std::string& dir, const std::string& label);

/// Deletes a run's folder (the caller has asked for confirmation) and records the deletion. Refuses
/// (Error InvalidInput) a folder that is not a run of this project or that holds no run files, so a
/// wrong path never removes anything else.
void delete_run(const Project& p, const std::string& dir);

}  // namespace den2moe
