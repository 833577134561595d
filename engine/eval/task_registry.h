// The task registry: every evaluation task on the bundled data sets ($SHARED/data, MANIFEST.md §2) —
// its name, type, data files, main score, chance level and notes — in one table that the CLI's
// --list-tasks, validation, the cache and the app enumerate. Zero-shot multiple-choice tasks follow
// lm-evaluation-harness (names and prompts); embedding tasks follow MTEB 1.14 (types, main scores).
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe {

enum class TaskType { MultipleChoice, STS, Classification, Clustering, PairClassification, Reranking };

/// "MultipleChoice", "STS", "Classification", ... (MTEB's type names).
const char* task_type_name(TaskType t);
/// Lower-case group name: "zeroshot", "sts", "classification", "clustering", "pairclassification", "reranking".
const char* task_type_group(TaskType t);

struct TaskInfo {
    std::string name;         ///< "arc_easy", "STS13", "Banking77Classification", ...
    TaskType type = TaskType::MultipleChoice;
    std::string description;  ///< one line: what it is and where it comes from
    std::vector<std::string> files;  ///< data files / folders, relative to the shared bundle
    std::string split = "test";      ///< the evaluated split, as MTEB's result file names it
    std::string main_score;   ///< "acc", "cosine_spearman", "accuracy", "v_measure", "max_ap", "map"
    double chance = 0;        ///< chance level of the main score (NaN when it depends on the data)
    std::string note;         ///< honest deviations: missing files, home-made splits
    std::string instruction;  ///< the task's own (e5-style) instruction for --instruction gritlm-task
    int64_t samples_per_label = 8;  ///< Classification (MTEB's default 8)
    bool is_embedding() const { return type != TaskType::MultipleChoice; }
};

/// Every task, MTEB-style ones grouped by type, in the order `all` runs them.
const std::vector<TaskInfo>& task_registry();
/// nullptr when unknown (names are case-sensitive).
const TaskInfo* find_task(const std::string& name);
/// Comma-separated task names and groups (all, mteb, zeroshot, or a type group) → tasks in registry
/// order without repeats. Throws Error(InvalidInput) for an unknown name, listing the known ones.
std::vector<const TaskInfo*> resolve_tasks(const std::string& spec);
/// The bundle-relative files a task reads, made absolute under `shared_dir`.
std::vector<std::string> task_files(const TaskInfo& t, const std::string& shared_dir);
/// Throws Error(InvalidInput) naming the task and the path when one of its files is missing.
void check_task_files(const TaskInfo& t, const std::string& shared_dir);

}  // namespace den2moe
