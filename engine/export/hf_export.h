// Export of a converted MoE model to a standard Hugging Face folder that Transformers, vLLM and
// llama.cpp load without custom code (ECOSYSTEM.md §5.2–5.4, §7.4):
//   mixtral    MixtralForCausalLM: every layer MoE, one expert width, no shared expert, softmax →
//              top-k → renormalise; experts as block_sparse_moe.experts.E.w1/w2/w3 (gate/down/up)
//   qwen2moe   Qwen2MoeForCausalLM: routed experts of one width + one shared expert with a sigmoid
//              gate, norm_topk_prob as the model routes, dense layers as mlp_only_layers, and q/k/v
//              biases (a Qwen2 model's own; all-zero for a Llama trunk, which has none)
//   qwen3moe   Qwen3MoeForCausalLM: Qwen2-MoE's routing without the shared expert, an explicit head_dim
//              and per-head q/k RMSNorm: the export of a converted Qwen3 model
// lint_export() lists what the target cannot represent (errors), what is dropped or approximated
// (warnings) and what is rewritten exactly (info), each naming the layer / expert / tensor with a
// hint. export_hf() refuses on lint errors, then writes config.json, sharded safetensors (+ index),
// tokenizer files, generation_config.json and den2moe_provenance.json into a temporary sibling
// folder renamed into place at the end: a failure or a cancel leaves no half-written folder.
// The name mapping lives in io/tensor_names.h; model/hf_moe_io.h reads the result back.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/export_settings.h"

namespace den2moe {

class LlamaModel;
class RunContext;

enum class LintSeverity { Error, Warning, Info };
const char* lint_severity_name(LintSeverity s);  ///< "error" | "warning" | "info"

struct LintFinding {
    LintSeverity severity = LintSeverity::Info;
    std::string code;     ///< stable identifier, e.g. "unequal-expert-width" (docs/export.md lists them)
    std::string message;  ///< what, where (layer / expert / tensor), expected vs found
    std::string hint;     ///< what to do about it; may be empty
};

struct ExportLint {
    std::string format;                 ///< "mixtral" | "qwen2moe" | "qwen3moe"
    std::vector<LintFinding> findings;  ///< errors first, then warnings, then info
    bool has_errors() const;
    int64_t count(LintSeverity s) const;
    const LintFinding* find(const std::string& code) const;  ///< nullptr when absent
    nlohmann::json to_json() const;
    std::string to_text() const;  ///< human-readable report, one block per finding
};

/// The export step's settings (export_settings.h) plus what the job derives for one model.
struct ExportOptions : ExportSettings {
    /// Tokenizer files, provenance.json and generation_config.json are taken from here, then from the
    /// dense source model named in its provenance.json; "" = the model's own source folder.
    std::string source_dir;
    /// Token ids [B, T] run through the model to quantify dropped biases (‖Σ g·b‖ / ‖block output‖
    /// per layer); undefined = no measurement, the warning then reports ‖b‖ only.
    at::Tensor probe_ids;
};

/// Check `moe` against `format` ("mixtral" | "qwen2moe" | "qwen3moe"; anything else throws InvalidInput).
ExportLint lint_export(const LlamaModel& moe, const std::string& format, const ExportOptions& opt = {});

struct ExportResult {
    std::string out_dir;
    ExportLint lint;
    std::vector<std::string> files;  ///< written, relative to out_dir
    int64_t n_shards = 0;            ///< 1 = a single model.safetensors
    int64_t n_tensors = 0;
    int64_t bytes = 0;               ///< tensor data
    double seconds = 0;
};

/// Lint, then write the folder. Lint errors throw Error(Incompatible) listing them, before anything
/// is written. `out_dir` may already hold an earlier export (replaced as a whole) or be empty; any
/// other existing path is refused. Progress stage "export" (one step per shard); cancellable.
ExportResult export_hf(const LlamaModel& moe, const std::string& format, const std::string& out_dir,
                       const ExportOptions& opt, RunContext& ctx);
ExportResult export_hf(const LlamaModel& moe, const std::string& format, const std::string& out_dir,
                       const ExportOptions& opt = {});

/// A converted folder loaded for export and linted: what `den2moe export` and the app's export
/// dialog both start from.
struct PreparedExport {
    std::shared_ptr<LlamaModel> model;
    ExportOptions options;  ///< `dtype` resolved; probe_ids set (a few sentences of ordinary prose)
    ExportLint lint;
    std::string stored_dtype;  ///< what the folder stores ("BF16", "F32", ...; "" unknown)
};
/// Load `moe_dir` (a native folder or an earlier export) for `format`: dtype "keep" = the stored
/// dtype (a bf16 checkpoint is loaded as bf16, so the copy is bitwise), else fp32 | bf16 | fp16;
/// the dropped-bias probe runs on prose encoded with the folder's tokenizer (or
/// `tokenizer_override`). Throws Error for a bad folder or an unknown format / dtype.
PreparedExport prepare_export(const std::string& moe_dir, const std::string& format, ExportOptions opt,
                              const std::string& dtype = "keep", const std::string& tokenizer_override = {});

}  // namespace den2moe
