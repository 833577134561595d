// The text policy (core/text.h): UTF-8 well-formedness by Unicode Table 3-7, repair by maximal
// subparts equal to Python's bytes.decode('utf-8', 'replace') and per byte equal to sentencepiece's
// decode of byte pieces (oracle: tests/reference/text_oracle.py, path in $D2M_TEXT_ORACLE), grapheme
// boundaries equal to the regex module's \X on every line of tests/data/multilingual.jsonl, token
// grouping, the streaming repair, the display form, terminal widths, and dump_json never throwing.
#include "core/json_text.h"
#include "core/text.h"

#include "support/check.h"
#include "support/text_oracle.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <random>

namespace text = den2moe::text;
using text::Repair;

namespace {

const nlohmann::json& oracle() { return d2m_test::text_oracle(); }

std::string unhex(const std::string& h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}

const std::string kFFFD = "\xEF\xBF\xBD";

std::vector<std::string> bytes_of(std::initializer_list<const char*> v) { return {v.begin(), v.end()}; }

}  // namespace

TEST(well_formed_sequences_table_3_7) {
    CHECK_EQ(text::sequence_length("a", 0), size_t(1));
    CHECK_EQ(text::sequence_length("\xC2\x80", 0), size_t(2));
    CHECK_EQ(text::sequence_length("\xC1\xBF", 0), size_t(0));        // overlong
    CHECK_EQ(text::sequence_length("\xE0\xA0\x80", 0), size_t(3));
    CHECK_EQ(text::sequence_length("\xE0\x9F\xBF", 0), size_t(0));    // overlong
    CHECK_EQ(text::sequence_length("\xED\x9F\xBF", 0), size_t(3));    // U+D7FF
    CHECK_EQ(text::sequence_length("\xED\xA0\x80", 0), size_t(0));    // surrogate U+D800
    CHECK_EQ(text::sequence_length("\xF0\x90\x80\x80", 0), size_t(4));
    CHECK_EQ(text::sequence_length("\xF4\x8F\xBF\xBF", 0), size_t(4));  // U+10FFFF
    CHECK_EQ(text::sequence_length("\xF4\x90\x80\x80", 0), size_t(0));  // above U+10FFFF
    CHECK_EQ(text::sequence_length("\xF5\x80\x80\x80", 0), size_t(0));
    CHECK_EQ(text::sequence_length("\xE2\x80", 0), size_t(0));        // cut
    CHECK_EQ(text::maximal_subpart_length("\xE2\x80", 0), size_t(2));
    CHECK_EQ(text::maximal_subpart_length("\xE0\x80\x80", 0), size_t(1));  // E0 needs A0..BF next
    CHECK_EQ(text::maximal_subpart_length("\xF0\x9F\x98" "a", 0), size_t(3));
    CHECK_EQ(text::first_invalid("ok \xC3\xA9 \xE2\x80 x"), size_t(6));
    CHECK(text::is_valid_utf8("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"));
    CHECK_EQ(text::decode_at("\xF0\x9F\x98\x80", 0), char32_t(0x1F600));
    std::string s;
    text::append_utf8(s, 0x1F600);
    text::append_utf8(s, 0x5317);
    CHECK_EQ(s, std::string("\xF0\x9F\x98\x80\xE5\x8C\x97"));
    CHECK_EQ(text::hex("\xE2\x80\x0A"), std::string("e2800a"));
}

TEST(repair_by_hand) {
    // the ids <0xE2> <0x80> <0x0A>: sentencepiece gives two U+FFFD, Python one
    CHECK_EQ(text::repair("\xE2\x80\n", Repair::PerByte), kFFFD + kFFFD + "\n");
    CHECK_EQ(text::repair("\xE2\x80\n", Repair::MaximalSubpart), kFFFD + "\n");
    CHECK_EQ(text::repair("caf\xC3\xA9", Repair::PerByte), std::string("caf\xC3\xA9"));  // valid: unchanged
    CHECK_EQ(text::repair("\xE0\x80\x80"), kFFFD + kFFFD + kFFFD);
    CHECK_EQ(text::repair("a\xF0\x9F\x98" "b"), "a" + kFFFD + "b");
    CHECK_EQ(text::repair("a\xF0\x9F\x98" "b", Repair::PerByte), "a" + kFFFD + kFFFD + kFFFD + "b");
    CHECK_EQ(text::repair(std::string("\0\x80", 2)), std::string("\0", 1) + kFFFD);  // NUL is text
}

TEST(repair_equals_python_and_sentencepiece) {
    const auto& o = oracle();
    int bad_py = 0, bad_spm = 0;
    for (const auto& c : o.at("repair")) {
        ++d2m_test::checks();
        const std::string b = unhex(c.at("hex").get<std::string>());
        if (text::repair(b, Repair::MaximalSubpart) != c.at("text").get<std::string>() && ++bad_py <= 5) {
            d2m_test::fail(__FILE__, __LINE__, "maximal-subpart repair differs from Python on " + c.at("hex").get<std::string>());
        }
    }
    for (const auto& c : o.at("per_byte")) {
        ++d2m_test::checks();
        const std::string b = unhex(c.at("hex").get<std::string>());
        if (text::repair(b, Repair::PerByte) != c.at("text").get<std::string>() && ++bad_spm <= 5) {
            d2m_test::fail(__FILE__, __LINE__, "per-byte repair differs from sentencepiece on " + c.at("hex").get<std::string>());
        }
    }
    std::fprintf(stderr, "  %zu byte strings: %d differ from Python, %d from sentencepiece\n", o.at("repair").size(),
                 bad_py, bad_spm);
    CHECK(o.at("repair").size() > 2000);
    // the two rules really differ on these cases (the test can tell them apart)
    int differ = 0;
    for (const auto& c : o.at("repair")) {
        const std::string b = unhex(c.at("hex").get<std::string>());
        differ += text::repair(b, Repair::PerByte) != text::repair(b, Repair::MaximalSubpart);
    }
    CHECK(differ > 100);
}

TEST(graphemes_equal_regex_on_the_corpus) {
    const auto& g = oracle().at("graphemes");
    CHECK(g.size() >= 1000);
    int bad = 0;
    size_t clusters = 0, multi = 0;
    for (const auto& c : g) {
        const std::string t = c.at("text").get<std::string>();
        const auto want = c.at("breaks").get<std::vector<size_t>>();
        const auto got = text::grapheme_boundaries(t);
        ++d2m_test::checks();
        if (got != want && ++bad <= 5) d2m_test::fail(__FILE__, __LINE__, "grapheme boundaries differ on \"" + t + "\"");
        clusters += want.size() - 1;
        for (size_t k = 0; k + 1 < want.size(); ++k) {
            int cps = 0;
            for (size_t i = want[k]; i < want[k + 1]; ++i) cps += (static_cast<unsigned char>(t[i]) & 0xC0) != 0x80;
            multi += cps > 1;
        }
    }
    std::fprintf(stderr, "  %zu lines, %zu clusters (%zu of several code points): %d lines differ\n", g.size(),
                 clusters, multi, bad);
    CHECK(multi > 1000);  // the corpus really exercises multi-code-point clusters
}

TEST(grapheme_clusters_by_hand) {
    // family (ZWJ), skin tone, flag pair, e + combining acute, CR LF, Hangul jamo
    const std::string fam = "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
    const std::string thumbs = "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";
    const std::string flags = "\xF0\x9F\x87\xAC\xF0\x9F\x87\xB7\xF0\x9F\x87\xA8\xF0\x9F\x87\xB3";  // GR CN
    CHECK((text::grapheme_boundaries(fam) == std::vector<size_t>{0, fam.size()}));
    CHECK((text::grapheme_boundaries(thumbs) == std::vector<size_t>{0, 8}));
    CHECK((text::grapheme_boundaries(flags) == std::vector<size_t>{0, 8, 16}));
    CHECK((text::grapheme_boundaries("e\xCC\x81x") == std::vector<size_t>{0, 3, 4}));
    CHECK((text::grapheme_boundaries("a\r\nb") == std::vector<size_t>{0, 1, 3, 4}));
    CHECK((text::grapheme_boundaries("") == std::vector<size_t>{0}));
    CHECK_THROWS_WITH(text::grapheme_boundaries("\xE2\x80"), "valid UTF-8");
}

TEST(group_tokens_by_hand) {
    // 北京 as six byte-fallback tokens after BOS and "▁": two spans of three tokens
    auto spans = text::group_tokens(bytes_of({"", " ", "\xE5", "\x8C", "\x97", "\xE4", "\xBA", "\xAC"}));
    CHECK_EQ(spans.size(), size_t(4));
    CHECK(spans[0].first == 0 && spans[0].last == 1 && spans[0].bytes.empty());
    CHECK(spans[1].first == 1 && spans[1].last == 2 && spans[1].text == " ");
    CHECK(spans[2].first == 2 && spans[2].last == 5 && spans[2].text == "\xE5\x8C\x97" && spans[2].valid);
    CHECK(spans[3].first == 5 && spans[3].last == 8 && spans[3].text == "\xE4\xBA\xAC");
    // a combining mark in its own token joins the base's token (grapheme), not in Character mode
    auto g = text::group_tokens(bytes_of({"cafe", "\xCC\x81", "!"}));
    CHECK_EQ(g.size(), size_t(2));
    CHECK(g[0].first == 0 && g[0].last == 2 && g[0].text == "cafe\xCC\x81");
    CHECK_EQ(text::group_tokens(bytes_of({"cafe", "\xCC\x81", "!"}), text::Unit::Character).size(), size_t(3));
    // a ZWJ family split over tokens at code point boundaries is one span
    auto f = text::group_tokens(bytes_of({"\xF0\x9F\x91\xA9\xE2\x80\x8D", "\xF0\x9F\x91\xA9", "\xE2\x80\x8D\xF0\x9F", "\x91\xA7", " x"}));
    CHECK_EQ(f.size(), size_t(2));
    CHECK(f[0].last == 4);
    // a token that ends inside a character and never completes: per-byte units, each its own span
    auto bad = text::group_tokens(bytes_of({"a", "\xE2", "\x80", "\n"}), text::Unit::Grapheme, Repair::PerByte);
    CHECK_EQ(bad.size(), size_t(4));
    CHECK(!bad[1].valid && bad[1].text == kFFFD && bad[2].text == kFFFD);
    // ... and one maximal subpart under the Python/HF rule
    auto bad2 = text::group_tokens(bytes_of({"a", "\xE2", "\x80", "\n"}));
    CHECK_EQ(bad2.size(), size_t(3));
    CHECK(bad2[1].first == 1 && bad2[1].last == 3 && bad2[1].text == kFFFD && text::hex(bad2[1].bytes) == "e280");
    // an empty token inside a character stays inside its span
    auto inner = text::group_tokens(bytes_of({"\xE5", "", "\x8C\x97"}));
    CHECK_EQ(inner.size(), size_t(1));
    CHECK(text::group_tokens({}).empty());
}

TEST(group_tokens_concatenates_to_repair) {
    // random cuts of random byte strings: spans tile the tokens, their text concatenates to
    // repair(all), and a span boundary never cuts a character
    std::mt19937 rng(7);
    const char* pool[] = {"a", " ", "\xC3\xA9", "\xE5\x8C\x97", "\xF0\x9F\x91\xA9", "\xE2\x80\x8D", "\xCC\x81",
                          "\xF0\x9F\x87\xAC", "\xF0\x9F\x87\xB7", "\x80", "\xE2\x80", "\xFF", "\r", "\n"};
    for (int it = 0; it < 3000; ++it) {
        std::string all;
        for (int k = rng() % 12; k > 0; --k) all += pool[rng() % 14];
        std::vector<std::string> toks;
        for (size_t i = 0; i < all.size();) {
            const size_t n = 1 + rng() % 4;
            toks.push_back(all.substr(i, n));
            i += n;
        }
        for (Repair how : {Repair::PerByte, Repair::MaximalSubpart}) {
            auto spans = text::group_tokens(toks, text::Unit::Grapheme, how);
            std::string cat;
            size_t next = 0;
            bool ok = true;
            for (const auto& s : spans) {
                ok = ok && s.first == next && s.last > s.first && text::is_valid_utf8(s.text);
                cat += s.text;
                next = s.last;
            }
            ++d2m_test::checks();
            if (!ok || next != toks.size() || cat != text::repair(all, how)) {
                d2m_test::fail(__FILE__, __LINE__, "spans do not tile / concatenate for " + text::hex(all));
                return;
            }
        }
    }
}

TEST(utf8_stream_equals_repair) {
    std::mt19937 rng(11);
    for (int it = 0; it < 2000; ++it) {
        std::string all;
        for (int k = rng() % 16; k > 0; --k) {
            const char* pool[] = {"x", "\xE5\x8C\x97", "\xF0\x9F\x98\x80", "\xE2\x80", "\x80", "\xC3", "\n", "\xED\xA0\x80"};
            all += pool[rng() % 8];
        }
        for (Repair how : {Repair::PerByte, Repair::MaximalSubpart}) {
            text::Utf8Stream s(how);
            std::string out;
            for (size_t i = 0; i < all.size();) {
                const size_t n = 1 + rng() % 3;
                out += s.push(std::string_view(all).substr(i, n));
                ++d2m_test::checks();
                if (!text::is_valid_utf8(out)) d2m_test::fail(__FILE__, __LINE__, "stream printed invalid UTF-8");
                i += n;
            }
            out += s.finish();
            ++d2m_test::checks();
            if (out != text::repair(all, how)) {
                d2m_test::fail(__FILE__, __LINE__, "stream differs from repair on " + text::hex(all));
                return;
            }
        }
    }
    // a character split over tokens is printed once complete
    text::Utf8Stream s(Repair::PerByte);
    CHECK_EQ(s.push("\xE5"), std::string());
    CHECK_EQ(s.push("\x8C"), std::string());
    CHECK_EQ(s.push("\x97!"), std::string("\xE5\x8C\x97!"));
}

TEST(display_form) {
    CHECK_EQ(text::display("\xE5"), std::string("<0xE5>"));
    CHECK_EQ(text::display("\xE2\x80\n", Repair::PerByte), std::string("<0xE2><0x80>\\n"));
    CHECK_EQ(text::display("a\tb\r\n"), std::string("a\\tb\\r\\n"));
    CHECK_EQ(text::display("zero\xE2\x80\x8Bwidth"), std::string("zero<U+200B>width"));  // ZWSP
    CHECK_EQ(text::display("\xE2\x80\x8D"), std::string("<U+200D>"));                   // a lone ZWJ
    CHECK_EQ(text::display("\xE2\x80\xAE"), std::string("<U+202E>"));                   // RLO: never raw
    CHECK_EQ(text::display("\x1B[31m"), std::string("<U+001B>[31m"));
    CHECK_EQ(text::display("\xCC\x81"), std::string("\xE2\x97\x8C\xCC\x81"));           // ◌́
    // kept whole: emoji ZWJ sequence, a flag, combining sequences, RTL letters
    const std::string fam = "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
    CHECK_EQ(text::display(fam), fam);
    CHECK_EQ(text::display("e\xCC\x81"), std::string("e\xCC\x81"));
    CHECK_EQ(text::display("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D"), std::string("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D"));
    CHECK(text::is_valid_utf8(text::display("\xFF\xFE\xC0\xAF")));
}

TEST(terminal_widths) {
    CHECK_EQ(text::display_width("abc"), 3);
    CHECK_EQ(text::display_width("\xE5\x8C\x97\xE4\xBA\xAC"), 4);   // 北京
    CHECK_EQ(text::display_width("\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"), 2);
    CHECK_EQ(text::display_width("e\xCC\x81"), 1);
    CHECK_EQ(text::display_width("\xEF\xBC\xA1"), 2);               // full-width A
    CHECK_EQ(text::display_width("\xE2\x81\xA8"), 0);               // FSI
    CHECK_EQ(text::fit_width("ab", 4), std::string("ab  "));
    CHECK_EQ(text::fit_width("\xE5\x8C\x97\xE4\xBA\xAC\xE5\x8C\x97", 5), std::string("\xE5\x8C\x97\xE4\xBA\xAC\xE2\x80\xA6"));
    CHECK_EQ(text::display_width(text::fit_width("\xE5\x8C\x97\xE4\xBA\xAC\xE5\x8C\x97", 4)), 4);  // 北… + pad
    CHECK(text::has_rtl("x \xD7\xA9"));
    CHECK(!text::has_rtl("abc \xE5\x8C\x97"));
    CHECK_EQ(text::isolate_rtl("\xD7\xA9"), std::string("\xE2\x81\xA8\xD7\xA9\xE2\x81\xA9"));
}

TEST(csv_fields_and_table_cells) {
    CHECK_EQ(text::csv_field("wiki"), std::string("wiki"));
    CHECK_EQ(text::csv_field("a,b \"c\""), std::string("\"a,b \"\"c\"\"\""));
    CHECK_EQ(text::csv_field("caf\xE9"), "caf" + kFFFD);
    CHECK_EQ(text::pad_cell("\xE5\x8C\x97", 4), std::string("\xE5\x8C\x97  "));  // 2 cells + 2 spaces
    CHECK_EQ(text::pad_cell("toolong", 3), std::string("toolong"));
    CHECK_EQ(text::pad_cell("a\nb", 5), std::string("a\\nb "));
}

TEST(dump_json_never_throws_on_bytes) {
    nlohmann::json j = {{"piece", "\xE2\x80"}, {"ok", "caf\xC3\xA9"}, {"list", {"\xFF", 3}}};
    j["\xC3"] = "key";
    CHECK_THROWS_WITH(j.dump(), "316");  // what nlohmann does on its own
    const std::string out = den2moe::dump_json(j, 1);
    CHECK(text::is_valid_utf8(out));
    const auto back = nlohmann::json::parse(out);
    CHECK_EQ(back.at("piece").get<std::string>(), kFFFD);
    CHECK_EQ(back.at("ok").get<std::string>(), std::string("caf\xC3\xA9"));
    CHECK_EQ(back.at("list")[0].get<std::string>(), kFFFD);
    CHECK_EQ(back.at(kFFFD).get<std::string>(), std::string("key"));
    nlohmann::json fine = {{"a", 1}};
    CHECK_EQ(den2moe::dump_json(fine), fine.dump());
}

D2M_TEST_MAIN()
