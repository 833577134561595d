// The in-process SentencePiece BPE encoder (tokenizer/spm_native.cpp) against the sentencepiece library (the
// shim) in the same process: the same vocabulary, special ids, ids and decoded text for the first records of
// every shared domain's test split, adversarial strings (malformed UTF-8, NUL, control characters, whitespace
// runs, literal special pieces) and seeded random byte strings, for the demo model's and Llama 2's tokenizers;
// random id sequences decode alike (byte runs that are not UTF-8, control and unknown pieces). A hand-built
// model exercises what those two do not: user-defined pieces (never merged across), UNUSED pieces (merged,
// then split back), no byte fallback (<unk>), and the refusals. python3-sentencepiece's own ids are checked
// by test_spm_tokenizer_native (test_spm_tokenizer's oracle case under D2M_SPM=native).
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "data/corpus.h"
#include "support/check.h"
#include "support/oracle_file.h"

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <random>

using den2moe::Tokenizer;

namespace {

std::unique_ptr<Tokenizer> load_shim(const std::string& path) {
    ::setenv("D2M_SPM", "shim", 1);
    auto t = den2moe::load_sentencepiece(path);
    ::unsetenv("D2M_SPM");
    return t;
}

std::vector<std::string> domain_names() {
    std::vector<std::string> out;
    const std::string dir = d2m_test::shared_dir() + "/data/domains";
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.' && std::ifstream(dir + "/" + e->d_name + "/test.jsonl.gz").good())
                out.push_back(e->d_name);
        ::closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> adversarial() {
    std::vector<std::string> v = {
        "", " ", "  ", "\t", "\n\n", "a", " a", "a ", "a  b   c", "\xE2\x96\x81", "\xE2\x96\x81\xE2\x96\x81x",
        "<unk>", "<s>", "</s>", "<0x41>", "\xEF\xBF\xBD",
        std::string("a\0b", 3), std::string("\0", 1), "\x01\x02\x7F", "\xC2\x80\xC2\x9F",
        "\xFF", "a\xC3", "\xC3", "\xE2\x96", "x\xE2\x96y", "\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80",
        "\xF0\x9F\x98", "\x80\x80\x80", "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC",
        "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
        "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87", std::string(500, ' '),
        std::string(300, 'x'), "   leading and trailing   ", "tabs\tand\r\nCRLF",
    };
    // seeded random strings over an alphabet of ASCII, multi-byte characters, spaces and stray bytes
    std::mt19937 rng(20261206);
    const std::vector<std::string> alphabet = {"a", "e", "t", "th", "in", " ", " ", "\n", "1", ".", "\xC3\xA9",
                                               "\xE6\x97\xA5", "\xF0\x9F\x98\x80", "\xFF", "\xC3", "\x80", "\xE2\x96",
                                               "\xE2\x96\x81", "<", ">", "s", "\t"};
    for (int k = 0; k < 400; ++k) {
        std::string s;
        const int n = 1 + int(rng() % 40);
        for (int i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
        v.push_back(s);
    }
    return v;
}

int compare(const Tokenizer& native, const Tokenizer& shim, const std::string& text, const std::string& where) {
    ++d2m_test::checks();
    const std::vector<int> a = native.encode(text, false, false), b = shim.encode(text, false, false);
    if (a != b) {
        d2m_test::fail(__FILE__, __LINE__, where + ": ids differ for \"" + text.substr(0, 80) + "\": native " +
                                               d2m_test::ids_str(a) + " library " + d2m_test::ids_str(b));
        return 1;
    }
    ++d2m_test::checks();
    if (native.decode(a) != shim.decode(b)) {
        d2m_test::fail(__FILE__, __LINE__, where + ": decode differs for \"" + text.substr(0, 80) + "\"");
        return 1;
    }
    return 0;
}

/// ModelProto bytes: a length-delimited field.
std::string field(int number, const std::string& bytes) {
    std::string out(1, char((number << 3) | 2));
    size_t n = bytes.size();
    do {
        out.push_back(char((n & 0x7F) | (n > 0x7F ? 0x80 : 0)));
        n >>= 7;
    } while (n);
    return out + bytes;
}
std::string varint_field(int number, uint64_t v) {
    std::string out;
    uint64_t key = uint64_t(number) << 3;
    do {
        out.push_back(char((key & 0x7F) | (key > 0x7F ? 0x80 : 0)));
        key >>= 7;
    } while (key);
    do {
        out.push_back(char((v & 0x7F) | (v > 0x7F ? 0x80 : 0)));
        v >>= 7;
    } while (v);
    return out;
}
std::string piece(const std::string& text, float score, int type) {
    std::string s = field(1, text);
    s.push_back(char((2 << 3) | 5));
    s.append(reinterpret_cast<const char*>(&score), 4);
    return field(1, s + varint_field(3, uint64_t(type)));
}

/// A tiny BPE model: <unk> <s> </s>, a user-defined "[X]", characters, "ab" (normal), "abc" (UNUSED: merged,
/// then split back into "ab" + "c"), "▁a"; identity normalizer, dummy prefix, no byte fallback.
std::string tiny_model() {
    const std::string ws = "\xE2\x96\x81";
    std::string m = piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3) + piece("[X]", 0, 4) +
                    piece(ws, -1, 1) + piece("a", -2, 1) + piece("b", -3, 1) + piece("c", -4, 1) +
                    piece("ab", -0.5f, 1) + piece("abc", -0.25f, 5) + piece(ws + "a", -0.75f, 1) + piece("X]", 0.5f, 1);
    m += field(2, varint_field(3, 2));  // trainer_spec { model_type: BPE }
    m += field(3, field(1, "identity") + varint_field(3, 1) + varint_field(4, 0) + varint_field(5, 1));
    return m;
}

std::string write_tmp(const std::string& name, const std::string& bytes) {
    const std::string p = d2m_test::tmp_dir() + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
}

}  // namespace

TEST(native_equals_the_library_on_every_domain) {
    const auto domains = domain_names();
    CHECK(domains.size() >= 18);
    for (const std::string rel : {"/models/demo-llama-7m/tokenizer.model", "/models/llama2_tokenizer/tokenizer.model"}) {
        const std::string path = d2m_test::shared_dir() + rel;
        auto native = den2moe::load_sentencepiece_native(path);
        auto shim = load_shim(path);
        CHECK_EQ(native->vocab_size(), shim->vocab_size());
        CHECK_EQ(native->bos_id(), shim->bos_id());
        CHECK_EQ(native->eos_id(), shim->eos_id());
        int bad = 0;
        for (int id = 0; id < shim->vocab_size(); ++id) {
            bad += native->piece(id) != shim->piece(id);
            bad += native->decode_piece(shim->bos_id(), id) != shim->decode_piece(shim->bos_id(), id);
            bad += native->decode_piece(id, id) != shim->decode_piece(id, id);
        }
        CHECK_EQ(bad, 0);
        size_t texts = 0, bytes = 0;
        int mismatches = 0;
        for (const std::string& d : domains) {
            const auto records = den2moe::read_records(d2m_test::shared_dir() + "/data/domains/" + d + "/test.jsonl.gz");
            for (size_t i = 0; i < records.size() && i < 120; ++i) {
                mismatches += compare(*native, *shim, records[i], rel + " " + d);
                ++texts;
                bytes += records[i].size();
                if (mismatches > 5) break;
            }
        }
        for (const std::string& t : adversarial()) mismatches += mismatches > 10 ? 0 : compare(*native, *shim, t, rel);
        CHECK_EQ(mismatches, 0);
        // random id sequences decode alike: byte runs that are not UTF-8, control, unknown and space pieces
        std::mt19937 rng(7);
        int bad_decode = 0;
        for (int k = 0; k < 3000; ++k) {
            std::vector<int> ids(1 + rng() % 12);
            for (int& id : ids) id = rng() % 3 ? int(rng() % 262) : int(rng() % uint32_t(shim->vocab_size()));
            ++d2m_test::checks();
            if (native->decode(ids) != shim->decode(ids) && ++bad_decode <= 3)
                d2m_test::fail(__FILE__, __LINE__, rel + ": decode differs for " + d2m_test::ids_str(ids));
        }
        std::fprintf(stderr, "  %s: %zu domain texts (%zu bytes) + %zu adversarial, 3000 id sequences\n", rel.c_str(),
                     texts, bytes, adversarial().size());
        CHECK(texts > 1500);
    }
}

TEST(tiny_model_user_defined_unused_and_unk) {
    const std::string path = write_tmp("tiny.model", tiny_model());
    auto tok = den2moe::load_sentencepiece_native(path);
    CHECK_EQ(tok->vocab_size(), 12);
    CHECK_EQ(tok->bos_id(), 1);
    CHECK_EQ(tok->eos_id(), 2);
    // "abc" -> "▁abc": ▁a (-0.75) loses to ab (-0.5); abc is UNUSED (-0.25): merged, then split back to ab + c
    CHECK((tok->encode("abc", false, false) == std::vector<int>{4, 8, 7}));
    // "[X]" is user-defined: kept whole, never merged with its neighbours ("X]" scores higher but may not form)
    CHECK((tok->encode("a[X]b", true, true) == std::vector<int>{1, 10, 3, 6, 2}));
    // no byte fallback: an unknown character is <unk>; decode writes the unknown surface
    CHECK((tok->encode("a z", false, false) == std::vector<int>{10, 4, 0}));
    CHECK_EQ(tok->decode({10, 4, 0}), std::string("a  \xE2\x81\x87 "));  // "a", " ", " ⁇ "
    CHECK_EQ(tok->decode({1, 10, 3, 6, 2}), std::string("a[X]b"));
    // the library agrees on this model too (where the shim loads)
    auto shim = load_shim(path);
    for (const std::string t : {"abc", "a[X]b", "a z", " [X][X]abcab c", "X]X]", "abcabc abc"})
        CHECK_EQ(compare(*tok, *shim, t, "tiny"), 0);
}

TEST(refuses_models_it_cannot_reproduce) {
    // unigram
    const std::string unigram = write_tmp("unigram.model", piece("<unk>", 0, 2) + field(2, varint_field(3, 1)));
    CHECK_THROWS_WITH(den2moe::load_sentencepiece_native(unigram), "is not BPE");
    CHECK_THROWS_WITH(den2moe::load_sentencepiece_native(unigram), "cannot be read without the sentencepiece library");
    // whitespace folding (normalizer_spec absent: remove_extra_whitespaces defaults to true)
    const std::string folding = write_tmp("folding.model", piece("<unk>", 0, 2) + field(2, varint_field(3, 2)));
    CHECK_THROWS_WITH(den2moe::load_sentencepiece_native(folding), "folds whitespace");
    // a byte piece that is not <0xHH>
    const std::string badbyte = write_tmp("badbyte.model", piece("<unk>", 0, 2) + piece("<0xZZ>", 0, 6));
    CHECK_THROWS_WITH(den2moe::load_sentencepiece_native(badbyte), "is not <0xHH>");
    // byte fallback without the 256 byte pieces
    std::string nobytes = piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3) + piece("a", 0, 1);
    nobytes += field(2, varint_field(3, 2) + varint_field(35, 1));
    nobytes += field(3, field(1, "identity") + varint_field(4, 0));
    CHECK_THROWS_WITH(den2moe::load_sentencepiece_native(write_tmp("nobytes.model", nobytes)), "no piece for byte 0");
    // garbage through the loader: the same message as the library path's
    const std::string bad = write_tmp("garbage.model", "this is not a sentencepiece model proto\n");
    ::setenv("D2M_SPM", "native", 1);
    CHECK_THROWS_WITH(Tokenizer::load(bad), "cannot load the tokenizer " + bad + ": the file (40 bytes) is not a SentencePiece model");
    ::setenv("D2M_SPM", "sentencepiece", 1);
    CHECK_THROWS_WITH(Tokenizer::load(bad), "D2M_SPM=sentencepiece: expected shim or native");
    ::unsetenv("D2M_SPM");
}

D2M_TEST_MAIN()
