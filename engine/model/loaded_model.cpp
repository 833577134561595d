// load_model: ModelFiles -> LlamaModel + Tokenizer, checking that the tokenizer's vocabulary fits.
#include "model/loaded_model.h"

#include <ATen/ATen.h>

#include "core/error.h"
#include "io/model_files.h"
#include "model/hf_moe_io.h"
#include "model/moe_io.h"

namespace den2moe {

LoadedModel load_model(const std::string& path, ComputeDType dtype, const std::string& tokenizer_override) {
    if (is_moe_native(path)) {  // a converted model (den2moe native MoE format)
        LoadedModel out;
        out.format = "den2moe-moe";
        out.model = load_moe_native(path, dtype);
        const int64_t vocab = out.model->config().vocab_size;
        out.tokenizer_path = tokenizer_override.empty() ? find_tokenizer(path, vocab) : tokenizer_override;
        D2M_CHECK(!out.tokenizer_path.empty(), InvalidInput, "no tokenizer found in the MoE folder ", path,
                  Hint{"pass --tokenizer PATH (the source model's tokenizer.model)"});
        out.tokenizer = Tokenizer::load(out.tokenizer_path, (int)vocab);
        return out;
    }
    const std::string hf_moe = hf_moe_kind(path);
    if (!hf_moe.empty()) {  // a Hugging Face MoE checkpoint (Mixtral / Qwen2-MoE), e.g. from den2moe export
        HfMoeModel hm = load_hf_moe(path, dtype);
        LoadedModel out;
        out.format = "hf-" + hm.kind;
        out.model = hm.model;
        out.warnings = hm.warnings;
        out.stored_dtypes = hm.stored_dtypes;
        const int64_t vocab = out.model->config().vocab_size;
        out.tokenizer_path = tokenizer_override.empty() ? find_tokenizer(hm.dir, vocab) : tokenizer_override;
        D2M_CHECK(!out.tokenizer_path.empty(), InvalidInput, "no tokenizer found beside the model ", path,
                  " (looked for tokenizer.model, tokenizer.bin, tok", vocab, ".bin, tokenizer.json and vocab.json)",
                  Hint{"pass --tokenizer PATH, or copy the checkpoint's tokenizer.model into its folder"});
        out.tokenizer = Tokenizer::load(out.tokenizer_path, (int)vocab);
        D2M_CHECK(out.tokenizer->vocab_size() <= vocab, Incompatible, "tokenizer ", out.tokenizer_path, " has ",
                  out.tokenizer->vocab_size(), " pieces but the model's vocabulary is ", vocab,
                  Hint{"is the tokenizer from the same checkpoint?"});
        return out;
    }
    ModelFiles files = load_model_files(path);
    LoadedModel out;
    out.format = files.format;
    out.warnings = files.warnings;
    for (const auto& kv : files.tensors) out.stored_dtypes[kv.first] = c10::toString(kv.second.scalar_type());
    out.tokenizer_path = tokenizer_override.empty() ? files.tokenizer_path : tokenizer_override;
    D2M_CHECK(!out.tokenizer_path.empty(), InvalidInput, "no tokenizer found beside the model ", path,
              " (looked for tokenizer.model, tokenizer.bin, tok", files.config.vocab_size, ".bin, tokenizer.json and vocab.json)",
              Hint{"pass --tokenizer PATH, or copy the checkpoint's tokenizer.model into its folder"});
    out.tokenizer = Tokenizer::load(out.tokenizer_path, (int)files.config.vocab_size);
    D2M_CHECK(out.tokenizer->vocab_size() <= files.config.vocab_size, Incompatible, "tokenizer ",
              out.tokenizer_path, " has ", out.tokenizer->vocab_size(), " pieces but the model's vocabulary is ",
              files.config.vocab_size, Hint{"is the tokenizer from the same checkpoint?"});
    out.model = LlamaModel::from_files(files, dtype);
    return out;
}

}  // namespace den2moe
