// sentencepiece_to_tokenizer_json: the tokenizer.json the exporter writes. Vocabulary and merges equal what
// transformers 5.25's own converter derives from the same tokenizer.model (counts, first and last merges,
// recorded from transformers.AutoTokenizer(...).backend_tokenizer; the interop suite checks the encodings:
// tests/interop), the normalizer is sentencepiece's (Prepend + Replace, no pre-tokenizer), and models it cannot
// represent exactly are refused with the reason; bytes that are not a ModelProto are an error.
#include "tokenizer/spm_json.h"

#include "core/error.h"
#include "support/check.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>

using den2moe::sentencepiece_to_tokenizer_json;
using nlohmann::json;

namespace {

json convert(const std::string& rel) {
    auto r = sentencepiece_to_tokenizer_json(d2m_test::shared_dir() + rel);
    CHECK(r.why_not.empty());
    return json::parse(r.json);
}

std::string write_tmp(const std::string& name, const std::string& bytes) {
    const std::string path = "/tmp/d2m_test_spm_json_" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

std::string ws(const std::string& s) {  // "_" -> U+2581
    std::string out;
    for (char c : s) out += c == '_' ? std::string("\xE2\x96\x81") : std::string(1, c);
    return out;
}

}  // namespace

TEST(demo_tokenizer_matches_transformers_converter) {
    json j = convert("/models/demo-llama-7m/tokenizer.model");
    const json& m = j["model"];
    CHECK_EQ(m["type"].get<std::string>(), std::string("BPE"));
    CHECK_EQ(m["vocab"].size(), size_t(4096));
    CHECK_EQ(m["merges"].size(), size_t(5846));  // transformers 5.25: 5846
    CHECK(m["merges"][0] == json::array({ws("_"), "t"}));
    CHECK(m["merges"][1] == json::array({"h", "e"}));
    CHECK(m["merges"][2] == json::array({ws("_"), "a"}));
    CHECK_EQ(m["vocab"][ws("__")].get<int>(), 2066);
    CHECK_EQ(m["vocab"]["<0x0A>"].get<int>(), 13);
    CHECK(m["byte_fallback"].get<bool>());
    CHECK_EQ(m["unk_token"].get<std::string>(), std::string("<unk>"));
    CHECK(j["pre_tokenizer"].is_null());
    CHECK_EQ(j["normalizer"]["normalizers"][0]["type"].get<std::string>(), std::string("Prepend"));
    CHECK_EQ(j["normalizer"]["normalizers"][1]["type"].get<std::string>(), std::string("Replace"));
    CHECK_EQ(j["added_tokens"].size(), size_t(3));  // <unk>, <s>, </s>
    CHECK_EQ(j["added_tokens"][1]["content"].get<std::string>(), std::string("<s>"));
    CHECK_EQ(j["post_processor"]["special_tokens"]["<s>"]["ids"][0].get<int>(), 1);
}

TEST(llama2_tokenizer_matches_transformers_converter) {
    json j = convert("/models/llama2_tokenizer/tokenizer.model");
    const json& m = j["model"];
    CHECK_EQ(m["vocab"].size(), size_t(32000));
    CHECK_EQ(m["merges"].size(), size_t(61249));  // transformers 5.25: 61249
    CHECK(m["merges"][0] == json::array({ws("_"), ws("_")}));
    CHECK(m["merges"][1] == json::array({ws("_"), "t"}));
    CHECK(m["merges"][2] == json::array({"e", "r"}));
    CHECK(m["merges"].back() == json::array({"lu", "b"}));
}

TEST(refuses_what_it_cannot_represent) {
    // ModelProto { pieces { piece "a" } trainer_spec { model_type UNIGRAM } }
    const std::string unigram("\x0a\x03\x0a\x01" "a" "\x12\x02\x18\x01", 9);
    auto r = sentencepiece_to_tokenizer_json(write_tmp("unigram.model", unigram));
    CHECK(r.json.empty());
    CHECK(r.why_not.find("not BPE") != std::string::npos);
    // BPE, but no normalizer_spec: remove_extra_whitespaces defaults to true
    const std::string folding("\x0a\x03\x0a\x01" "a" "\x12\x02\x18\x02", 9);
    r = sentencepiece_to_tokenizer_json(write_tmp("folding.model", folding));
    CHECK(r.json.empty());
    CHECK(r.why_not.find("folds whitespace") != std::string::npos);
}

TEST(garbage_is_an_error) {
    CHECK_THROWS_WITH(sentencepiece_to_tokenizer_json(write_tmp("garbage.model", "\x0a\xff\xff\xff")),
                      "not a sentencepiece model");
    CHECK_THROWS_WITH(sentencepiece_to_tokenizer_json("/nonexistent/tokenizer.model"), "cannot read");
}

D2M_TEST_MAIN()
