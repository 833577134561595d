// A sentencepiece BPE model (tokenizer.model) written as a Hugging Face tokenizers `tokenizer.json` that
// encodes exactly as sentencepiece does: sentencepiece's normalizer (Prepend "\u2581" when add_dummy_prefix,
// Replace " " -> "\u2581", no pre-tokenizer: tokenizers' Metaspace would skip the dummy prefix on text that
// opens with a space), the vocabulary by id, the merges transformers' converter derives (every split of a piece
// into two pieces, by the merged piece's id), byte fallback, control pieces as special tokens and a BOS
// template. Models it cannot represent exactly (unigram, NFKC rules, whitespace folding) are refused.
#pragma once

#include <string>

namespace den2moe {

struct SpmJsonResult {
    std::string json;  ///< the tokenizer.json text; empty when not representable
    std::string why_not;  ///< why not (empty when json is set)
};

/// `add_bos`: the post-processor puts BOS first (tokenizer_config's add_bos_token).
SpmJsonResult sentencepiece_to_tokenizer_json(const std::string& model_path, bool add_bos = true);

}  // namespace den2moe
