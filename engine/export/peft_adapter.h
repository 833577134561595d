// A training run's LoRA as a PEFT adapter folder (issue 22): what `den2moe train` learned, unmerged,
// for the Hugging Face export (export/hf_export.h) of the run's *source* model, so that PEFT's
// `PeftModel.from_pretrained(base_export, adapter)` runs our unmerged model and its merge_and_unload()
// equals our merged export. Written atomically (temporary sibling folder, renamed):
//   adapter_config.json        peft_type LORA, r, lora_alpha, lora_dropout, target_modules (full HF module names)
//   adapter_model.safetensors  base_model.model.<module>.lora_A.weight [r, in] / .lora_B.weight [out, r], fp32
// The tensors are the fp32 masters of `<trained>/checkpoint.safetensors`. Refused before anything is
// written: no LoRA in the run, tensors trained besides the LoRA (routers, norms: not part of a LoRA
// adapter; train with --trainable ''), or LoRA on modules the export fuses (routed experts: 3-D parameters
// in transformers >= 5, not PEFT Linear modules).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe {

class LlamaModel;
class RunContext;

struct PeftAdapterResult {
    std::string out_dir;
    std::vector<std::string> target_modules;  ///< HF module names, sorted
    int64_t rank = 0;
    double alpha = 0;
    int64_t train_step = 0;  ///< the checkpoint's optimizer step
};

/// `trained` is the model loaded from `trained_dir` (its config decides the q/k row order: an
/// interleaved-RoPE model's export permutes q/k rows, and lora_B's rows are permuted the same way);
/// `format` the export's ("mixtral" | "qwen2moe"). `out_dir` may hold an earlier adapter folder
/// (replaced) or not exist; any other existing path is refused.
PeftAdapterResult write_peft_adapter(const LlamaModel& trained, const std::string& trained_dir,
                                     const std::string& format, const std::string& out_dir, RunContext& ctx);

}  // namespace den2moe
