// How the CLI writes token text (the engine's text policy, core/text.h): JSON fields are valid UTF-8
// with the model's own replacement rule, ids always, and the bytes in hex wherever a token or span
// is not valid UTF-8 on its own; tables show the display form (<0xNN> for a lone byte) in columns
// measured in terminal cells, right-to-left text isolated so a row keeps its columns.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/text.h"

namespace den2moe {
class Tokenizer;
}

namespace den2moe::cli {

/// [{"id", "piece" (vocabulary piece), "text" (the token's bytes, repaired), "hex" (only when the
/// bytes are not valid UTF-8)}] per token; `bytes` from token_bytes().
nlohmann::json tokens_json(const std::vector<int>& ids, const std::vector<std::string>& vocab,
                           const std::vector<std::string>& bytes, text::Repair how);
/// [{"tokens": [first, last), "text", "hex" (only when not valid UTF-8)}] per span.
nlohmann::json spans_json(const std::vector<text::TokenSpan>& spans);
/// The vocabulary pieces of `ids`.
std::vector<std::string> vocab_pieces(const Tokenizer& tok, const std::vector<int>& ids);

}  // namespace den2moe::cli
