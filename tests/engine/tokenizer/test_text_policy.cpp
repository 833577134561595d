// The text policy through the tokenizers, against python3-sentencepiece (oracle:
// tests/reference/text_oracle.py, path in $D2M_TEXT_ORACLE): on every line of the multilingual corpus
// and on random id sequences (byte pieces ending inside characters, control ids, <unk>, cut
// encodings) for the demo model's and Llama 2's tokenizer.model: encode == sp.encode, decode ==
// decode_text == sp.decode, the grapheme spans of the tokens concatenate to sp.decode; the llama2.c
// tokenizer.bin (run.c's algorithm) against the same oracle; and the streaming repair.
#include "tokenizer/tokenizer.h"

#include "core/text.h"
#include "support/check.h"
#include "support/text_oracle.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

using den2moe::Tokenizer;
namespace text = den2moe::text;

namespace {

const nlohmann::json& oracle() { return d2m_test::text_oracle(); }

std::vector<std::string> corpus() {
    std::vector<std::string> out;
    for (const auto& g : oracle().at("graphemes")) out.push_back(g.at("text").get<std::string>());
    return out;
}

/// The text of `ids` as the spans of their tokens (BOS first, as generate and route see them).
std::string spans_text(const Tokenizer& tok, const std::vector<int>& ids) {
    std::vector<int> with_bos{tok.bos_id()};
    with_bos.insert(with_bos.end(), ids.begin(), ids.end());
    std::string out;
    for (const auto& s : den2moe::token_spans(tok, den2moe::token_bytes(tok, with_bos))) {
        if (!text::is_valid_utf8(s.text)) return "<span not valid UTF-8>";
        out += s.text;
    }
    return out;
}

std::string show(const std::string& s) { return text::display(s).substr(0, 80); }

}  // namespace

TEST(sentencepiece_models_equal_python_on_the_corpus) {
    const std::vector<std::string> lines = corpus();
    CHECK(lines.size() >= 1000);
    const auto& models = oracle().at("models");
    CHECK_EQ(models.size(), size_t(2));
    for (auto it = models.begin(); it != models.end(); ++it) {
        auto tok = Tokenizer::load(d2m_test::shared_dir() + "/" + it.key());
        CHECK(tok->repair() == text::Repair::PerByte);
        const auto& enc = it.value().at("encodes");
        CHECK_EQ(enc.size(), lines.size());
        int bad_ids = 0, bad_dec = 0, bad_spans = 0;
        size_t byte_tokens = 0, multi_token_spans = 0;
        for (size_t i = 0; i < lines.size() && i < enc.size(); ++i) {
            const auto want = enc[i].at("ids").get<std::vector<int>>();
            const std::string dec = enc[i].at("decoded").get<std::string>();
            d2m_test::checks() += 4;
            if (tok->encode(lines[i], false, false) != want && ++bad_ids <= 3) {
                d2m_test::fail(__FILE__, __LINE__, it.key() + ": ids differ on \"" + show(lines[i]) + "\"");
            }
            if ((tok->decode(want) != dec || den2moe::decode_text(*tok, want) != dec) && ++bad_dec <= 3) {
                d2m_test::fail(__FILE__, __LINE__, it.key() + ": decode differs on \"" + show(lines[i]) + "\"");
            }
            if (spans_text(*tok, want) != dec && ++bad_spans <= 3) {
                d2m_test::fail(__FILE__, __LINE__, it.key() + ": spans concatenate to \"" + show(spans_text(*tok, want)) +
                                                       "\", sentencepiece decodes \"" + show(dec) + "\"");
            }
            for (int id : want) byte_tokens += tok->piece(id).rfind("<0x", 0) == 0;
            std::vector<int> with_bos{tok->bos_id()};
            with_bos.insert(with_bos.end(), want.begin(), want.end());
            for (const auto& s : den2moe::token_spans(*tok, den2moe::token_bytes(*tok, with_bos))) {
                multi_token_spans += s.last - s.first > 1;
                ++d2m_test::checks();
                if (!s.valid && ++bad_spans <= 3) {
                    d2m_test::fail(__FILE__, __LINE__, it.key() + ": a span of a whole encoding is not valid UTF-8: " +
                                                           text::hex(s.bytes));
                }
            }
        }
        std::fprintf(stderr, "  %s: %zu lines, %zu byte-fallback tokens, %zu multi-token spans; mismatches: ids %d, "
                     "decode %d, spans %d\n", it.key().c_str(), lines.size(), byte_tokens, multi_token_spans, bad_ids,
                     bad_dec, bad_spans);
        CHECK(byte_tokens > 100);        // the corpus really makes byte-fallback tokens
        CHECK(multi_token_spans > 100);  // ... and spans of several tokens
    }
}

TEST(decode_equals_python_on_random_ids) {
    const auto& models = oracle().at("models");
    for (auto it = models.begin(); it != models.end(); ++it) {
        auto tok = Tokenizer::load(d2m_test::shared_dir() + "/" + it.key());
        int bad = 0, bad_spans = 0, n = 0, invalid_bytes = 0;
        for (const auto& c : it.value().at("decodes")) {
            const auto ids = c.at("ids").get<std::vector<int>>();
            const std::string want = c.at("decoded").get<std::string>();
            ++n;
            d2m_test::checks() += 2;
            if ((tok->decode(ids) != want || den2moe::decode_text(*tok, ids) != want) && ++bad <= 3) {
                d2m_test::fail(__FILE__, __LINE__, it.key() + ": decode differs for ids " + c.at("ids").dump());
            }
            std::string cat;
            for (const auto& b : den2moe::token_bytes(*tok, ids, tok->bos_id())) cat += b;
            invalid_bytes += !text::is_valid_utf8(cat);
            // the spans repair exactly what sentencepiece repairs (mid-sequence BOS/EOS aside:
            // decode_piece strips a space after BOS, as run.c prints)
            bool control_inside = false;
            for (size_t i = 1; i < ids.size(); ++i) control_inside |= ids[i - 1] == tok->bos_id() || ids[i - 1] == tok->eos_id();
            if (!control_inside && spans_text(*tok, ids) != want && ++bad_spans <= 3) {
                d2m_test::fail(__FILE__, __LINE__, it.key() + ": spans differ for ids " + c.at("ids").dump() + ": \"" +
                                                       show(spans_text(*tok, ids)) + "\" vs \"" + show(want) + "\"");
            }
        }
        std::fprintf(stderr, "  %s: %d id sequences (%d with ill-formed bytes); mismatches: decode %d, spans %d\n",
                     it.key().c_str(), n, invalid_bytes, bad, bad_spans);
        CHECK(n >= 600);
        CHECK(invalid_bytes > 100);  // sequences that end inside characters were really tested
    }
}

TEST(llama2c_bin_against_sentencepiece) {
    // tokenizer.bin is llama2.c's export of Llama 2's tokenizer.model: run.c's encode on the corpus
    // against sentencepiece's ids, and decode_text (run.c's bytes, repaired per byte) against
    // sentencepiece's decode. run.c's own output (decode_piece) is unchanged: see
    // test_llama2c_tokenizer.cpp and test_stories260k.cpp.
    auto bin = Tokenizer::load(d2m_test::shared_dir() + "/models/llama2_tokenizer/tokenizer.bin", 32000);
    CHECK(bin->repair() == text::Repair::PerByte);
    const std::vector<std::string> lines = corpus();
    const auto& m = oracle().at("models").at("models/llama2_tokenizer/tokenizer.model");
    int differ = 0, nul_lines = 0, bad_dec = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
        const auto want = m.at("encodes")[i].at("ids").get<std::vector<int>>();
        const bool has_nul = lines[i].find('\0') != std::string::npos;
        nul_lines += has_nul;
        if (!has_nul && bin->encode(lines[i], false, false) != want) {
            if (++differ <= 5) std::fprintf(stderr, "  run.c differs: %s\n", show(lines[i]).c_str());
        }
        ++d2m_test::checks();
        // run.c always starts from BOS (after which it strips the dummy-prefix space, as sentencepiece does)
        std::vector<int> with_bos{1};
        with_bos.insert(with_bos.end(), want.begin(), want.end());
        if (den2moe::decode_text(*bin, with_bos) != m.at("encodes")[i].at("decoded").get<std::string>() && ++bad_dec <= 3) {
            d2m_test::fail(__FILE__, __LINE__, "llama2.c decode_text differs on \"" + show(lines[i]) + "\"");
        }
    }
    // ids of random sequences without <unk> (run.c prints "<unk>", sentencepiece " ⁇ ")
    for (const auto& c : m.at("decodes")) {
        const auto ids = c.at("ids").get<std::vector<int>>();
        bool unk = false;
        for (size_t i = 0; i < ids.size(); ++i) unk |= ids[i] == 0 || (i > 0 && (ids[i - 1] == 1 || ids[i - 1] == 2));
        if (unk) continue;
        ++d2m_test::checks();
        std::vector<int> with_bos{1};
        with_bos.insert(with_bos.end(), ids.begin(), ids.end());
        if (den2moe::decode_text(*bin, with_bos) != c.at("decoded").get<std::string>() && ++bad_dec <= 6) {
            d2m_test::fail(__FILE__, __LINE__, "llama2.c decode_text differs for ids " + c.at("ids").dump());
        }
    }
    // run.c reads C strings: a NUL ends the text it encodes
    CHECK((bin->encode(std::string("a\0b", 3), false, false) == bin->encode("a", false, false)));
    std::fprintf(stderr, "  run.c vs sentencepiece on the corpus: %d of %zu lines differ (%d lines with NUL skipped)\n",
                 differ, lines.size() - nul_lines, nul_lines);
    CHECK_EQ(differ, 0);
}

TEST(token_spans_hold_the_issue_case) {
    // "北京" in the demo model: BOS, "▁" (stripped after BOS), six byte-fallback pieces -> spans
    // <s> | ▁ | 北 | 京 (an empty token on a boundary is a span of its own)
    auto tok = Tokenizer::load(d2m_test::shared_dir() + "/models/demo-llama-7m/tokenizer.model");
    const std::vector<int> ids = tok->encode("\xE5\x8C\x97\xE4\xBA\xAC", true, false);
    CHECK_EQ(ids.size(), size_t(8));
    CHECK_EQ(tok->piece(ids[2]), std::string("<0xE5>"));
    const auto bytes = den2moe::token_bytes(*tok, ids);
    CHECK_EQ(bytes[2], std::string("\xE5"));
    const auto spans = den2moe::token_spans(*tok, bytes);
    CHECK_EQ(spans.size(), size_t(4));
    if (spans.size() == 4) {
        CHECK(spans[0].first == 0 && spans[0].last == 1 && spans[0].bytes.empty());
        CHECK(spans[1].first == 1 && spans[1].last == 2 && spans[1].bytes.empty());
        CHECK(spans[2].first == 2 && spans[2].last == 5 && spans[2].text == "\xE5\x8C\x97");
        CHECK(spans[3].first == 5 && spans[3].last == 8 && spans[3].text == "\xE4\xBA\xAC");
    }
    // the issue's decoders: <0xE2> <0x80> <0x0A> -> sentencepiece's "��\n"
    const std::vector<int> e2800a{0xE2 + 3, 0x80 + 3, 0x0A + 3};
    CHECK_EQ(tok->piece(229), std::string("<0xE2>"));
    CHECK_EQ(tok->piece(131), std::string("<0x80>"));
    CHECK_EQ(tok->piece(13), std::string("<0x0A>"));
    CHECK_EQ(den2moe::decode_text(*tok, e2800a), std::string("\xEF\xBF\xBD\xEF\xBF\xBD\n"));
}

D2M_TEST_MAIN()
