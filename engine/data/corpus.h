// Text corpora: read jsonl / jsonl.gz / txt / txt.gz / csv(.gz) into records, tokenise them as
// "BOS text EOS" and concatenate into one token stream.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace den2moe {

class Tokenizer;

struct CorpusSpec {
    std::vector<std::string> files;
    std::string format;        ///< "jsonl", "txt", "csv"; "" = from the file extension
    std::string text_template; ///< e.g. "{question}\n{answer}"; "" = the "text" field (jsonl) / whole line (txt)
    int64_t max_records = 0;   ///< 0 = all
};

/// Read every record's text. Throws Error(InvalidInput) naming the file when it is missing,
/// unreadable, not valid UTF-8 (line, column and bytes named; UTF-16 recognised by its BOM), not
/// valid JSON on line N, lacks a field, or holds no text at all ("empty corpus").
std::vector<std::string> read_records(const CorpusSpec& spec);
/// Convenience: one file, format from its extension.
std::vector<std::string> read_records(const std::string& path);

/// RFC 4180 CSV: calls row_fn(line where the record starts, fields) per record (quoted fields may hold
/// commas, "" and newlines); stops when it returns false. Errors name `path` and the line.
using CsvRowFn = std::function<bool(int64_t line, std::vector<std::string>& row)>;
void parse_csv(const std::string& path, const std::string& data, const CsvRowFn& row_fn);

/// Read a whole file, transparently gunzipping *.gz.
std::string read_file_maybe_gz(const std::string& path);

/// Records -> one stream: BOS ids(text) EOS, concatenated; stops once `max_tokens` (>0) is reached.
std::vector<int> tokenize_stream(const Tokenizer& tok, const std::vector<std::string>& records,
                                 int64_t max_tokens = 0);

}  // namespace den2moe
