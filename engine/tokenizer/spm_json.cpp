// tokenizer.model (read by tokenizer/spm_model: no protobuf library) -> tokenizer.json.
#include "tokenizer/spm_json.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/json_text.h"
#include "tokenizer/spm_model.h"

namespace den2moe {
namespace {

/// Code point boundaries of a UTF-8 string (byte offsets strictly inside it).
std::vector<size_t> inner_boundaries(const std::string& s) {
    std::vector<size_t> out;
    for (size_t i = 1; i < s.size(); ++i)
        if ((uint8_t(s[i]) & 0xC0) != 0x80) out.push_back(i);
    return out;
}

}  // namespace

SpmJsonResult sentencepiece_to_tokenizer_json(const std::string& model_path, bool add_bos) {
    const SpmModelProto m = read_sentencepiece_model(model_path);
    const auto& pieces = m.pieces;
    const bool byte_fallback = m.byte_fallback, add_dummy_prefix = m.add_dummy_prefix;
    const int64_t unk_id = m.unk_id, bos_id = m.bos_id;
    SpmJsonResult r;
    r.why_not = spm_unsupported_reason(m);
    if (!r.why_not.empty()) return r;

    using ojson = nlohmann::ordered_json;
    std::unordered_map<std::string, int64_t> vocab_ids;
    ojson vocab = ojson::object();
    for (size_t i = 0; i < pieces.size(); ++i) {
        vocab_ids.emplace(pieces[i].text, int64_t(i));
        vocab[pieces[i].text] = int64_t(i);
    }
    // transformers' generate_merges(vocab): per piece in id order, every split into two vocabulary pieces,
    // shorter left part first (a stable order by (merged id, len(left), len(right)))
    ojson merges = ojson::array();
    for (const auto& pc : pieces) {
        for (size_t cut : inner_boundaries(pc.text)) {
            const std::string l = pc.text.substr(0, cut), rr = pc.text.substr(cut);
            if (vocab_ids.count(l) && vocab_ids.count(rr)) merges.push_back(ojson::array({l, rr}));
        }
    }
    ojson added = ojson::array();
    for (size_t i = 0; i < pieces.size(); ++i) {
        const int t = static_cast<int>(pieces[i].type);
        if (t != 2 && t != 3 && t != 4) continue;
        added.push_back({{"id", int64_t(i)}, {"content", pieces[i].text}, {"single_word", false}, {"lstrip", false},
                         {"rstrip", false}, {"normalized", false}, {"special", t != 4}});
    }
    const std::string ws = "\xE2\x96\x81";  // U+2581
    ojson normalizers = ojson::array();
    if (add_dummy_prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", ws}});
    normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", ws}});
    ojson decoders = ojson::array({{{"type", "Replace"}, {"pattern", {{"String", ws}}}, {"content", " "}},
                                   {{"type", "ByteFallback"}},
                                   {{"type", "Fuse"}}});
    if (add_dummy_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    ojson post = nullptr;
    if (add_bos && bos_id >= 0) {
        const std::string bos = pieces[size_t(bos_id)].text;
        post = {{"type", "TemplateProcessing"},
                {"single", ojson::array({{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
                                         {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                {"pair", ojson::array({{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}},
                                       {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                       {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
                                       {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
                {"special_tokens", {{bos, {{"id", bos}, {"ids", ojson::array({bos_id})}, {"tokens", ojson::array({bos})}}}}}};
    }
    ojson j;
    j["version"] = "1.0";
    j["truncation"] = nullptr;
    j["padding"] = nullptr;
    j["added_tokens"] = added;
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", normalizers}};
    j["pre_tokenizer"] = nullptr;
    j["post_processor"] = post;
    j["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
    j["model"] = {{"type", "BPE"},           {"dropout", nullptr},
                  {"unk_token", pieces[size_t(unk_id)].text}, {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr}, {"fuse_unk", true},
                  {"byte_fallback", byte_fallback}, {"ignore_merges", false},
                  {"vocab", vocab},          {"merges", merges}};
    r.json = dump_json(j, 1) + "\n";
    return r;
}

}  // namespace den2moe
