// Corpus reading: jsonl / txt / csv, each optionally gzipped (zlib gzopen reads plain files too).
// A record's text is the text_template with {field} replaced by the record's field ("{{" / "}}" are
// literal braces); default: the "text" field (jsonl, csv) or the whole line (txt: one record per
// line, blank lines skipped). CSV is RFC 4180 (quoted fields may hold commas, "" and newlines) with a
// header row naming the fields. Records with empty text are skipped; none at all is "empty corpus".
// Every error names the file and, where there is one, the 1-based line. Text policy: corpora are
// UTF-8 (a UTF-8 BOM is skipped); a file with bytes that are not valid UTF-8 (Latin-1, UTF-16, a
// cut multi-byte character) is an error naming the file, line, column and bytes, never silently
// replaced, so statistics and perplexities are always computed on the text the user meant.
#include "data/corpus.h"

#include "core/error.h"
#include "core/text.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

namespace den2moe {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string format_from_extension(const std::string& path) {
    std::string p = path;
    if (ends_with(p, ".gz")) p.resize(p.size() - 3);
    if (ends_with(p, ".jsonl") || ends_with(p, ".json") || ends_with(p, ".ndjson")) return "jsonl";
    if (ends_with(p, ".txt") || ends_with(p, ".text")) return "txt";
    if (ends_with(p, ".csv")) return "csv";
    D2M_FAIL(InvalidInput, "cannot tell the corpus format of ", path,
             ": expected .jsonl, .txt or .csv (optionally .gz)",
             Hint{"set the corpus format explicitly (jsonl, txt or csv)"});
}

/// "{question}\n{answer}" -> literal and field segments.
struct Template {
    struct Segment {
        bool is_field;
        std::string text;  // literal text or field name
    };
    std::vector<Segment> segments;
    std::vector<std::string> fields;

    static Template parse(const std::string& t) {
        Template out;
        std::string lit;
        for (size_t i = 0; i < t.size(); ++i) {
            char c = t[i];
            if (c == '{' && i + 1 < t.size() && t[i + 1] == '{') {
                lit.push_back('{');
                ++i;
            } else if (c == '}' && i + 1 < t.size() && t[i + 1] == '}') {
                lit.push_back('}');
                ++i;
            } else if (c == '{') {
                size_t close = t.find('}', i + 1);
                D2M_CHECK(close != std::string::npos, InvalidInput, "text template \"", t,
                          "\" has an unclosed '{' at position ", i,
                          Hint{"write {field} for a field and {{ for a literal brace"});
                std::string name = t.substr(i + 1, close - i - 1);
                D2M_CHECK(!name.empty() && name.find('{') == std::string::npos, InvalidInput,
                          "text template \"", t, "\" has an invalid field at position ", i);
                if (!lit.empty()) out.segments.push_back({false, std::move(lit)});
                lit.clear();
                out.segments.push_back({true, name});
                if (std::find(out.fields.begin(), out.fields.end(), name) == out.fields.end()) {
                    out.fields.push_back(name);
                }
                i = close;
            } else {
                lit.push_back(c);
            }
        }
        if (!lit.empty()) out.segments.push_back({false, std::move(lit)});
        return out;
    }

    /// `get(field)` returns the field's text; the template has been validated against the fields.
    template <typename Get>
    std::string render(Get&& get) const {
        std::string out;
        for (const auto& s : segments) out += s.is_field ? get(s.text) : s.text;
        return out;
    }
};

std::string join(const std::vector<std::string>& v, size_t max_items = 12) {
    std::string out;
    for (size_t i = 0; i < v.size() && i < max_items; ++i) out += (i ? ", " : "") + v[i];
    if (v.size() > max_items) out += ", ...";
    return out;
}

/// Calls fn(line_no, line) for every line (1-based, "\r" of CRLF removed).
template <typename Fn>
void for_each_line(const std::string& data, Fn&& fn) {
    size_t pos = 0;
    int64_t line_no = 0;
    while (pos < data.size()) {
        size_t nl = data.find('\n', pos);
        size_t end = nl == std::string::npos ? data.size() : nl;
        ++line_no;
        std::string_view line(data.data() + pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!fn(line_no, line)) return;
        pos = end + 1;
    }
}

bool is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

/// Throws Error(InvalidInput) naming the file, the 1-based line and byte column, the bad bytes and
/// the text before them when `data` (one whole file, BOM removed) is not valid UTF-8.
void check_utf8(const std::string& path, const std::string& data) {
    if (data.size() >= 2 && ((data[0] == '\xFF' && data[1] == '\xFE') || (data[0] == '\xFE' && data[1] == '\xFF'))) {
        D2M_FAIL(InvalidInput, path, " is UTF-16 (it starts with the byte-order mark ", text::hex(data.substr(0, 2)),
                 "); corpora are read as UTF-8",
                 Hint{"convert it: iconv -f UTF-16 -t UTF-8 " + path + " > out.txt"});
    }
    const size_t bad = text::first_invalid(data);
    if (bad == std::string::npos) return;
    const size_t line_start = bad == 0 ? 0 : data.rfind('\n', bad - 1) + 1;  // npos + 1 == 0
    const int64_t line_no = 1 + std::count(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(line_start), '\n');
    const size_t n_bad = text::maximal_subpart_length(data, bad);
    const size_t ctx = std::min<size_t>(bad - line_start, 40);
    std::string before = data.substr(bad - ctx, ctx);
    while (!before.empty() && !text::is_valid_utf8(before)) before.erase(0, 1);  // cut at a character
    D2M_FAIL(InvalidInput, "invalid UTF-8 on line ", line_no, " of ", path, " at byte ", bad - line_start + 1,
             " of the line: bytes ", text::hex(data.substr(bad, std::max<size_t>(n_bad, 1))), " after \"",
             text::display(before), "\"; corpora are read as UTF-8",
             Hint{"is the file Latin-1 or another legacy encoding? convert it (iconv -f latin1 -t utf-8 " + path +
                  " > out.txt), or drop the bad bytes (iconv -c -f utf-8 -t utf-8)"});
}

std::string json_field_text(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return {};
    return v.dump();  // numbers, booleans, arrays, objects: their JSON text
}

class Reader {
public:
    Reader(const CorpusSpec& spec, std::vector<std::string>& out)
        : spec_(spec), out_(out), tmpl_(Template::parse(spec.text_template)) {}

    bool full() const { return spec_.max_records > 0 && static_cast<int64_t>(out_.size()) >= spec_.max_records; }

    void add(std::string text) {
        if (!text.empty()) out_.push_back(std::move(text));
    }

    void read_jsonl(const std::string& path, const std::string& data) {
        const bool default_field = spec_.text_template.empty();
        for_each_line(data, [&](int64_t line_no, std::string_view line) {
            if (full()) return false;
            if (is_blank(line)) return true;
            nlohmann::json rec;
            try {
                rec = nlohmann::json::parse(line.begin(), line.end());
            } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range 406 (a number overflows)
                D2M_FAIL(InvalidInput, "invalid JSON on line ", line_no, " of ", path, ": ", e.what());
            }
            D2M_CHECK(rec.is_object(), InvalidInput, "line ", line_no, " of ", path,
                      " is not a JSON object (found ", rec.type_name(), ")",
                      Hint{"jsonl corpora hold one {\"field\": ...} object per line"});
            auto get = [&](const std::string& field) -> std::string {
                auto it = rec.find(field);
                if (it == rec.end()) {
                    std::vector<std::string> keys;
                    for (auto k = rec.begin(); k != rec.end(); ++k) keys.push_back(k.key());
                    D2M_FAIL(InvalidInput, "missing field \"", field, "\" on line ", line_no, " of ",
                             path, " (fields: ", join(keys), ")",
                             Hint{default_field ? "set a text template such as \"{question}\\n{answer}\""
                                                : "check the text template's field names"});
                }
                return json_field_text(*it);
            };
            add(default_field ? get("text") : tmpl_.render(get));
            return true;
        });
    }

    void read_txt(const std::string& path, const std::string& data) {
        for (const auto& f : tmpl_.fields) {
            D2M_CHECK(f == "text", InvalidInput, "text template field \"", f, "\" does not exist in ",
                      path, ": a txt record has only {text} (the line)");
        }
        for_each_line(data, [&](int64_t, std::string_view line) {
            if (full()) return false;
            if (line.empty() || is_blank(line)) return true;
            std::string text(line);
            add(spec_.text_template.empty() ? text
                                            : tmpl_.render([&](const std::string&) { return text; }));
            return true;
        });
    }

    void read_csv(const std::string& path, const std::string& data) {
        std::vector<std::string> header;
        std::map<std::string, size_t> column;
        std::vector<std::string> wanted = tmpl_.fields;
        if (spec_.text_template.empty()) wanted = {"text"};
        parse_csv(path, data, [&](int64_t line_no, std::vector<std::string>& row) {
            if (header.empty()) {
                header = row;
                for (size_t i = 0; i < header.size(); ++i) column.emplace(header[i], i);
                for (const auto& f : wanted) {
                    D2M_CHECK(column.count(f), InvalidInput, "missing field \"", f,
                              "\": the CSV header on line ", line_no, " of ", path,
                              " has the columns ", join(header),
                              Hint{spec_.text_template.empty()
                                       ? "set a text template such as \"{question}\\n{answer}\""
                                       : "check the text template's field names"});
                }
                return true;
            }
            if (full()) return false;
            if (row.size() == 1 && row[0].empty()) return true;  // blank line
            D2M_CHECK(row.size() == header.size(), InvalidInput, "the CSV record on line ", line_no,
                      " of ", path, " has ", row.size(), " fields; the header has ", header.size(),
                      Hint{"fields holding commas, quotes or newlines must be quoted (\"a, b\")"});
            auto get = [&](const std::string& f) { return row[column.at(f)]; };
            add(spec_.text_template.empty() ? get("text") : tmpl_.render(get));
            return true;
        });
        D2M_CHECK(!header.empty(), InvalidInput, "CSV file ", path, " has no header row",
                  Hint{"the first row must name the columns, e.g. text or question,answer"});
    }

private:
    const CorpusSpec& spec_;
    std::vector<std::string>& out_;
    Template tmpl_;
};

}  // namespace

void parse_csv(const std::string& path, const std::string& s, const CsvRowFn& row_fn) {
    std::vector<std::string> row;
    std::string field;
    int64_t line = 1, record_line = 1, quote_line = 0;
    size_t i = 0;
    const size_t n = s.size();
    bool pending = false;  // a record has started (so EOF ends it)
    while (i < n) {
        char c = s[i];
        if (c == '"' && field.empty()) {
            // quoted field: runs to the closing quote; "" is a literal quote
            pending = true;
            quote_line = line;
            ++i;
            bool closed = false;
            while (i < n) {
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        field.push_back('"');
                        i += 2;
                        continue;
                    }
                    ++i;
                    closed = true;
                    break;
                }
                if (s[i] == '\n') ++line;
                field.push_back(s[i++]);
            }
            D2M_CHECK(closed, InvalidInput, "unterminated quoted field starting on line ",
                      quote_line, " of ", path, Hint{"a quote inside a quoted field is written \"\""});
            D2M_CHECK(i >= n || s[i] == ',' || s[i] == '\n' || s[i] == '\r', InvalidInput,
                      "unexpected character after a closing quote on line ", line, " of ", path,
                      Hint{"a quote inside a quoted field is written \"\""});
            continue;
        }
        if (c == ',') {
            row.push_back(std::move(field));
            field.clear();
            pending = true;
            ++i;
            continue;
        }
        if (c == '\n' || (c == '\r' && i + 1 < n && s[i + 1] == '\n')) {
            row.push_back(std::move(field));
            field.clear();
            if (!row_fn(record_line, row)) return;
            row.clear();
            pending = false;
            i += c == '\r' ? 2 : 1;
            ++line;
            record_line = line;
            continue;
        }
        field.push_back(c);
        pending = true;
        ++i;
    }
    if (pending || !field.empty()) {
        row.push_back(std::move(field));
        row_fn(record_line, row);
    }
}

std::string read_file_maybe_gz(const std::string& path) {
    struct stat st {};
    D2M_CHECK(::stat(path.c_str(), &st) == 0, InvalidInput, "file not found: ", path);
    D2M_CHECK(!S_ISDIR(st.st_mode), InvalidInput, path, " is a directory, not a file");
    // gzopen reads plain (non-gzip) files transparently, so one path serves both
    gzFile f = ::gzopen(path.c_str(), "rb");
    D2M_CHECK(f != nullptr, InvalidInput, "cannot open ", path, ": ", std::strerror(errno));
    // buffers sized to the file (4 KiB .. 128 KiB): a fixed 128 KiB read buffer plus zlib's 3 x 128 KiB cost
    // four large allocations (mmap + page faults) per small file (mining.json, a task file; fuzz_mining)
    const unsigned chunk = static_cast<unsigned>(std::clamp<off_t>(st.st_size, 4096, 1 << 17));
    ::gzbuffer(f, chunk);
    std::string out;
    out.reserve(static_cast<size_t>(st.st_size));
    std::vector<char> buf(chunk);
    while (true) {
        int got = ::gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
        if (got > 0) {
            out.append(buf.data(), static_cast<size_t>(got));
            continue;
        }
        int errnum = Z_OK;
        const char* msg = ::gzerror(f, &errnum);
        if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
            std::string why = msg ? msg : "read error";
            ::gzclose(f);
            D2M_FAIL(InvalidInput, "cannot read ", path, ": ", why,
                     Hint{"the file may be truncated or not valid gzip"});
        }
        break;
    }
    ::gzclose(f);
    return out;
}

std::vector<std::string> read_records(const CorpusSpec& spec) {
    D2M_CHECK(!spec.files.empty(), InvalidInput, "no corpus files given");
    std::vector<std::string> records;
    Reader reader(spec, records);
    for (const auto& path : spec.files) {
        if (reader.full()) break;
        const std::string format = spec.format.empty() ? format_from_extension(path) : spec.format;
        std::string data = read_file_maybe_gz(path);
        if (data.size() >= 3 && std::memcmp(data.data(), "\xEF\xBB\xBF", 3) == 0) data.erase(0, 3);
        check_utf8(path, data);
        if (format == "jsonl") {
            reader.read_jsonl(path, data);
        } else if (format == "txt") {
            reader.read_txt(path, data);
        } else if (format == "csv") {
            reader.read_csv(path, data);
        } else {
            D2M_FAIL(InvalidInput, "unknown corpus format \"", format, "\" for ", path,
                     Hint{"use jsonl, txt or csv"});
        }
    }
    D2M_CHECK(!records.empty(), InvalidInput, "empty corpus: no record with text in ",
              join(spec.files),
              Hint{"check the text template and that the files are not empty"});
    return records;
}

std::vector<std::string> read_records(const std::string& path) {
    CorpusSpec spec;
    spec.files = {path};
    return read_records(spec);
}

std::vector<int> tokenize_stream(const Tokenizer& tok, const std::vector<std::string>& records,
                                 int64_t max_tokens) {
    std::vector<int> ids;
    for (const auto& text : records) {
        // BOS text EOS per record, as recipes/pretrain_demo.py builds its streams
        std::vector<int> r = tok.encode(text, true, true);
        ids.insert(ids.end(), r.begin(), r.end());
        if (max_tokens > 0 && static_cast<int64_t>(ids.size()) >= max_tokens) {
            ids.resize(static_cast<size_t>(max_tokens));
            break;
        }
    }
    return ids;
}

}  // namespace den2moe
