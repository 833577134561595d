// Locate and load a dense checkpoint: a Hugging Face folder (config.json + model.safetensors or a
// sharded index) or a llama2.c .bin. Tensors are validated against the config (every expected
// tensor present, shapes equal) with errors naming the tensor, expected vs found, and the file.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "io/hf_config.h"

namespace den2moe {

struct ModelFiles {
    std::string source;                         ///< the path the user gave
    std::string format;                         ///< "hf" or "llama2c"
    LlamaConfig config;
    std::map<std::string, at::Tensor> tensors;  ///< HF names, stored dtype (F32/F16/BF16), CPU
    std::string tokenizer_path;                 ///< found beside the model, or "" if none
    std::vector<std::string> warnings;          ///< e.g. unused tensors in the checkpoint
};

/// `path`: HF folder, config.json inside one, or a llama2.c .bin. Tokenizer lookup: tokenizer.model,
/// then tokenizer.bin, then tok<V>.bin in the same folder.
ModelFiles load_model_files(const std::string& path);

/// Check `tensors` against what `cfg` implies (names of io/tensor_names.h). Throws Error(Incompatible)
/// naming the first missing tensor or the first shape mismatch ("Tensor X has shape [a, b];
/// config.json implies [c, d]. Is config.json from the same checkpoint?"). Unknown extra tensors
/// become warnings.
std::vector<std::string> check_llama_tensors(const LlamaConfig& cfg,
                                             const std::map<std::string, at::Tensor>& tensors,
                                             const std::string& source);

/// Find the tokenizer beside a model path ("" if none): tokenizer.model, tokenizer.bin, tok<V>.bin,
/// then tokenizer.json or vocab.json (byte-level BPE; Tokenizer::load reads the files beside them).
std::string find_tokenizer(const std::string& model_path, int64_t vocab_size);

}  // namespace den2moe
