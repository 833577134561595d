// Byte-level BPE (Qwen2/Qwen3 vocabulary, shared/models/qwen2_tokenizer): ids, decode and token bytes equal
// the oracles' on every text (tests/reference/bpe_oracle.py: the independent GPT-2-algorithm Python peer in
// $D2M_BPE_ORACLE and, when registered, Hugging Face tokenizers in $D2M_BPE_ORACLE_HF with the tokenizer.json
// it saved in $D2M_BPE_HF_JSON, read by the engine's tokenizer.json reader); known ids by hand; special
// tokens, bos/eos, invalid UTF-8 input; bad files fail with InvalidInput naming the file and the line.
// A missing oracle file fails the case that needs it.
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "core/text.h"
#include "support/check.h"
#include "support/oracle_file.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

using den2moe::Tokenizer;

namespace {

std::string qwen_dir() { return d2m_test::shared_dir() + "/models/qwen2_tokenizer"; }

std::string env_or(const char* name, const std::string& fallback) {
    if (const char* p = std::getenv(name); p && *p) return p;
    return fallback;
}

std::string oracle_path() {
    return env_or("D2M_BPE_ORACLE", env_or("D2M_BUILD_DIR", ".") + "/oracle/bpe_oracle.json");
}

nlohmann::json load_oracle(const std::string& path) {
    return d2m_test::load_oracle_file(path, "bpe_oracle", "tests/reference/bpe_oracle.py");
}

using d2m_test::ids_str;

const Tokenizer& qwen() {
    static const std::unique_ptr<Tokenizer> tok = Tokenizer::load(qwen_dir());
    return *tok;
}

/// Every case of `oracle`: encode -> ids, decode_text(ids) -> decoded, token bytes concatenate to decode().
void compare_with(const Tokenizer& tok, const nlohmann::json& oracle) {
    size_t n_cases = 0, n_tokens = 0, n_bad = 0;
    for (const auto& c : oracle.at("cases")) {
        const std::string text = c.at("text").get<std::string>();
        const std::vector<int> want = c.at("ids").get<std::vector<int>>();
        const std::vector<int> got = tok.encode(text, false, false);
        ++d2m_test::checks();
        if (got != want && ++n_bad <= 5) {
            d2m_test::fail(__FILE__, __LINE__, "ids differ on \"" + den2moe::text::display(text.substr(0, 80)) +
                                                   "\": engine " + ids_str(got) + " vs " +
                                                   oracle.value("impl", "?") + " " + ids_str(want));
        }
        const std::string decoded = c.at("decoded").get<std::string>();
        CHECK_EQ(den2moe::decode_text(tok, want), decoded);
        std::string joined;
        for (const std::string& b : den2moe::token_bytes(tok, want)) joined += b;
        CHECK_EQ(joined, tok.decode(want));
        ++n_cases;
        n_tokens += want.size();
    }
    size_t n_dec = 0, n_fffd = 0;
    for (const auto& c : oracle.at("decode_cases")) {
        const std::vector<int> ids = c.at("ids").get<std::vector<int>>();
        const std::string want = c.at("decoded").get<std::string>();
        const std::string got = den2moe::decode_text(tok, ids);
        ++d2m_test::checks();
        if (got != want) {
            d2m_test::fail(__FILE__, __LINE__, "decode of " + ids_str(ids) + ": engine \"" +
                                                   den2moe::text::display(got) + "\" vs \"" +
                                                   den2moe::text::display(want) + "\"");
        }
        ++n_dec;
        n_fffd += want.find("\xEF\xBF\xBD") != std::string::npos;
    }
    std::fprintf(stderr, "  %s: %zu texts, %zu tokens (%zu differ), %zu decode cases (%zu repaired)\n",
                 oracle.value("impl", "?").c_str(), n_cases, n_tokens, n_bad, n_dec, n_fffd);
    CHECK(n_cases > 3000);  // the corpus really was read
    CHECK(n_fffd > 10);     // the decode cases really cut characters
}

void write(const std::string& path, const std::string& s) {
    std::ofstream(path, std::ios::binary) << s;
}

/// A folder with a tiny byte-level vocabulary (all 256 byte pieces) + `merges` + `extra` vocab entries.
std::string tiny_folder(const std::string& name, const std::string& merges, const std::string& extra_vocab,
                        bool with_merges = true) {
    const std::string dir = d2m_test::tmp_dir() + "/" + name;
    ::mkdir(dir.c_str(), 0755);
    // GPT-2 bytes_to_unicode, written out here independently of the engine
    nlohmann::json v = nlohmann::json::object();
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        std::string u;
        den2moe::text::append_utf8(u, printable ? b : next++);
        v[u] = b;
    }
    std::string vocab = v.dump();
    if (!extra_vocab.empty()) vocab = vocab.substr(0, vocab.size() - 1) + "," + extra_vocab + "}";
    write(dir + "/vocab.json", vocab);
    if (with_merges) write(dir + "/merges.txt", "#version: 0.2\n" + merges);
    return dir;
}

}  // namespace

TEST(missing_oracle_is_an_error) {
    CHECK_THROWS_WITH(load_oracle(d2m_test::tmp_dir() + "/no_such_oracle.json"), "not found");
}

TEST(loads_qwen2_folder) {
    const Tokenizer& tok = qwen();
    CHECK_EQ(tok.kind(), std::string("byte-level BPE"));
    CHECK_EQ(tok.vocab_size(), 151646);  // 151,643 pieces + 3 added tokens
    CHECK_EQ(tok.bos_id(), -1);          // Qwen adds no BOS (tokenizer_config bos_token null)
    CHECK_EQ(tok.eos_id(), 151645);      // tokenizer_config eos_token <|im_end|> (the Instruct model's)
    CHECK_EQ(tok.piece(151643), std::string("<|endoftext|>"));
    CHECK_EQ(tok.piece(220), std::string("\xC4\xA0"));  // "Ġ": the byte 0x20 in GPT-2's mapping
    CHECK_EQ(tok.decode_piece(-1, 220), std::string(" "));
    CHECK_EQ(tok.decode_piece(-1, 151644), std::string());  // special: dropped like decode()
    CHECK_EQ(Tokenizer::load(qwen_dir() + "/vocab.json")->vocab_size(), 151646);
    // what a copy of the tokenizer (MoE folder, training output, cache hash) must carry
    const std::vector<std::string> files = {qwen_dir() + "/vocab.json", qwen_dir() + "/merges.txt",
                                            qwen_dir() + "/added_tokens.json", qwen_dir() + "/tokenizer_config.json",
                                            qwen_dir() + "/special_tokens_map.json"};
    CHECK_EQ(den2moe::tokenizer_files(qwen_dir()), files);
    CHECK_EQ(den2moe::tokenizer_files(qwen_dir() + "/vocab.json"), files);
    const std::string spm = d2m_test::shared_dir() + "/models/demo-llama-7m/tokenizer.model";
    CHECK_EQ(den2moe::tokenizer_files(spm), std::vector<std::string>{spm});
    CHECK_EQ(den2moe::tokenizer_files(d2m_test::shared_dir() + "/models/demo-llama-7m"), std::vector<std::string>{spm});
    CHECK_EQ(Tokenizer::load(d2m_test::shared_dir() + "/models/demo-llama-7m")->kind(), std::string("sentencepiece"));
}

TEST(known_ids_by_hand) {
    const Tokenizer& tok = qwen();
    // "Hello" = 9707, " world" = 1879, "!" = 0 in vocab.json
    CHECK_EQ(tok.encode("Hello world!", false, false), (std::vector<int>{9707, 1879, 0}));
    // add_bos does nothing without a BOS; add_eos appends <|im_end|>
    CHECK_EQ(tok.encode("Hello", true, true), (std::vector<int>{9707, 151645}));
    // added tokens are split out before pre-tokenisation, even glued to text
    const std::vector<int> ids = tok.encode("<|im_start|>user\nHello<|im_end|>", false, false);
    CHECK(ids.size() >= 4);
    CHECK_EQ(ids.front(), 151644);
    CHECK_EQ(ids.back(), 151645);
    CHECK_EQ(den2moe::decode_text(tok, ids), std::string("user\nHello"));  // specials dropped
    // digits are split one by one (\p{N}), each its own id
    const std::vector<int> d = tok.encode("2024", false, false);
    CHECK_EQ(d.size(), size_t(4));
}

TEST(invalid_utf8_input_is_repaired_first) {
    const Tokenizer& tok = qwen();
    const std::string bad = "caf\xC3 \xF0\x9F\x98 ok \xFF";
    CHECK_EQ(tok.encode(bad, false, false), tok.encode(den2moe::text::repair(bad), false, false));
    // a 4-byte character cut into its byte tokens decodes per maximal subpart (from_utf8_lossy)
    const std::vector<int> e = tok.encode("\xF0\x9F\xA6\x99", false, false);  // U+1F999
    std::string bytes;
    for (int id : e) bytes += tok.decode_piece(-1, id);
    CHECK_EQ(bytes, std::string("\xF0\x9F\xA6\x99"));
}

TEST(oracle_matches_python) {
    const nlohmann::json oracle = load_oracle(oracle_path());  // throws (= test failure) if absent
    CHECK_EQ(oracle.value("impl", ""), std::string("python"));
    compare_with(qwen(), oracle);
}

TEST(oracle_matches_hf_tokenizers) {
    const nlohmann::json oracle = load_oracle(env_or("D2M_BPE_ORACLE_HF", "(D2M_BPE_ORACLE_HF unset)"));
    CHECK(oracle.value("impl", "").rfind("tokenizers ", 0) == 0);
    compare_with(qwen(), oracle);
}

TEST(tokenizer_json_matches_python) {
    // the tokenizer.json that Hugging Face tokenizers saved, read by the engine's tokenizer.json reader
    const std::string path = env_or("D2M_BPE_HF_JSON", "(D2M_BPE_HF_JSON unset)");
    std::ifstream probe(path);
    if (!probe) throw std::runtime_error("tokenizer.json " + path + " not found: run the bpe_oracle_hf fixture");
    const std::unique_ptr<Tokenizer> tok = Tokenizer::load(path);
    CHECK_EQ(tok->vocab_size(), 151646);
    CHECK_EQ(tok->eos_id(), 151643);  // no tokenizer_config.json beside it: <|endoftext|>
    compare_with(*tok, load_oracle(oracle_path()));
}

TEST(gpt2_pre_tokenizer_matches_hf_tokenizers) {
    // the same vocabulary with GPT-2's pre-tokenizer (ByteLevel use_regex, no NFC), as tokenizers saved it
    const std::string path = env_or("D2M_BPE_HF_GPT2_JSON", "(D2M_BPE_HF_GPT2_JSON unset)");
    std::ifstream probe(path);
    if (!probe) throw std::runtime_error("tokenizer.json " + path + " not found: run the bpe_oracle_hf_gpt2 fixture");
    const nlohmann::json oracle = load_oracle(env_or("D2M_BPE_ORACLE_HF_GPT2", "(D2M_BPE_ORACLE_HF_GPT2 unset)"));
    CHECK_EQ(oracle.value("variant", ""), std::string("gpt2"));
    const std::unique_ptr<Tokenizer> tok = Tokenizer::load(path);
    // the two pre-tokenizers differ (digits, NFC, newlines), so this really tests the GPT-2 path
    CHECK(tok->encode("2024\r\n\r\nCafe\xCC\x81", false, false) != qwen().encode("2024\r\n\r\nCafe\xCC\x81", false, false));
    compare_with(*tok, oracle);
}

TEST(tiny_vocabulary_merges_by_rank) {
    // merges: "a b" (rank 0), "ab c" (1), "b c" (2): "abc" -> ab + c -> abc; "bc" -> bc
    const std::string dir = tiny_folder("tiny", "a b\nab c\nb c\n", R"("ab":300,"abc":301,"bc":302)");
    const std::unique_ptr<Tokenizer> tok = Tokenizer::load(dir);
    CHECK_EQ(tok->encode("abc", false, false), (std::vector<int>{301}));
    CHECK_EQ(tok->encode("bc", false, false), (std::vector<int>{302}));
    CHECK_EQ(tok->encode("abcbc", false, false), (std::vector<int>{301, 302}));
    CHECK_EQ(tok->encode("aab", false, false), (std::vector<int>{'a', 300}));  // byte ids: 'a' is id 97
    CHECK_EQ(tok->eos_id(), -1);  // GPT-2 family without tokenizer_config.json: none
    CHECK_EQ(tok->decode({301, 32, 302}), std::string("abc bc"));
}

TEST(bad_files_name_file_and_line) {
    using den2moe::Error;
    using den2moe::ErrorKind;
    auto kind_of = [](const std::string& dir) {
        try {
            Tokenizer::load(dir);
        } catch (const Error& e) {
            return e.kind();
        }
        return ErrorKind::Internal;
    };
    const std::string no_merges = tiny_folder("no_merges", "", "", false);
    CHECK_THROWS_WITH(Tokenizer::load(no_merges), "no merges.txt");
    CHECK(kind_of(no_merges) == ErrorKind::InvalidInput);  // CLI exit 1

    const std::string unknown = tiny_folder("unknown_piece", "a b\nx yz\n", R"("ab":300)");
    CHECK_THROWS_WITH(Tokenizer::load(unknown), "merges.txt line 3");
    CHECK_THROWS_WITH(Tokenizer::load(unknown), "\"yz\"");
    CHECK(kind_of(unknown) == ErrorKind::InvalidInput);

    const std::string three = tiny_folder("three_pieces", "a b\na b c\n", R"("ab":300)");
    CHECK_THROWS_WITH(Tokenizer::load(three), "merges.txt line 3");

    const std::string bad_json = tiny_folder("bad_json", "a b\n", R"("ab":300)");
    write(bad_json + "/vocab.json", "{\n  \"a\": 0,\n  \"b\": 1,\n  \"c\" 2\n}\n");
    CHECK_THROWS_WITH(Tokenizer::load(bad_json), "vocab.json line 4");
    CHECK(kind_of(bad_json) == ErrorKind::InvalidInput);

    const std::string no_bytes = tiny_folder("no_bytes", "", "");
    write(no_bytes + "/vocab.json", R"({"a": 0, "b": 1})");
    CHECK_THROWS_WITH(Tokenizer::load(no_bytes), "no piece for the byte");

    const std::string bad_cfg = tiny_folder("bad_cfg", "a b\n", R"("ab":300)");
    write(bad_cfg + "/tokenizer_config.json", "{\"tokenizer_class\": \"Qwen2Tokenizer\",\n\"eos_token\": [}");
    CHECK_THROWS_WITH(Tokenizer::load(bad_cfg), "tokenizer_config.json line 2");

    const std::string bad_eos = tiny_folder("bad_eos", "a b\n", R"("ab":300)");
    write(bad_eos + "/tokenizer_config.json", R"({"eos_token": "<|nope|>"})");
    CHECK_THROWS_WITH(Tokenizer::load(bad_eos), "<|nope|>");

    const std::string tj = d2m_test::tmp_dir() + "/bad_tokenizer_json";
    ::mkdir(tj.c_str(), 0755);
    write(tj + "/tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
    CHECK_THROWS_WITH(Tokenizer::load(tj), "is not BPE");
}

D2M_TEST_MAIN()
