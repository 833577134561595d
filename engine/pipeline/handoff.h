// The hand-off bundle (`den2moe export ... --handoff torchrun|deepspeed`): a handoff/ folder beside
// a Hugging Face export for a team that continues recovery training on a cluster with the Python
// tools: data_manifest.json (each training file's path, bytes, sha256), training_settings.json (one
// DIVE stage's TrainSettings, with the tensor-name globs translated to the export's names),
// ds_config.json (DeepSpeed ZeRO-2, deepspeed only), train_handoff.py (transformers; reads those
// files), launch_torchrun.sh or launch_deepspeed.sh, README.md. Written as a whole (AtomicDir).
// Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/export_settings.h"
#include "train/train_settings.h"

namespace den2moe {

class RunContext;
struct Project;

/// The stage's settings the bundle carries: s.handoff_stage's defaults (apply_stage_defaults with
/// the model's top-k), then the project's "training" section; validated (validate_train_settings).
TrainSettings handoff_train_settings(const Project& project, const ExportSettings& s, int64_t top_k);

/// Everything that can be checked before the export runs: a project is given, the stage's settings
/// are valid, every training domain exists and lists its files. Throws the house error.
void validate_handoff(const Project* project, const ExportSettings& s, int64_t top_k);

/// Our tensor-name globs / LoRA targets in the names of an export `format` (mixtral | qwen2moe):
/// mixtral: mlp.router -> block_sparse_moe.gate, mlp.experts -> block_sparse_moe.experts,
/// gate_proj/down_proj/up_proj -> w1/w2/w3; qwen2moe: mlp.router -> mlp.gate (the rest is the same).
std::string handoff_hf_name(const std::string& ours, const std::string& format);

/// "MixtralSparseMoeBlock" | "Qwen2MoeSparseMoeBlock" (transformers' MoE block of the architecture).
std::string handoff_moe_block_class(const std::string& format);

/// The generated training script (train_handoff.py), byte for byte.
const std::string& handoff_train_script();

struct HandoffResult {
    std::string dir;                 ///< export_dir/handoff
    std::vector<std::string> files;  ///< written, relative to dir
    int64_t data_files = 0, data_bytes = 0;
};

/// Write export_dir/handoff/ (replacing an earlier one as a whole). `export_dir` must hold the
/// export's config.json (architecture, torch_dtype, num_experts_per_tok). s.handoff must not be
/// "none". Progress stage "handoff" (one step per hashed file); cancellable.
HandoffResult write_handoff(const std::string& export_dir, const Project& project, const ExportSettings& s,
                            RunContext& ctx);

}  // namespace den2moe
