// tokenizer.model (sentencepiece ModelProto, read with a minimal protobuf wire reader: no protobuf library)
// -> tokenizer.json. Fields used (sentencepiece_model.proto): ModelProto.pieces = 1 {piece 1, score 2, type 3},
// trainer_spec = 2 {model_type 3, unk_id 40, bos_id 41, eos_id 42, byte_fallback 35}, normalizer_spec = 3
// {name 1, add_dummy_prefix 3, remove_extra_whitespaces 4, escape_whitespaces 5}.
#include "tokenizer/spm_json.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/json_text.h"

namespace den2moe {
namespace {

struct Wire {
    const uint8_t* p;
    const uint8_t* end;
    bool ok = true;
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; p < end && shift < 64; shift += 7) {
            const uint8_t b = *p++;
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        ok = false;
        return 0;
    }
    /// Calls f(field, wire_type, value, bytes) for each field; bytes for wire type 2, value otherwise.
    template <class F>
    void each(F f) {
        while (ok && p < end) {
            const uint64_t key = varint();
            const int field = int(key >> 3), wt = int(key & 7);
            uint64_t v = 0;
            std::string bytes;
            if (wt == 0) {
                v = varint();
            } else if (wt == 1 || wt == 5) {
                const size_t n = wt == 1 ? 8 : 4;
                if (size_t(end - p) < n) { ok = false; return; }
                std::memcpy(&v, p, n);
                p += n;
            } else if (wt == 2) {
                const uint64_t n = varint();
                if (!ok || n > uint64_t(end - p)) { ok = false; return; }
                bytes.assign(reinterpret_cast<const char*>(p), n);
                p += n;
            } else {
                ok = false;
                return;
            }
            f(field, wt, v, bytes);
        }
    }
};

Wire wire_of(const std::string& s) {
    const auto* b = reinterpret_cast<const uint8_t*>(s.data());
    return Wire{b, b + s.size()};
}

struct Piece {
    std::string text;
    int type = 1;  // NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6
};

/// Code point boundaries of a UTF-8 string (byte offsets strictly inside it).
std::vector<size_t> inner_boundaries(const std::string& s) {
    std::vector<size_t> out;
    for (size_t i = 1; i < s.size(); ++i)
        if ((uint8_t(s[i]) & 0xC0) != 0x80) out.push_back(i);
    return out;
}

}  // namespace

SpmJsonResult sentencepiece_to_tokenizer_json(const std::string& model_path, bool add_bos) {
    std::ifstream in(model_path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot read the sentencepiece model ", model_path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();

    std::vector<Piece> pieces;
    int model_type = 1;  // UNIGRAM by default
    bool byte_fallback = false, add_dummy_prefix = true, remove_extra_ws = true, escape_ws = true;
    int64_t unk_id = 0, bos_id = 1;
    std::string norm_name;
    Wire w = wire_of(data);
    bool inner_ok = true;
    w.each([&](int field, int wt, uint64_t, const std::string& bytes) {
        if (wt != 2) return;
        Wire sub = wire_of(bytes);
        if (field == 1) {
            Piece pc;
            sub.each([&](int f, int, uint64_t v, const std::string& b) {
                if (f == 1) pc.text = b;
                if (f == 3) pc.type = int(v);
            });
            pieces.push_back(pc);
        } else if (field == 2) {
            sub.each([&](int f, int, uint64_t v, const std::string&) {
                if (f == 3) model_type = int(v);
                if (f == 35) byte_fallback = v != 0;
                if (f == 40) unk_id = int64_t(int32_t(v));
                if (f == 41) bos_id = int64_t(int32_t(v));
            });
        } else if (field == 3) {
            sub.each([&](int f, int, uint64_t v, const std::string& b) {
                if (f == 1) norm_name = b;
                if (f == 3) add_dummy_prefix = v != 0;
                if (f == 4) remove_extra_ws = v != 0;
                if (f == 5) escape_ws = v != 0;
            });
        }
        inner_ok &= sub.ok;
    });
    D2M_CHECK(w.ok && inner_ok && !pieces.empty(), InvalidInput, "not a sentencepiece model: ", model_path,
              " (the protobuf could not be read)");
    SpmJsonResult r;
    if (model_type != 2) r.why_not = "the sentencepiece model is not BPE (model_type " + std::to_string(model_type) + ")";
    else if (!norm_name.empty() && norm_name != "identity")
        r.why_not = "its normalizer rule \"" + norm_name + "\" has no exact tokenizers equivalent";
    else if (remove_extra_ws) r.why_not = "it folds whitespace (remove_extra_whitespaces)";
    else if (!escape_ws) r.why_not = "it does not escape whitespace";
    else if (unk_id < 0 || unk_id >= int64_t(pieces.size()) || bos_id >= int64_t(pieces.size()))
        r.why_not = "its unk / bos ids are out of the vocabulary";
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
        const int t = pieces[i].type;
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
