// llama2.c tokenizer.bin: run.c's encode/decode. Known ids for tok512.bin, round trips, byte
// fallback, empty text; the heap-based merge equals a line-by-line port of run.c's O(n^2) loop on
// real corpus text; llama2 tokenizer.bin (run.c algorithm) equals sentencepiece tokenizer.model ids
// on plain English and on the domain test sets checked here (no divergence found; see agreement
// test); load errors name the file.
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "support/check.h"

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <unordered_map>

using den2moe::Tokenizer;

namespace {

std::string tok512() { return d2m_test::shared_dir() + "/models/stories260K/tok512.bin"; }
std::string llama2_bin() { return d2m_test::shared_dir() + "/models/llama2_tokenizer/tokenizer.bin"; }
std::string llama2_model() { return d2m_test::shared_dir() + "/models/llama2_tokenizer/tokenizer.model"; }

using Ids = std::vector<int>;

/// A literal port of run.c encode() (linear lookups replaced by a map, same first-match rule),
/// kept deliberately naive as the reference for the optimised merge.
struct RunCReference {
    std::vector<std::string> vocab;
    std::vector<float> scores;
    std::unordered_map<std::string, int> index;

    explicit RunCReference(const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        std::string d((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        size_t off = 4;
        while (off < d.size()) {
            float s;
            int32_t len;
            std::memcpy(&s, d.data() + off, 4);
            std::memcpy(&len, d.data() + off + 4, 4);
            off += 8;
            vocab.emplace_back(d.data() + off, len);
            scores.push_back(s);
            off += len;
        }
        for (int i = 0; i < static_cast<int>(vocab.size()); ++i) index.emplace(vocab[i], i);
    }
    int lookup(const std::string& s) const {
        auto it = index.find(s);
        return it == index.end() ? -1 : it->second;
    }
    Ids encode(const std::string& text, bool bos, bool eos) const {
        Ids tokens;
        if (bos) tokens.push_back(1);
        if (!text.empty()) tokens.push_back(lookup(" "));
        std::string buf;
        const char* c = text.c_str();
        for (; *c; ++c) {
            if ((*c & 0xC0) != 0x80) buf.clear();
            buf += *c;
            if ((*(c + 1) & 0xC0) == 0x80 && buf.size() < 4) continue;
            int id = lookup(buf);
            if (id != -1) {
                tokens.push_back(id);
            } else {
                for (unsigned char b : buf) tokens.push_back(b + 3);
            }
            buf.clear();
        }
        while (true) {
            float best_score = -1e10;
            int best_id = -1, best_idx = -1;
            for (size_t i = 0; i + 1 < tokens.size(); ++i) {
                int id = lookup(vocab[tokens[i]] + vocab[tokens[i + 1]]);
                if (id != -1 && scores[id] > best_score) {
                    best_score = scores[id];
                    best_id = id;
                    best_idx = static_cast<int>(i);
                }
            }
            if (best_idx == -1) break;
            tokens[best_idx] = best_id;
            tokens.erase(tokens.begin() + best_idx + 1);
        }
        if (eos) tokens.push_back(2);
        return tokens;
    }
};

/// The "text" of the first records of a shared domain test set (no d2m_data dependency here).
std::vector<std::string> domain_records(const std::string& domain, size_t n, size_t max_chars) {
    const std::string path = d2m_test::shared_dir() + "/data/domains/" + domain + "/test.jsonl.gz";
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open " + path);
    std::string data;
    char buf[1 << 16];
    int got;
    while ((got = gzread(f, buf, sizeof(buf))) > 0) data.append(buf, got);
    gzclose(f);
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < data.size() && out.size() < n) {
        size_t nl = data.find('\n', pos);
        if (nl == std::string::npos) nl = data.size();
        std::string t = nlohmann::json::parse(data.substr(pos, nl - pos)).at("text").get<std::string>();
        if (t.size() <= max_chars) out.push_back(std::move(t));
        pos = nl + 1;
    }
    return out;
}

}  // namespace

TEST(tok512_known_ids) {
    auto tok = Tokenizer::load(tok512(), 512);
    CHECK_EQ(tok->kind(), std::string("llama2c"));
    CHECK_EQ(tok->vocab_size(), 512);
    CHECK_EQ(tok->bos_id(), 1);
    CHECK_EQ(tok->eos_id(), 2);
    const Ids ids = tok->encode("Once upon a time", true, false);
    CHECK((ids == Ids{1, 403, 407, 261, 378}));
    CHECK((tok->encode("Once upon a time", false, true) == Ids{403, 407, 261, 378, 2}));
    CHECK_EQ(tok->decode(ids), std::string("Once upon a time"));
    CHECK_EQ(tok->decode_piece(1, 403), std::string("Once"));   // space stripped after BOS
    CHECK_EQ(tok->decode_piece(378, 403), std::string(" Once"));
    // without BOS the first piece keeps its space, exactly as run.c would print it
    CHECK_EQ(tok->decode({403, 407}), std::string(" Once upon"));
    CHECK_EQ(tok->piece(1), std::string("\n<s>\n"));
}

TEST(empty_text) {
    auto tok = Tokenizer::load(tok512(), 512);
    CHECK((tok->encode("", true, false) == Ids{1}));
    CHECK((tok->encode("", false, false) == Ids{}));
    CHECK((tok->encode("", true, true) == Ids{1, 2}));
    CHECK_EQ(tok->decode({1}), std::string());
}

TEST(byte_fallback) {
    auto tok = Tokenizer::load(tok512(), 512);
    // "ü" (C3 BC) and "😀" (F0 9F 98 80) are not in the 512-piece vocabulary: bytes + 3
    const Ids e = tok->encode("\xC3\xBC", false, false);
    CHECK((e == Ids{410, 0xC3 + 3, 0xBC + 3}));  // dummy-prefix " " (410), then the two bytes
    // "é" is a whole piece there (id 485): the code point is looked up before any fallback
    CHECK((tok->encode("\xC3\xA9", false, false) == Ids{410, 485}));
    const Ids emoji = tok->encode("a\xF0\x9F\x98\x80", false, false);
    CHECK((Ids(emoji.end() - 4, emoji.end()) == Ids{0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3}));
    CHECK_EQ(tok->piece(0xC3 + 3), std::string("<0xC3>"));
    CHECK_EQ(tok->decode_piece(5, 0xC3 + 3), std::string("\xC3"));  // <0xHH> -> the raw byte
    CHECK_EQ(tok->decode_piece(5, 13), std::string("\n"));
    for (const std::string text : {"caf\xC3\xA9 \xC3\xBC" "ber \xF0\x9F\x98\x80!", "Lily and Ben went to the park.\nThe end."}) {
        CHECK_EQ(tok->decode(tok->encode(text, true, true)), text);
    }
}

TEST(merge_equals_runc_loop) {
    // the heap/linked-list merge must pick exactly run.c's pair every step
    for (const std::string path : {tok512(), llama2_bin()}) {
        RunCReference ref(path);
        auto tok = den2moe::load_llama2c_tokenizer(path, static_cast<int>(ref.vocab.size()));
        std::vector<std::string> texts = {"Once upon a time", "aaaaaaaaaaaaaaaaaaaaaaa", "   x  y   ",
                                          "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\xA6\x99",
                                          "\x80\x80 stray continuation", "def f(x):\n    return x\n"};
        for (const char* d : {"stories", "gsm8k", "python", "shakespeare"}) {
            for (auto& r : domain_records(d, 12, 1500)) texts.push_back(r);
        }
        int bad = 0;
        for (const auto& t : texts) {
            ++d2m_test::checks();
            if (tok->encode(t, true, true) != ref.encode(t, true, true) && ++bad <= 3) {
                d2m_test::fail(__FILE__, __LINE__, path + ": merge differs from run.c on \"" + t.substr(0, 50) + "\"");
            }
        }
        std::fprintf(stderr, "  %s: %zu texts, %d differ from the run.c port\n", path.c_str(), texts.size(), bad);
    }
}

TEST(llama2_bin_agrees_with_sentencepiece) {
    auto bin = Tokenizer::load(llama2_bin(), 32000);
    auto spm = Tokenizer::load(llama2_model());
    CHECK_EQ(bin->vocab_size(), spm->vocab_size());
    CHECK_EQ(bin->piece(1), std::string("\n<s>\n"));
    CHECK_EQ(bin->piece(29871), std::string(" "));
    // plain English (and a little more): run.c's greedy merge gives sentencepiece's BPE ids
    for (const std::string text :
         {"Once upon a time", "Hello world", "The quick brown fox jumps over the lazy dog.",
          "I can't believe it's not butter!", "Janet\xE2\x80\x99s ducks lay 16 eggs per day.",
          "line one\nline two", "multiple    spaces   inside", "Numbers: 0 1 12 123 3.14159",
          " leading space", "trailing space ", "caf\xC3\xA9 na\xC3\xAFve", "emoji \xF0\x9F\x98\x80"}) {
        CHECK((bin->encode(text, true, true) == spm->encode(text, true, true)));
    }
    // real corpus text: report every divergence
    size_t n = 0;
    int differ = 0;
    for (const char* d : {"stories", "gsm8k", "python", "shakespeare", "banking", "news", "arc", "reviews"}) {
        for (auto& r : domain_records(d, 40, 4000)) {
            ++n;
            if (bin->encode(r, true, false) != spm->encode(r, true, false)) {
                if (++differ <= 5) std::fprintf(stderr, "  differs (%s): %.80s\n", d, r.c_str());
            }
        }
    }
    std::fprintf(stderr, "  run.c vs sentencepiece: %d of %zu domain records differ\n", differ, n);
    CHECK(n > 100);
    CHECK_EQ(differ, 0);
}

TEST(load_errors_name_the_file) {
    const std::string missing = d2m_test::tmp_dir() + "/nope/tok.bin";
    CHECK_THROWS_WITH(Tokenizer::load(missing, 512), missing);
    CHECK_THROWS_WITH(den2moe::load_llama2c_tokenizer(missing, 512), "tokenizer file not found");
    // the model says 600 tokens, the file holds 512
    CHECK_THROWS_WITH(Tokenizer::load(tok512(), 600), "ends after 512 tokens");
    CHECK_THROWS_WITH(Tokenizer::load(tok512(), 600), tok512());
    // no hint: the vocabulary is every token the file holds
    CHECK_EQ(Tokenizer::load(tok512())->vocab_size(), 512);
    // a shorter model vocabulary reads a prefix, as run.c does
    CHECK_EQ(Tokenizer::load(llama2_bin(), 1000)->vocab_size(), 1000);
    const std::string bad = d2m_test::tmp_dir() + "/bad.bin";
    {
        std::ofstream f(bad, std::ios::binary);
        int32_t hdr[3] = {7, 0, 1000000};  // max_len, score, absurd length
        f.write(reinterpret_cast<const char*>(hdr), sizeof(hdr));
    }
    CHECK_THROWS_WITH(Tokenizer::load(bad, 10), "beyond the end of the file");
    auto tok = Tokenizer::load(tok512(), 512);
    CHECK_THROWS_WITH(tok->decode_piece(1, 512), "outside the llama2.c vocabulary");
    CHECK_THROWS_WITH(tok->piece(-1), "outside");
}

D2M_TEST_MAIN()
