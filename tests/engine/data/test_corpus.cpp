// Corpus reading: the shared gsm8k jsonl.gz (1319 records), text templates over JSON fields and
// CSV columns, RFC 4180 CSV quoting, txt lines, gzip, and error messages naming file + line; then
// tokenize_stream's BOS text EOS layout and max_tokens truncation with the demo tokenizer; files that
// are not valid UTF-8 (Latin-1, a cut character, UTF-16) are errors naming file, line and bytes.
#include "data/corpus.h"

#include "core/error.h"
#include "support/check.h"
#include "tokenizer/tokenizer.h"

#include <zlib.h>

#include <fstream>

using den2moe::CorpusSpec;
using den2moe::read_records;

namespace {

std::string write_file(const std::string& name, const std::string& content) {
    std::string p = d2m_test::tmp_dir() + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
}

std::string write_gz(const std::string& name, const std::string& content) {
    std::string p = d2m_test::tmp_dir() + "/" + name;
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
    gzclose(f);
    return p;
}

std::string gsm8k() { return d2m_test::shared_dir() + "/data/domains/gsm8k/test.jsonl.gz"; }
std::string demo_model() { return d2m_test::shared_dir() + "/models/demo-llama-7m/tokenizer.model"; }

}  // namespace

TEST(gsm8k_jsonl_gz) {
    auto recs = read_records(gsm8k());
    CHECK_EQ(recs.size(), size_t{1319});
    CHECK(recs[0].rfind("Janet\xE2\x80\x99s ducks lay 16 eggs per day.", 0) == 0);
    CHECK(recs[0].find("\n#### 18") != std::string::npos);
    CorpusSpec spec;
    spec.files = {gsm8k()};
    spec.max_records = 10;
    CHECK_EQ(read_records(spec).size(), size_t{10});
    // whole file, gunzipped
    std::string raw = den2moe::read_file_maybe_gz(gsm8k());
    CHECK(raw.rfind("{\"text\": ", 0) == 0);
}

TEST(template_two_fields) {
    std::string p = write_file("qa.jsonl",
                               "{\"question\": \"What is 2+2?\", \"answer\": \"4\", \"id\": 7}\n"
                               "\n"
                               "{\"question\": \"Capital of France?\", \"answer\": \"Paris\", \"id\": 8}\r\n");
    CorpusSpec spec;
    spec.files = {p};
    spec.text_template = "Q: {question}\nA: {answer} ({id}) {{x}}";
    auto recs = read_records(spec);
    CHECK_EQ(recs.size(), size_t{2});
    CHECK_EQ(recs[0], std::string("Q: What is 2+2?\nA: 4 (7) {x}"));
    CHECK_EQ(recs[1], std::string("Q: Capital of France?\nA: Paris (8) {x}"));
    // the same through gzip, two files concatenated, max_records across files
    std::string gz = write_gz("qa2.jsonl.gz", "{\"question\": \"q\", \"answer\": \"a\", \"id\": 1}\n");
    spec.files = {p, gz};
    spec.text_template = "{question}\n{answer}";
    recs = read_records(spec);
    CHECK_EQ(recs.size(), size_t{3});
    CHECK_EQ(recs[2], std::string("q\na"));
    spec.max_records = 2;
    CHECK_EQ(read_records(spec).size(), size_t{2});
}

TEST(csv_rfc4180) {
    std::string p = write_file("t.csv",
                               "question,answer,note\r\n"
                               "\"Hello, world\",\"She said \"\"hi\"\"\",plain\r\n"
                               "\"multi\nline\",x,\"\"\n"
                               "simple,\"a,b,c\",\n"
                               "last,row,no newline");
    CorpusSpec spec;
    spec.files = {p};
    spec.text_template = "{question}|{answer}|{note}";
    auto recs = read_records(spec);
    CHECK_EQ(recs.size(), size_t{4});
    CHECK_EQ(recs[0], std::string("Hello, world|She said \"hi\"|plain"));
    CHECK_EQ(recs[1], std::string("multi\nline|x|"));
    CHECK_EQ(recs[2], std::string("simple|a,b,c|"));
    CHECK_EQ(recs[3], std::string("last|row|no newline"));
    // default: the "text" column; gzipped CSV
    std::string gz = write_gz("t2.csv.gz", "id,text\n1,\"first, with comma\"\n2,second\n");
    recs = read_records(gz);
    CHECK_EQ(recs.size(), size_t{2});
    CHECK_EQ(recs[0], std::string("first, with comma"));
    // errors: missing column, wrong field count, unterminated quote (line of the record start)
    spec.text_template = "{question} {missing}";
    CHECK_THROWS_WITH(read_records(spec), "missing field \"missing\"");
    std::string bad = write_file("bad.csv", "a,b\n1,2\n1,2,3\n");
    spec.files = {bad};
    spec.text_template = "{a}";
    CHECK_THROWS_WITH(read_records(spec), "line 3 of " + bad + " has 3 fields");
    std::string unterminated = write_file("u.csv", "text\nok\n\"never closed\nmore\n");
    CHECK_THROWS_WITH(read_records(unterminated), "unterminated quoted field starting on line 3");
}

TEST(txt_lines) {
    std::string p = write_file("t.txt", "first line\n\n   \nsecond line\r\nthird");
    auto recs = read_records(p);
    CHECK_EQ(recs.size(), size_t{3});
    CHECK_EQ(recs[0], std::string("first line"));
    CHECK_EQ(recs[1], std::string("second line"));
    CHECK_EQ(recs[2], std::string("third"));
    std::string gz = write_gz("t.txt.gz", "\xEF\xBB\xBFgz line\n");  // UTF-8 BOM dropped
    CHECK_EQ(read_records(gz).at(0), std::string("gz line"));
    CorpusSpec spec;
    spec.files = {p};
    spec.text_template = "> {text}";
    CHECK_EQ(read_records(spec).at(1), std::string("> second line"));
    spec.text_template = "{question}";
    CHECK_THROWS_WITH(read_records(spec), "field \"question\" does not exist");
}

TEST(error_messages) {
    const std::string missing = d2m_test::tmp_dir() + "/missing.jsonl";
    CHECK_THROWS_WITH(read_records(missing), "file not found: " + missing);
    std::string bad = write_file("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"ok\"}\n{\"text\": oops}\n");
    CHECK_THROWS_WITH(read_records(bad), "invalid JSON on line 3 of " + bad);
    std::string nofield = write_file("nofield.jsonl", "{\"text\": \"a\"}\n{\"body\": \"b\"}\n");
    CHECK_THROWS_WITH(read_records(nofield), "missing field \"text\" on line 2 of " + nofield);
    CorpusSpec spec;
    spec.files = {nofield};
    spec.text_template = "{text} {answer}";
    CHECK_THROWS_WITH(read_records(spec), "missing field \"answer\" on line 1");
    std::string notobj = write_file("arr.jsonl", "[1, 2]\n");
    CHECK_THROWS_WITH(read_records(notobj), "line 1 of " + notobj + " is not a JSON object");
    std::string empty = write_file("empty.jsonl", "\n{\"text\": \"\"}\n");
    CHECK_THROWS_WITH(read_records(empty), "empty corpus");
    CHECK_THROWS_WITH(read_records(write_file("blank.txt", "\n \n")), "empty corpus");
    CHECK_THROWS_WITH(read_records(write_file("x.parquet", "")), "cannot tell the corpus format");
    std::string trunc = d2m_test::tmp_dir() + "/trunc.jsonl.gz";
    {
        std::string whole = den2moe::read_file_maybe_gz(gsm8k());
        std::ifstream in(gsm8k(), std::ios::binary);
        std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream(trunc, std::ios::binary) << gz.substr(0, gz.size() / 2);
    }
    CHECK_THROWS_WITH(read_records(trunc), "cannot read " + trunc);
    spec.text_template = "{unclosed";
    CHECK_THROWS_WITH(read_records(spec), "unclosed '{'");
    CHECK_THROWS_WITH(read_records(CorpusSpec{}), "no corpus files");
}

TEST(invalid_utf8_is_an_error_naming_file_line_and_bytes) {
    // Latin-1 "café" on line 3 of a txt file: an error, never a silent replacement
    const std::string txt = write_file("latin1.txt", "first line\nsecond \xC3\xA9 line\ncaf\xE9 au lait\n");
    CHECK_THROWS_WITH(read_records(txt), "invalid UTF-8 on line 3 of " + txt + " at byte 4 of the line: bytes e9");
    CHECK_THROWS_WITH(read_records(txt), "after \"caf\"");
    CHECK_THROWS_WITH(read_records(txt), "iconv -f latin1");
    try {
        read_records(txt);
    } catch (const den2moe::Error& e) {
        CHECK(e.kind() == den2moe::ErrorKind::InvalidInput);  // a user error: exit 1, never 2
    }
    // a character cut in a gzipped jsonl (the JSON parser would only say "ill-formed")
    const std::string gz = write_gz("cut.jsonl.gz", "{\"text\": \"ok\"}\n{\"text\": \"\xE5\x8C\x97\xE4\xBA\"}\n");
    CHECK_THROWS_WITH(read_records(gz), "invalid UTF-8 on line 2 of " + gz + " at byte 14 of the line: bytes e4ba");
    // a CSV field over two lines: the physical line is named
    const std::string csv = write_file("bad.csv", "text,id\n\"two\nlines \xFF\",1\n");
    CHECK_THROWS_WITH(read_records(csv), "invalid UTF-8 on line 3 of " + csv);
    // UTF-16 is recognised by its byte-order mark
    const std::string u16 = write_file("u16.txt", std::string("\xFF\xFEh\0i\0", 6));
    CHECK_THROWS_WITH(read_records(u16), "is UTF-16");
    CHECK_THROWS_WITH(read_records(u16), "iconv -f UTF-16 -t UTF-8");
    // valid text of every kind reads back unchanged: the multilingual test corpus (UTF-8 BOM skipped)
    const std::string ml = d2m_test::source_dir() + "/tests/data/multilingual.jsonl";
    auto recs = read_records(ml);
    CHECK(recs.size() >= 1000);
    CHECK_EQ(recs[0], std::string("\xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC \xCE\xB3\xCF\x81\xCE\xAC\xCE\xBC\xCE\xBC\xCE\xB1\xCF\x84\xCE\xB1"));
    bool nul = false;
    for (const auto& r : recs) nul |= r.find('\0') != std::string::npos;
    CHECK(nul);  // a NUL inside a JSON string is text, kept
    CHECK_EQ(read_records(write_file("bom.txt", "\xEF\xBB\xBF" "caf\xC3\xA9\n"))[0], std::string("caf\xC3\xA9"));
}

TEST(tokenize_stream_layout) {
    auto tok = den2moe::Tokenizer::load(demo_model());
    std::vector<std::string> recs = {"Once upon a time", "The end."};
    const auto a = tok->encode(recs[0], false, false);
    const auto b = tok->encode(recs[1], false, false);
    std::vector<int> want = {1};
    want.insert(want.end(), a.begin(), a.end());
    want.push_back(2);
    want.push_back(1);
    want.insert(want.end(), b.begin(), b.end());
    want.push_back(2);
    auto ids = den2moe::tokenize_stream(*tok, recs);
    CHECK(ids == want);
    CHECK_EQ(ids.front(), 1);
    CHECK_EQ(ids.back(), 2);
    // truncation to exactly max_tokens, mid-record
    auto cut = den2moe::tokenize_stream(*tok, recs, static_cast<int64_t>(a.size() + 4));
    CHECK_EQ(cut.size(), a.size() + 4);
    CHECK(std::equal(cut.begin(), cut.end(), want.begin()));
    // limit larger than the stream: everything
    CHECK_EQ(den2moe::tokenize_stream(*tok, recs, 100000).size(), want.size());
    // gsm8k with a budget stops early and exactly at the budget
    auto g = den2moe::tokenize_stream(*tok, read_records(gsm8k()), 5000);
    CHECK_EQ(g.size(), size_t{5000});
    CHECK_EQ(g[0], 1);
}

D2M_TEST_MAIN()
