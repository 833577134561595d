// The Hugging Face export step's settings (project-file section "export"), defined once: the CLI's
// `den2moe export`, the app's export dialog and its headless form all read export_schema().
// Torch-free and Qt-free.
#pragma once

#include <cstdint>
#include <string>

#include "core/settings.h"

namespace den2moe {

struct ExportSettings {
    std::string format = "mixtral";  ///< mixtral | qwen2moe | qwen3moe
    std::string dtype = "keep";      ///< keep (the stored dtype) | fp32 | bf16 | fp16
    bool pad_experts = false;        ///< zero-pad unequal experts (and shared / dense FFNs) to the widest: exact
    bool strict = false;             ///< warnings become errors
    bool refuse_biases = false;      ///< FLAP down_proj biases are an error instead of a dropped warning
    int64_t shard_size = 2000000000; ///< bytes per safetensors shard; one model.safetensors when all fits
    int64_t tensor_parallel = 1;     ///< largest vLLM tensor-parallel size planned (width % 128·TP check)
    /// Qwen2-MoE always runs a shared expert: a model without one gets an all-zero shared expert of
    /// this width (adds exactly zero; den2moe drops it again on import).
    int64_t zero_shared_width = 256;
    // the hand-off bundle (engine/pipeline/handoff.h): handoff/ beside the export, for a team that
    // continues training with the Python tools (transformers + torchrun or DeepSpeed ZeRO-2)
    std::string handoff = "none";          ///< none | torchrun | deepspeed: which launcher the bundle targets
    std::string handoff_stage = "experts"; ///< the DIVE stage the generated script trains (router | experts | extra)
    int64_t handoff_nproc = 8;             ///< processes (GPUs) per node in the generated launch script
};

inline const Schema<ExportSettings>& export_schema() {
    static const Schema<ExportSettings> s =
        Schema<ExportSettings>("export")
            .choice("format", &ExportSettings::format, {"mixtral", "qwen2moe", "qwen3moe"}, "target architecture")
            .choice("dtype", &ExportSettings::dtype, {"keep", "fp32", "bf16", "fp16"}, "dtype of the written tensors")
            .flag("pad_experts", &ExportSettings::pad_experts, "zero-pad unequal experts to the widest (exact)")
            .flag("strict", &ExportSettings::strict, "lint warnings become errors")
            .flag("refuse_biases", &ExportSettings::refuse_biases, "FLAP expert biases are an error, not dropped")
            .integer("shard_size", &ExportSettings::shard_size, "bytes per safetensors shard", 1)
            .integer("tensor_parallel", &ExportSettings::tensor_parallel,
                     "largest vLLM tensor-parallel size to check widths for", 1, 4096, "tp")
            .integer("zero_shared_width", &ExportSettings::zero_shared_width,
                     "width of the all-zero shared expert a Qwen2-MoE export needs", 1)
            .choice("handoff", &ExportSettings::handoff, {"none", "torchrun", "deepspeed"},
                    "also write handoff/: data manifest, training settings, DeepSpeed ZeRO-2 config, a "
                    "transformers training script and its launch script (needs --project)")
            .choice("handoff_stage", &ExportSettings::handoff_stage, {"router", "experts", "extra"},
                    "the DIVE stage the hand-off script trains (its defaults, then the project's training section)")
            .integer("handoff_nproc", &ExportSettings::handoff_nproc, "GPUs per node in the hand-off launch script",
                     1, 1024);
    return s;
}

}  // namespace den2moe
