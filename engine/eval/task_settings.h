// Settings of task evaluation (zero-shot multiple choice and the MTEB-style embedding tasks): one
// plain struct with its defaults, described once by task_eval_schema() (project-file section
// "task_eval", CLI flags of `den2moe eval`, the app's widgets and --help), and validate_task_eval(),
// which checks every rule that involves several fields, the model or the data files before any work.
// Torch-free: the app includes it directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/settings.h"

namespace den2moe {

struct TaskEvalSettings {
    std::string tasks = "all";           ///< comma list of tasks / groups (eval/task_registry.h)
    /// auto (the model's recorded embedding, else hs) | hs | rw | moee-concat | moee-sum | den2moee
    std::string embedding = "auto";
    std::string pooling = "last";        ///< HS pooling: last token (MoEE) or mean over real tokens
    bool append_eos = false;             ///< embedding tasks: the tokenizer's EOS after every text (pooled there)
    std::string rw_values = "logits";    ///< router logits (Qwen/OLMoE in MoEE) or softmax probabilities (DeepSeek)
    std::string prompt = "none";         ///< MoEE template (MOEE-MTEB.md §A3): none, prompteol, style, ...
    std::string instruction = "none";    ///< none | gritlm (instruction_text) | gritlm-task (each task's own)
    std::string instruction_text;        ///< with instruction = gritlm ("" = the bare "<|embed|>\n" prefix)
    double alpha = 1.0;                  ///< MoEE (sum): cos_HS + α·cos_RW
    int64_t batch = 32;                  ///< texts / items per forward pass
    int64_t chunk = 128;                 ///< MTEB encode batch: RW/MoEE columns are z-scored per chunk
    int64_t max_length = 0;              ///< tokens per sequence; 0 = the model's max_position_embeddings
    int64_t k_shot = 0;                  ///< MMLU: examples from its dev split (first k, as lm-eval)
    int64_t seed = 42;                   ///< MTEB's seed (undersampling shuffle, MiniBatchKMeans, LogReg)
    int64_t limit = 0;                   ///< at most this many items per task (0 = all), evenly spread
    int64_t n_experiments = 10;          ///< Classification: undersampled training sets
    int64_t samples_per_label = 0;       ///< Classification: 0 = the task's own (registry)
    std::string dtype = "fp32";          ///< compute dtype of the forward pass
    bool bos = true;                     ///< multiple choice: BOS before the context
    bool cache = true;                   ///< serve unchanged (model, task, settings) from the result cache
    bool save_embeddings = false;        ///< write each task's embedding matrices (safetensors)
};

/// MoEE's prompt templates (MOEE-MTEB.md §A3 step 5), in paper order after "none".
inline const std::vector<std::string>& embed_template_names() {
    static const std::vector<std::string> names = {"none",       "prompteol",    "style",
                                                   "sentiment",  "tone",         "intent",
                                                   "complexity", "subjectivity", "language_style",
                                                   "grammar_structure"};
    return names;
}

inline const Schema<TaskEvalSettings>& task_eval_schema() {
    static const Schema<TaskEvalSettings> s =
        Schema<TaskEvalSettings>("task_eval")
            .text("tasks", &TaskEvalSettings::tasks,
                  "tasks or groups, comma-separated (all, mteb, zeroshot, sts, classification, ...; --list-tasks)")
            .choice("embedding", &TaskEvalSettings::embedding, {"auto", "hs", "rw", "moee-concat", "moee-sum", "den2moee"},
                    "embedding: auto (the one a trained embedding model records, with its pooling and prompt; "
                    "else hs), final hidden state, routing weights, MoEE concatenation, MoEE similarity sum, or "
                    "Den2MoEE's (HS + router logits mean-pooled over tokens and averaged per 4 layers, L2-normalised)")
            .choice("pooling", &TaskEvalSettings::pooling, {"last", "mean"},
                    "HS pooling over tokens (RW is always the last token)")
            .flag("append_eos", &TaskEvalSettings::append_eos,
                  "embedding tasks: append the tokenizer's EOS to every text, so the last token pooled is EOS "
                  "(Qwen3-Embedding; auto takes a trained model's record)")
            .choice("rw_values", &TaskEvalSettings::rw_values, {"logits", "probs"},
                    "routing weights as router logits or softmax probabilities over all experts")
            .choice("prompt", &TaskEvalSettings::prompt, embed_template_names(),
                    "MoEE prompt template around each text (none wraps it in quotes)")
            .choice("instruction", &TaskEvalSettings::instruction, {"none", "gritlm", "gritlm-task"},
                    "instruction prefix: none, GritLM format with --instruction-text, or each task's own")
            .text("instruction_text", &TaskEvalSettings::instruction_text,
                  "instruction for --instruction gritlm (empty: the bare <|embed|> prefix)")
            .real("alpha", &TaskEvalSettings::alpha, "MoEE (sum) weight of the RW similarity", 0.0, 1e6)
            .integer("batch", &TaskEvalSettings::batch, "texts or items per forward pass", 1, 4096)
            .integer("chunk", &TaskEvalSettings::chunk, "MTEB encode batch: RW/MoEE z-scoring chunk", 1, 1 << 20)
            .integer("max_length", &TaskEvalSettings::max_length,
                     "tokens per sequence, longer inputs keep their end (0 = the model's context)", 0, 1 << 20)
            .integer("k_shot", &TaskEvalSettings::k_shot, "MMLU examples from the dev split", 0, 5)
            .integer("seed", &TaskEvalSettings::seed, "seed of MTEB's random steps", 0, 4294967295.0)
            .integer("limit", &TaskEvalSettings::limit, "items per task, evenly spread (0 = all)", 0, 1e12)
            .integer("n_experiments", &TaskEvalSettings::n_experiments, "classification experiments", 1, 1000)
            .integer("samples_per_label", &TaskEvalSettings::samples_per_label,
                     "classification training texts per label (0 = the task's own)", 0, 1e6)
            .choice("dtype", &TaskEvalSettings::dtype, {"fp32", "bf16"}, "compute dtype")
            .flag("bos", &TaskEvalSettings::bos, "multiple choice: BOS token before each context")
            .flag("cache", &TaskEvalSettings::cache, "serve unchanged tasks from the result cache")
            .flag("save_embeddings", &TaskEvalSettings::save_embeddings,
                  "write the embedding matrices of each task (safetensors)");
    return s;
}

/// What validation needs to know about the model (filled by the caller from the loaded model).
struct EvalModelCaps {
    std::string path;          ///< for messages
    int n_layers = 0;
    int n_moe_layers = 0;      ///< layers with a router (0 = dense)
    int64_t rw_dim = 0;        ///< routing values per text (Σ router outputs over MoE layers)
    bool uniform_router_width = true;  ///< every MoE layer has the same router outputs (Den2MoEE pooling)
    bool has_routers() const { return n_moe_layers > 0; }
};

/// How a trained embedding model says it is read (moe_config.json "embedding", written by the trainer's
/// embedding / Den2MoEE stages): found = false for any other model.
struct RecordedEmbedding {
    bool found = false;
    std::string kind = "hs";      ///< embedding kind
    std::string pooling = "last";
    std::string prompt = "none";
    bool normalize = true;        ///< L2-normalised in training (cosine scores are unchanged by it)
    bool append_eos = false;      ///< texts end with the tokenizer's EOS (absent in older records: false)
    std::string file;             ///< where it was read
};
/// Reads `model_path`/moe_config.json's "embedding" record (a missing file or key: found = false).
/// Throws InvalidInput naming the file when the record names a kind, pooling or prompt this version
/// does not know.
RecordedEmbedding read_recorded_embedding(const std::string& model_path);
/// Resolves s.embedding = "auto": the record's kind, pooling, prompt and append_eos when `rec.found`, else "hs"
/// with the settings' pooling and prompt. Returns the sentence that says which ("" when s.embedding
/// was named explicitly, which is kept as it is).
std::string resolve_auto_embedding(TaskEvalSettings& s, const RecordedEmbedding& rec);

/// Throws Error(InvalidInput) naming the setting / task / file: ranges and choices (the schema), unknown
/// tasks (listing the known ones), missing data files (naming the task and the path), RW/MoEE/Den2MoEE
/// asked of a model without routers, Den2MoEE pooling of layers with different router widths or with
/// --rw-values probs (it averages raw logits), an instruction text without --instruction gritlm. `shared_dir` is the data
/// bundle ($D2M_SHARED_DIR). Pass caps with path "" to check everything but the model.
void validate_task_eval(const TaskEvalSettings& s, const EvalModelCaps& caps, const std::string& shared_dir);

}  // namespace den2moe
