// llama2.c legacy ("v0") checkpoint loader: 7 int32 header + float32 tensors, layer-major.
// Negative vocab_size = unshared classifier stored at the end. Tensors are returned under the
// Hugging Face names of io/tensor_names.h, WITHOUT permuting q/k: the config says
// RopeStyle::Interleaved so the model rotates adjacent pairs exactly as run.c does.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "io/hf_config.h"

namespace den2moe {

struct Llama2cCheckpoint {
    LlamaConfig config;                         ///< rope_style = Interleaved, tie = shared classifier
    int64_t seq_len = 0;                        ///< from the header
    std::map<std::string, at::Tensor> tensors;  ///< HF names, float32
};

/// Errors name the file and say expected vs found size (with the formula's parts).
Llama2cCheckpoint load_llama2c(const std::string& path);

}  // namespace den2moe
