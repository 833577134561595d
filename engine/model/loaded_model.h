// One call that the CLI and the GUI both use to open a checkpoint: weights + config + tokenizer,
// with a precise error when the tokenizer is missing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/llama.h"
#include "tokenizer/tokenizer.h"

namespace den2moe {

struct LoadedModel {
    std::shared_ptr<LlamaModel> model;
    std::shared_ptr<Tokenizer> tokenizer;
    std::string format;                 ///< "hf" or "llama2c"
    std::string tokenizer_path;
    std::vector<std::string> warnings;
    std::map<std::string, std::string> stored_dtypes;  ///< tensor -> dtype in the checkpoint
};

/// `tokenizer_override` "" = look beside the model (io/model_files.h find_tokenizer).
LoadedModel load_model(const std::string& path, ComputeDType dtype, const std::string& tokenizer_override = {});

}  // namespace den2moe
