// tokens_json / spans_json: the JSON form of tokens and spans shared by `route` and `generate`.
#include "text_out.h"

#include "tokenizer/tokenizer.h"

namespace den2moe::cli {

nlohmann::json tokens_json(const std::vector<int>& ids, const std::vector<std::string>& vocab,
                           const std::vector<std::string>& bytes, text::Repair how) {
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < ids.size(); ++i) {
        nlohmann::json t = {{"id", ids[i]},
                            {"piece", i < vocab.size() ? text::repair(vocab[i], how) : std::string()},
                            {"text", i < bytes.size() ? text::repair(bytes[i], how) : std::string()}};
        if (i < bytes.size() && !text::is_valid_utf8(bytes[i])) t["hex"] = text::hex(bytes[i]);
        out.push_back(std::move(t));
    }
    return out;
}

nlohmann::json spans_json(const std::vector<text::TokenSpan>& spans) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : spans) {
        nlohmann::json j = {{"tokens", {s.first, s.last}}, {"text", s.text}};
        if (!s.valid) j["hex"] = text::hex(s.bytes);
        out.push_back(std::move(j));
    }
    return out;
}

std::vector<std::string> vocab_pieces(const Tokenizer& tok, const std::vector<int>& ids) {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int id : ids) out.push_back(tok.piece(id));
    return out;
}

}  // namespace den2moe::cli
