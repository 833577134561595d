// Results of task evaluation as plain structs (the app's MTEB tables read these) and their files:
//   OUT/mteb/<model name>/<revision>/<Task>.json   MTEB 1.14 layout: dataset_revision, evaluation_time,
//        kg_co2_emissions, mteb_version, scores → split → [subset entry with main_score, hf_subset,
//        languages], task_name; indent 2, sorted keys, no rounding (MOEE-MTEB.md §B11)
//   OUT/mteb/<model name>/<revision>/model_meta.json
//   OUT/zeroshot/<task>.json                       lm-evaluation-harness 0.4 layout ("acc,none", ...)
//   OUT/summary.json, OUT/summary.csv              every task's main score, chance, time, Mean(Task),
//                                                  Mean(TaskType), the zero-shot mean
// Every file is written to a temporary name and renamed. The result cache keeps one JSON per key.
// Torch-free.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace den2moe {

/// The MTEB version whose evaluators and file layout these results follow.
constexpr const char* kMtebVersion = "1.14.15";

struct TaskScores {
    std::string task;
    std::string type;             ///< task_type_name(): "MultipleChoice", "STS", ...
    std::string main_score_name;  ///< "acc", "cosine_spearman", ...
    double main_score = std::numeric_limits<double>::quiet_NaN();
    double chance = std::numeric_limits<double>::quiet_NaN();
    int64_t n_items = 0;
    double seconds = 0;           ///< evaluation time (of the original run when served from the cache)
    bool cached = false;          ///< served from the result cache in this run
    std::string combination;      ///< MoEE (sum): what was combined
    std::vector<std::string> notes;
    std::string dataset_revision; ///< hash of the task's data files
    nlohmann::json metrics;       ///< MTEB: the subset entry's metric keys; zero-shot: acc, acc_stderr, ...

    bool is_mteb() const { return type != "MultipleChoice"; }
    nlohmann::json to_json() const;
    static TaskScores from_json(const nlohmann::json& j);
};

struct EvalSummary {
    std::string model;           ///< MTEB model name ("den2moe/<folder>-<embedding>-<prompt>")
    std::string model_path;
    std::string model_revision;  ///< hash of the model files
    nlohmann::json settings;     ///< task_eval settings of the run
    std::vector<TaskScores> tasks;
    double mean_task = std::numeric_limits<double>::quiet_NaN();       ///< Mean(Task) over embedding tasks
    std::map<std::string, double> mean_by_type;                        ///< per embedding task type
    double mean_task_type = std::numeric_limits<double>::quiet_NaN();  ///< Mean(TaskType): MoEE's "Avg."
    double mean_zeroshot = std::numeric_limits<double>::quiet_NaN();   ///< mean acc of the multiple-choice tasks

    /// Fill the means from `tasks` (NaN main scores are left out).
    void recompute();
    nlohmann::json to_json() const;
    static EvalSummary from_json(const nlohmann::json& j);
};

/// The <Task>.json body of an MTEB-style task.
nlohmann::json mteb_task_json(const TaskScores& t);
/// The lm-eval-style body of a multiple-choice task.
nlohmann::json zeroshot_task_json(const TaskScores& t);
/// "den2moe__demo-llama-7m-hs-none" → the folder MTEB uses for a model name ('/' → "__", ' ' → '_').
std::string mteb_model_folder(const std::string& model_name);

/// Writes the task's file under `out_dir` (mteb/<model>/<rev>/ or zeroshot/); returns its path.
std::string write_task_result(const std::string& out_dir, const EvalSummary& run, const TaskScores& t);
/// Writes mteb/<model>/<rev>/model_meta.json; returns its path.
std::string write_model_meta(const std::string& out_dir, const EvalSummary& run, const nlohmann::json& meta);
/// Writes summary.json and summary.csv.
void write_summary(const std::string& out_dir, const EvalSummary& s);
std::string summary_csv(const EvalSummary& s);
/// Reads OUT/summary.json (or the file itself). Throws Error naming the file.
EvalSummary read_summary(const std::string& path);

/// The type of a task the registry does not know (an imported mteb result): shown, in no mean.
constexpr const char* kOtherTaskType = "Other";

/// Imports result files of the Python `mteb` package (1.11+ / 2.x, MOEE-MTEB.md §B11:
/// <root>/<model>/<revision>/<Task>.json) found at any depth under `dir` (JSON objects with "task_name"
/// and "scores"; model_meta.json is skipped): one run per folder holding them, in path order, labelled
/// (pair.first, also the summary's model) from the model folder ("__" → "/"), with "@<revision>" when
/// one model has several revisions there. A task's score is the main_score of split "test" (else the
/// first split), subset "default" (else "en", else "en-en", else the mean of its subsets). Type, main
/// score name and chance come from the task registry; an unknown task is typed kOtherTaskType (no
/// mean counts it). Means are recomputed. Throws Error (InvalidInput) naming a file that is not valid
/// JSON, or the folder when it holds no result file.
std::vector<std::pair<std::string, EvalSummary>> import_mteb_results(const std::string& dir);
/// read_summary of `path` (a folder with summary.json, or the file), else import_mteb_results of the
/// folder; each run labelled `label` when given and the folder holds one run, else by its model name
/// (`den2moe eval --table`, the app's Results tab).
std::vector<std::pair<std::string, EvalSummary>> read_result_runs(const std::string& path, const std::string& label = {});

/// Several runs side by side (the app's MTEB table, docs/evaluation-demo.md): one column per run, one
/// row per task (first-seen order), then per-type means, Mean(Task), Mean(TaskType) and the zero-shot
/// mean. A run without a task has NaN there.
struct ResultTable {
    struct Row {
        std::string task, type, main_score_name;  ///< task "" for the mean rows (their name in `type`)
        double chance = std::numeric_limits<double>::quiet_NaN();
        std::vector<double> values;               ///< one per column
    };
    std::vector<std::string> columns;
    std::vector<Row> rows;
};
ResultTable result_table(const std::vector<std::pair<std::string, EvalSummary>>& runs);
/// Markdown, scores × `scale` with two decimals ("-" for NaN); the chance column when `with_chance`.
std::string result_table_markdown(const ResultTable& t, double scale = 100.0, bool with_chance = true);

/// One JSON file per key under `dir`: a task's scores for one model, task and settings.
class ResultCache {
public:
    explicit ResultCache(std::string dir) : dir_(std::move(dir)) {}
    const std::string& dir() const { return dir_; }
    std::string path_for(const std::string& key) const;
    /// nullopt on a miss; a damaged entry counts as a miss.
    std::optional<TaskScores> load(const std::string& key) const;
    void store(const std::string& key, const TaskScores& t) const;

private:
    std::string dir_;
};

/// $D2M_CACHE_DIR/eval, else $XDG_CACHE_HOME/den2moe/eval, else ~/.cache/den2moe/eval.
std::string default_eval_cache_dir();

}  // namespace den2moe
