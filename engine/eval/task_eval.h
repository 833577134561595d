// Task evaluation of one loaded model: the zero-shot multiple-choice tasks and the MTEB-style embedding
// tasks of the registry, with the settings of eval/task_settings.h. Per task: validated before any work,
// served from the result cache when the model (hash of its files), the task's data and the settings
// that change its numbers are unchanged, else computed; its result file, the summary and (optionally)
// its embedding matrices are written atomically as soon as it is done, so a cancel leaves the finished
// tasks' files and no half-written one. Torch-free header (the app runs it through its job runner).
#pragma once

#include <string>
#include <vector>

#include "eval/results.h"
#include "eval/task_settings.h"

namespace den2moe {

class LlamaModel;
class RunContext;
struct LoadedModel;
struct TaskInfo;

struct TaskEvalOutput {
    std::string out_dir;     ///< "" = write no files
    std::string cache_dir;   ///< "" = no cache (settings.cache = false also disables it)
    std::string shared_dir;  ///< the data bundle
};

struct TaskEvalRun {
    EvalSummary summary;
    TaskEvalSettings settings;       ///< as run: --embedding auto resolved
    std::string embedding_note;      ///< which embedding auto chose and why ("" when named explicitly)
    std::vector<std::string> files;  ///< written
    int64_t cache_hits = 0;
};

/// What validation needs to know about a model (MoE layers, RW width).
EvalModelCaps eval_model_caps(const LlamaModel& model, const std::string& path);

/// Runs every task of `s.tasks`; progress per task ("tasks", i, n) and per batch inside a task.
/// s.embedding "auto" takes the model's recorded embedding (read_recorded_embedding), else hs; the
/// choice is in the summary's settings ("embedding_source"), model_meta.json and run.embedding_note.
/// Throws Error (validation) before any work, Cancelled between batches.
TaskEvalRun run_task_eval(const LoadedModel& lm, const std::string& model_path, const TaskEvalSettings& s,
                          const TaskEvalOutput& out, RunContext& ctx);

/// The prompt an embedding task `task` encodes for `text` under `s`: moee_prompt(text, s.prompt, the
/// task's instruction prefix). Its token ids are embedding_token_ids(tok, prompt, s.append_eos, max
/// length) (eval/embeddings.h), as TextEncoder and embedding training (train/trainer.cpp) compute them.
std::string eval_text_prompt(const TaskEvalSettings& s, const std::string& task, const std::string& text);

/// --show-prompt: each selected task's prompt format and its first item rendered with `s` (MoEE
/// pipeline for embedding tasks, lm-eval format for multiple choice). With `model_path` (a model
/// folder), --embedding auto is resolved from its record first (its prompt and EOS shown), and each
/// embedding task's first item is tokenised by the model's tokenizer: the exact ids run, the pooled
/// one marked.
std::string describe_prompts(const TaskEvalSettings& s, const std::string& shared_dir,
                             const std::string& model_path = "");
/// --list-tasks: one line per task (name, type, main score, chance, items, note).
std::string describe_tasks();

/// The settings that change `t`'s numbers (cache key and provenance of a task).
nlohmann::json task_relevant_settings(const TaskEvalSettings& s, const TaskInfo& t);
/// The instruction prefix `s` puts before `t`'s texts ("" for none).
std::string instruction_prefix(const TaskEvalSettings& s, const TaskInfo& t);

}  // namespace den2moe
