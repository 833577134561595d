// Byte-level BPE (GPT-2, Qwen2/2.5/3) from vocab.json + merges.txt (+ added_tokens.json, tokenizer_config.json)
// or tokenizer.json. encode = HF tokenizers' encode(add_special_tokens=False): added tokens split out of the raw
// text (leftmost, longest), then per stretch NFC (ICU Normalizer2), the pre-tokenizer regex (ICU, matches and gaps
// kept), GPT-2's byte->unicode map and merges by rank (heap, leftmost on ties, words cached). decode = the pieces'
// bytes without special tokens; decode_text repairs per maximal subpart (from_utf8_lossy). Bad files throw
// InvalidInput naming the file and line.
#include "tokenizer/tokenizer.h"

#include "core/error.h"

#include <nlohmann/json.hpp>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <map>
#include <fstream>
#include <memory>
#include <mutex>
#include <queue>
#include <sstream>
#include <sys/stat.h>
#include <unordered_map>

namespace den2moe {
namespace {

using nlohmann::json;

// Qwen2's pre-tokenizer (its tokenizer.json Split pattern) and GPT-2's (ByteLevel use_regex=true).
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

bool is_file(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot open ", path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Parses JSON; a syntax error names the file and the line.
json parse_json_file(const std::string& path) {
    const std::string s = read_text(path);
    try {
        return json::parse(s);
    } catch (const json::parse_error& e) {
        const size_t at = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, s.size());
        const long line = 1 + std::count(s.begin(), s.begin() + static_cast<long>(at), '\n');
        D2M_FAIL(InvalidInput, "bad JSON in ", path, " line ", line, ": ", e.what(),
                 Hint{"restore the file from the model's original repository"});
    } catch (const json::exception& e) {  // out_of_range 406: a number overflows while parsing
        D2M_FAIL(InvalidInput, "bad JSON in ", path, ": ", e.what(),
                 Hint{"restore the file from the model's original repository"});
    }
}

/// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 to U+0100.. in order.
std::array<char32_t, 256> bytes_to_unicode() {
    std::array<char32_t, 256> m{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        m[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return m;
}

/// ICU's \s is [\t\n\f\r\p{Z}] (no U+000B, U+0085); Oniguruma (HF tokenizers) and Python's regex use the
/// Unicode White_Space property, so \s and \S are spelled out as that property.
std::string icu_pattern(const std::string& pat) {
    std::string out;
    for (size_t i = 0; i < pat.size(); ++i) {
        if (pat[i] == '\\' && i + 1 < pat.size()) {
            const char c = pat[i + 1];
            if (c == 's') out += "\\p{White_Space}";
            else if (c == 'S') out += "\\P{White_Space}";
            else out.append(pat, i, 2);
            ++i;
        } else {
            out.push_back(pat[i]);
        }
    }
    return out;
}

struct AddedToken {
    std::string content;
    int id = -1;
    bool special = false;
};

/// Everything read from the files, before the tables are built.
struct BpeSpec {
    std::string source;       ///< the folder or tokenizer.json (errors, info)
    std::string vocab_file;   ///< for error messages
    std::string merges_file;
    json vocab;               ///< piece -> id
    std::vector<std::pair<std::string, std::string>> merges;
    std::vector<long> merge_lines;  ///< line (merges.txt) or index (tokenizer.json) of each merge
    std::vector<AddedToken> added;
    std::string pattern;      ///< pre-tokenizer regex
    bool nfc = false;
    bool ignore_merges = false;
    std::string bos, eos;     ///< token contents ("" = none)
};

class BpeTokenizer final : public Tokenizer {
public:
    explicit BpeTokenizer(const BpeSpec& spec) : source_(spec.source) {
        const auto b2u = bytes_to_unicode();
        for (int b = 0; b < 256; ++b) {
            std::string u;
            text::append_utf8(u, b2u[b]);
            u2b_[u] = static_cast<char>(b);
        }
        // vocabulary: piece (byte-level unicode form) -> id
        D2M_CHECK(spec.vocab.is_object(), InvalidInput, spec.vocab_file, ": the vocabulary is not a JSON object");
        int n = 0;
        for (auto it = spec.vocab.begin(); it != spec.vocab.end(); ++it) {
            D2M_CHECK(it.value().is_number_integer() && it.value().get<long long>() >= 0 &&
                          it.value().get<long long>() < (1 << 30),
                      InvalidInput, spec.vocab_file, ": the id of piece \"", it.key(), "\" is not an id: ",
                      it.value().dump());
            n = std::max(n, it.value().get<int>() + 1);
        }
        for (const AddedToken& a : spec.added) n = std::max(n, a.id + 1);
        // ids index tables of n entries: a sparse file (one id of 555,555,158 among 600 pieces, found by
        // fuzzing) must not allocate gigabytes; real vocabularies are dense (gaps, if any, are few)
        const long long n_pieces = static_cast<long long>(spec.vocab.size() + spec.added.size());
        D2M_CHECK(n <= 2 * n_pieces + 1024, InvalidInput, spec.vocab_file, ": ids go up to ", n - 1, " for ",
                  n_pieces, " pieces", Hint{"a tokenizer's ids are 0 .. size-1 with few gaps; is the file damaged?"});
        pieces_.assign(n, std::string());
        bytes_.assign(n, std::string());
        special_.assign(n, 0);
        std::vector<char> seen(n, 0);
        for (auto it = spec.vocab.begin(); it != spec.vocab.end(); ++it) {
            const int id = it.value().get<int>();
            D2M_CHECK(!seen[id], InvalidInput, spec.vocab_file, ": id ", id, " is given to two pieces, \"",
                      pieces_[id], "\" and \"", it.key(), "\"");
            seen[id] = 1;
            pieces_[id] = it.key();
            bytes_[id] = piece_bytes(it.key(), spec.vocab_file);
            vocab_.emplace(it.key(), id);
        }
        for (int b = 0; b < 256; ++b) {
            std::string u;
            text::append_utf8(u, b2u[b]);
            auto it = vocab_.find(u);
            D2M_CHECK(it != vocab_.end(), InvalidInput, spec.vocab_file, ": no piece for the byte 0x", text::hex(std::string(1, (char)b)),
                      " (\"", u, "\"); a byte-level BPE vocabulary holds all 256",
                      Hint{"this is not a byte-level BPE vocabulary"});
            byte_id_[b] = it->second;
        }
        // merges: (left id, right id) -> (rank, merged id)
        merges_.reserve(spec.merges.size() * 2);
        for (size_t r = 0; r < spec.merges.size(); ++r) {
            const auto& [a, b] = spec.merges[r];
            const int ia = piece_id(a), ib = piece_id(b), im = piece_id(a + b);
            D2M_CHECK(ia >= 0 && ib >= 0 && im >= 0, InvalidInput, spec.merges_file, " line ", spec.merge_lines[r],
                      ": merge \"", a, " ", b, "\" names a piece that is not in ", spec.vocab_file, " (\"",
                      ia < 0 ? a : ib < 0 ? b : a + b, "\")",
                      Hint{"vocab.json and merges.txt must come from the same tokenizer"});
            merges_.emplace(pair_key(ia, ib), std::make_pair(static_cast<int>(r), im));  // first rank wins
        }
        // added tokens
        for (const AddedToken& a : spec.added) {
            D2M_CHECK(!a.content.empty() && a.id >= 0, InvalidInput, spec.source, ": an added token has no content");
            if (!seen[a.id] || pieces_[a.id] != a.content) {
                D2M_CHECK(!seen[a.id], InvalidInput, spec.source, ": added token \"", a.content, "\" takes id ", a.id,
                          " of the piece \"", pieces_[a.id], "\"");
                pieces_[a.id] = a.content;
                bytes_[a.id] = a.content;
                seen[a.id] = 1;
            }
            special_[a.id] = a.special;
            added_.push_back(a);
        }
        bos_ = token_id(spec.bos, spec.source, "bos_token");
        eos_ = token_id(spec.eos, spec.source, "eos_token");
        ignore_merges_ = spec.ignore_merges;
        pattern_text_ = spec.pattern;
        UErrorCode st = U_ZERO_ERROR;
        UParseError pe{};
        pattern_.reset(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(icu_pattern(spec.pattern)), 0, pe, st));
        D2M_CHECK(U_SUCCESS(st) && pattern_, InvalidInput, spec.source, ": the pre-tokenizer regex ", spec.pattern,
                  " does not compile (ICU: ", u_errorName(st), " at offset ", pe.offset, ")");
        if (spec.nfc) {
            st = U_ZERO_ERROR;
            nfc_ = icu::Normalizer2::getNFCInstance(st);
            D2M_CHECK(U_SUCCESS(st) && nfc_, Internal, "ICU's NFC normaliser is unavailable: ", u_errorName(st));
        }
    }

    std::vector<int> encode(const std::string& text_in, bool add_bos, bool add_eos) const override {
        std::vector<int> ids;
        ids.reserve(text_in.size() / 3 + 2);
        if (add_bos && bos_ >= 0) ids.push_back(bos_);
        // Text is bytes: ill-formed UTF-8 becomes U+FFFD per maximal subpart (Python's "replace").
        const std::string repaired = text::is_valid_utf8(text_in) ? std::string() : text::repair(text_in);
        const std::string& s = repaired.empty() ? text_in : repaired;
        std::unique_ptr<icu::RegexMatcher> m;
        std::vector<size_t> next(added_.size());  // each added token's next occurrence at or after pos
        for (size_t k = 0; k < added_.size(); ++k) next[k] = s.find(added_[k].content);
        size_t pos = 0;
        while (pos < s.size()) {
            size_t at = std::string::npos;
            const AddedToken* hit = nullptr;
            for (size_t k = 0; k < added_.size(); ++k) {  // leftmost, then longest
                if (next[k] != std::string::npos && next[k] < pos) next[k] = s.find(added_[k].content, pos);
                const size_t p = next[k];
                if (p == std::string::npos) continue;
                if (p < at || (p == at && added_[k].content.size() > hit->content.size())) at = p, hit = &added_[k];
            }
            const size_t end = hit ? at : s.size();
            if (end > pos) encode_segment(std::string_view(s).substr(pos, end - pos), m, ids);
            if (!hit) break;
            ids.push_back(hit->id);
            pos = at + hit->content.size();
        }
        if (add_eos && eos_ >= 0) ids.push_back(eos_);
        return ids;
    }

    std::string decode(const std::vector<int>& ids) const override {
        std::string out;
        for (int id : ids) {
            check_id(id);
            if (!special_[id]) out += bytes_[id];
        }
        return out;
    }

    std::string decode_piece(int, int id) const override {
        check_id(id);
        return special_[id] ? std::string() : bytes_[id];
    }

    std::string piece(int id) const override {
        check_id(id);
        return pieces_[id];
    }
    int vocab_size() const override { return static_cast<int>(pieces_.size()); }
    int bos_id() const override { return bos_; }
    int eos_id() const override { return eos_; }
    std::string kind() const override { return "byte-level BPE"; }
    text::Repair repair() const override { return text::Repair::MaximalSubpart; }

private:
    static uint64_t pair_key(int a, int b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

    int piece_id(const std::string& p) const {
        auto it = vocab_.find(p);
        return it == vocab_.end() ? -1 : it->second;
    }

    int token_id(const std::string& content, const std::string& source, const char* what) const {
        if (content.empty()) return -1;
        for (const AddedToken& a : added_)
            if (a.content == content) return a.id;
        const int id = piece_id(content);
        D2M_CHECK(id >= 0, InvalidInput, source, ": ", what, " \"", content, "\" is not a token of the vocabulary");
        return id;
    }

    void check_id(int id) const {
        D2M_CHECK(id >= 0 && id < vocab_size(), InvalidInput, "token id ", id, " is outside the vocabulary of ",
                  source_, " (", vocab_size(), " ids)");
    }

    /// A vocabulary piece (byte-level unicode form) as bytes; a character outside the mapping is kept as
    /// its UTF-8, as the ByteLevel decoder does.
    std::string piece_bytes(const std::string& piece, const std::string& file) const {
        std::string out;
        for (size_t i = 0; i < piece.size();) {
            const size_t n = text::sequence_length(piece, i);
            D2M_CHECK(n > 0, InvalidInput, file, ": piece \"", text::repair(piece), "\" is not valid UTF-8");
            auto it = u2b_.find(piece.substr(i, n));
            if (it != u2b_.end()) out.push_back(it->second);
            else out.append(piece, i, n);
            i += n;
        }
        return out;
    }

    /// One stretch of text without added tokens: NFC, regex split, BPE per pre-token.
    void encode_segment(std::string_view seg, std::unique_ptr<icu::RegexMatcher>& m, std::vector<int>& ids) const {
        icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(seg.data(), static_cast<int32_t>(seg.size())));
        UErrorCode st = U_ZERO_ERROR;
        if (nfc_ && !nfc_->isNormalized(u, st)) {
            st = U_ZERO_ERROR;
            u = nfc_->normalize(u, st);
            D2M_CHECK(U_SUCCESS(st), Internal, "NFC normalisation failed: ", u_errorName(st));
        }
        st = U_ZERO_ERROR;
        if (!m) m.reset(pattern_->matcher(st));
        D2M_CHECK(U_SUCCESS(st) && m, Internal, "cannot create the pre-tokenizer matcher: ", u_errorName(st));
        m->reset(u);
        int32_t prev = 0;
        std::string word;
        auto emit = [&](int32_t a, int32_t b) {
            word.clear();
            u.tempSubStringBetween(a, b).toUTF8String(word);
            bpe_word(word, ids);
        };
        while (m->find()) {
            st = U_ZERO_ERROR;
            const int32_t a = m->start(st), b = m->end(st);
            D2M_CHECK(U_SUCCESS(st), Internal, "pre-tokenizer match failed: ", u_errorName(st));
            if (a == b) continue;  // an empty match splits nothing (HF drops empty splits)
            if (a > prev) emit(prev, a);
            emit(a, b);
            prev = b;
        }
        if (prev < u.length()) emit(prev, u.length());
    }

    /// BPE of one pre-token's bytes, appended to `ids`.
    void bpe_word(const std::string& word, std::vector<int>& ids) const {
        {
            std::lock_guard<std::mutex> lock(cache_mu_);
            auto it = cache_.find(word);
            if (it != cache_.end()) {
                ids.insert(ids.end(), it->second.begin(), it->second.end());
                return;
            }
        }
        std::vector<int> out;
        if (ignore_merges_) {
            std::string u;
            for (unsigned char c : word) u += pieces_[byte_id_[c]];  // the byte's vocabulary piece
            if (int id = piece_id(u); id >= 0) out.push_back(id);
        }
        if (out.empty()) out = merge(word);
        ids.insert(ids.end(), out.begin(), out.end());
        std::lock_guard<std::mutex> lock(cache_mu_);
        if (cache_.size() >= kCacheCap) cache_.clear();
        cache_.emplace(word, std::move(out));
    }

    std::vector<int> merge(const std::string& word) const {
        struct Sym {
            int id, prev, next;
            bool alive;
        };
        const int n = static_cast<int>(word.size());
        std::vector<Sym> sym(n);
        for (int i = 0; i < n; ++i) sym[i] = {byte_id_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, true};
        struct Cand {
            int rank, pos, left, right;
            bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
        };
        std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
        auto push = [&](int i) {
            if (i < 0 || sym[i].next < 0) return;
            auto it = merges_.find(pair_key(sym[i].id, sym[sym[i].next].id));
            if (it != merges_.end()) heap.push({it->second.first, i, sym[i].id, sym[sym[i].next].id});
        };
        for (int i = 0; i + 1 < n; ++i) push(i);
        while (!heap.empty()) {
            const Cand c = heap.top();
            heap.pop();
            Sym& l = sym[c.pos];
            if (!l.alive || l.id != c.left || l.next < 0 || sym[l.next].id != c.right) continue;  // stale
            Sym& r = sym[l.next];
            l.id = merges_.at(pair_key(c.left, c.right)).second;
            r.alive = false;
            l.next = r.next;
            if (r.next >= 0) sym[r.next].prev = c.pos;
            push(l.prev);
            push(c.pos);
        }
        std::vector<int> out;
        for (int i = 0; i >= 0 && i < n; i = sym[i].next) out.push_back(sym[i].id);
        return out;
    }

    static constexpr size_t kCacheCap = 1 << 17;

    std::string source_;
    std::vector<std::string> pieces_;  ///< by id: the vocabulary piece (added tokens: their content)
    std::vector<std::string> bytes_;   ///< by id: the bytes it stands for
    std::vector<char> special_;        ///< by id: a special added token (dropped by decode)
    std::unordered_map<std::string, int> vocab_;
    std::unordered_map<std::string, char> u2b_;
    std::unordered_map<uint64_t, std::pair<int, int>> merges_;
    std::array<int, 256> byte_id_{};
    std::vector<AddedToken> added_;
    std::string pattern_text_;
    std::unique_ptr<icu::RegexPattern> pattern_;
    const icu::Normalizer2* nfc_ = nullptr;
    bool ignore_merges_ = false;
    int bos_ = -1, eos_ = -1;
    mutable std::mutex cache_mu_;
    mutable std::unordered_map<std::string, std::vector<int>> cache_;
};

/// A special-token field of tokenizer_config.json: null, a string, or {"content": ...}.
std::string token_content(const json& cfg, const char* key) {
    if (!cfg.contains(key) || cfg[key].is_null()) return "";
    const json& v = cfg[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
    return "";
}

/// bos/eos from tokenizer_config.json beside the tokenizer (when present).
void read_config(const std::string& dir, BpeSpec& spec, json& cfg) {
    const std::string path = dir + "/tokenizer_config.json";
    if (!is_file(path)) return;
    cfg = parse_json_file(path);
    D2M_CHECK(cfg.is_object(), InvalidInput, path, ": expected a JSON object");
    spec.bos = token_content(cfg, "bos_token");
    spec.eos = token_content(cfg, "eos_token");
}

/// The pre-tokenizer of a tokenizer.json: Split(Regex, Isolated) + ByteLevel(use_regex=false), or
/// ByteLevel(use_regex=true) alone (GPT-2's regex), optionally inside a Sequence.
void read_pre_tokenizer(const json& pt, const std::string& path, BpeSpec& spec) {
    D2M_CHECK(pt.is_object(), InvalidInput, path, ": pre_tokenizer is missing",
              Hint{"only byte-level BPE tokenizers (GPT-2, Qwen2/3) are supported"});
    std::vector<json> steps;
    if (pt.value("type", "") == "Sequence") {
        for (const json& s : pt.value("pretokenizers", json::array())) steps.push_back(s);
    } else {
        steps.push_back(pt);
    }
    bool byte_level = false;
    for (const json& s : steps) {
        const std::string type = s.value("type", "");
        if (type == "Split") {
            D2M_CHECK(spec.pattern.empty(), InvalidInput, path, ": more than one Split pre-tokenizer");
            D2M_CHECK(s.contains("pattern") && s["pattern"].is_object(), InvalidInput, path, ": Split has no pattern");
            const json& p = s["pattern"];
            D2M_CHECK(p.contains("Regex") && p["Regex"].is_string(), InvalidInput, path,
                      ": only a Split by Regex is supported, found ", p.dump());
            D2M_CHECK(s.value("behavior", "") == "Isolated" && !s.value("invert", false), InvalidInput, path,
                      ": only Split behavior \"Isolated\" (not inverted) is supported, found ", s.value("behavior", ""));
            spec.pattern = p["Regex"].get<std::string>();
        } else if (type == "ByteLevel") {
            D2M_CHECK(!s.value("add_prefix_space", false), InvalidInput, path,
                      ": ByteLevel add_prefix_space=true is not supported");
            if (s.value("use_regex", true)) {
                D2M_CHECK(spec.pattern.empty(), InvalidInput, path, ": a Split and ByteLevel(use_regex) both split");
                spec.pattern = kGpt2Pattern;
            }
            byte_level = true;
        } else {
            D2M_FAIL(InvalidInput, path, ": pre-tokenizer \"", type, "\" is not supported",
                     Hint{"supported: Split (Regex, Isolated) and ByteLevel, as GPT-2 and Qwen2/3 use"});
        }
    }
    D2M_CHECK(byte_level && !spec.pattern.empty(), InvalidInput, path,
              ": not a byte-level BPE pre-tokenizer (ByteLevel and a regex are needed)");
}

void read_normalizer(const json& nz, const std::string& path, BpeSpec& spec) {
    if (nz.is_null()) return;
    std::vector<json> steps;
    if (nz.value("type", "") == "Sequence") {
        for (const json& s : nz.value("normalizers", json::array())) steps.push_back(s);
    } else {
        steps.push_back(nz);
    }
    for (const json& s : steps) {
        const std::string type = s.value("type", "");
        D2M_CHECK(type == "NFC", InvalidInput, path, ": normalizer \"", type, "\" is not supported (only NFC)");
        spec.nfc = true;
    }
}

BpeSpec read_tokenizer_json(const std::string& path) {
    BpeSpec spec;
    spec.source = path;
    spec.vocab_file = spec.merges_file = path;
    json j = parse_json_file(path);
    D2M_CHECK(j.is_object() && j.contains("model") && j["model"].is_object(), InvalidInput, path,
              ": no \"model\" object; not a Hugging Face tokenizer.json");
    json& model = j["model"];
    D2M_CHECK(model.value("type", "BPE") == "BPE", InvalidInput, path, ": model type \"", model.value("type", ""),
              "\" is not BPE", Hint{"only byte-level BPE tokenizer.json files are read; sentencepiece: tokenizer.model"});
    D2M_CHECK(!model.value("byte_fallback", false), InvalidInput, path, ": BPE byte_fallback is not supported");
    D2M_CHECK(model.contains("vocab") && model["vocab"].is_object(), InvalidInput, path, ": model.vocab is missing");
    D2M_CHECK(model.contains("merges") && model["merges"].is_array(), InvalidInput, path, ": model.merges is missing");
    spec.vocab = std::move(model["vocab"]);
    spec.ignore_merges = model.value("ignore_merges", false);
    long i = 0;
    for (const json& m : model["merges"]) {
        if (m.is_string()) {  // "A B"
            const std::string s = m.get<std::string>();
            const size_t sp = s.find(' ');
            D2M_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos, InvalidInput, path,
                      ": model.merges[", i, "] \"", s, "\" is not two pieces separated by one space");
            spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
        } else {  // ["A", "B"] (tokenizers >= 0.20)
            D2M_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), InvalidInput, path,
                      ": model.merges[", i, "] is neither \"A B\" nor [\"A\", \"B\"]");
            spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        }
        spec.merge_lines.push_back(i++);
    }
    spec.merges_file = path + " model.merges, entry";
    for (const json& a : j.value("added_tokens", json::array())) {
        D2M_CHECK(a.is_object() && a.contains("id") && a["id"].is_number_integer() && a.contains("content") &&
                      a["content"].is_string(),
                  InvalidInput, path, ": an added_tokens entry lacks id or content: ", a.dump());
        spec.added.push_back({a["content"].get<std::string>(), a["id"].get<int>(), a.value("special", false)});
    }
    read_normalizer(j.value("normalizer", json()), path, spec);
    read_pre_tokenizer(j.value("pre_tokenizer", json()), path, spec);
    const size_t slash = path.rfind('/');
    json cfg;
    read_config(slash == std::string::npos ? std::string(".") : path.substr(0, slash), spec, cfg);
    if (cfg.is_null()) {  // no tokenizer_config.json: the family's end of text, if it has one
        const std::string eot = "<|endoftext|>";
        bool has = spec.vocab.contains(eot);
        for (const AddedToken& a : spec.added) has = has || a.content == eot;
        if (has) spec.eos = eot;
    }
    return spec;
}

/// The special flag of added tokens named in added_tokens.json but not in added_tokens_decoder.
bool named_special(const json& cfg, const std::string& content) {
    for (const char* k : {"bos_token", "eos_token", "unk_token", "pad_token"})
        if (token_content(cfg, k) == content) return true;
    if (cfg.contains("additional_special_tokens") && cfg["additional_special_tokens"].is_array())
        for (const json& t : cfg["additional_special_tokens"])
            if ((t.is_string() && t.get<std::string>() == content) ||
                (t.is_object() && t.value("content", "") == content))
                return true;
    return false;
}

BpeSpec read_vocab_merges(const std::string& dir) {
    BpeSpec spec;
    spec.source = dir;
    spec.vocab_file = dir + "/vocab.json";
    spec.merges_file = dir + "/merges.txt";
    D2M_CHECK(is_file(spec.vocab_file), InvalidInput, "tokenizer folder ", dir, " has no vocab.json",
              Hint{"a byte-level BPE tokenizer is vocab.json + merges.txt, or tokenizer.json"});
    D2M_CHECK(is_file(spec.merges_file), InvalidInput, "tokenizer folder ", dir, " has vocab.json but no merges.txt",
              Hint{"copy merges.txt from the model's original repository"});
    spec.vocab = parse_json_file(spec.vocab_file);
    {
        std::ifstream in(spec.merges_file, std::ios::binary);
        D2M_CHECK(in.good(), Io, "cannot open ", spec.merges_file);
        std::string line;
        long no = 0;
        while (std::getline(in, line)) {
            ++no;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || (no == 1 && line.rfind("#version", 0) == 0)) continue;
            const size_t sp = line.find(' ');
            D2M_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < line.size() &&
                          line.find(' ', sp + 1) == std::string::npos,
                      InvalidInput, spec.merges_file, " line ", no, ": \"", text::repair(line),
                      "\" is not two pieces separated by one space");
            spec.merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
            spec.merge_lines.push_back(no);
        }
    }
    json cfg;
    read_config(dir, spec, cfg);
    // added tokens: added_tokens.json (content -> id) and tokenizer_config's added_tokens_decoder (id -> entry)
    std::map<int, AddedToken> added;
    if (cfg.is_object() && cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
        for (auto it = cfg["added_tokens_decoder"].begin(); it != cfg["added_tokens_decoder"].end(); ++it) {
            int id = -1;
            try {
                id = std::stoi(it.key());
            } catch (const std::exception&) {
            }
            D2M_CHECK(id >= 0 && it.value().is_object() && it.value().contains("content"), InvalidInput, dir,
                      "/tokenizer_config.json: added_tokens_decoder entry \"", it.key(), "\" is not id -> {content}");
            added[id] = {it.value()["content"].get<std::string>(), id, it.value().value("special", false)};
        }
    }
    const std::string added_path = dir + "/added_tokens.json";
    if (is_file(added_path)) {
        const json a = parse_json_file(added_path);
        D2M_CHECK(a.is_object(), InvalidInput, added_path, ": expected an object content -> id");
        for (auto it = a.begin(); it != a.end(); ++it) {
            D2M_CHECK(it.value().is_number_integer() && it.value().get<int>() >= 0, InvalidInput, added_path,
                      ": the id of \"", it.key(), "\" is not an id");
            const int id = it.value().get<int>();
            auto f = added.find(id);
            if (f == added.end()) {
                added[id] = {it.key(), id, named_special(cfg, it.key())};
            } else {
                D2M_CHECK(f->second.content == it.key(), InvalidInput, added_path, ": id ", id, " is \"", it.key(),
                          "\" but tokenizer_config.json's added_tokens_decoder says \"", f->second.content, "\"");
            }
        }
    }
    // GPT-2 style folders name their special tokens only in tokenizer_config.json (bos/eos/unk/pad)
    for (const char* k : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
        const std::string c = cfg.is_object() ? token_content(cfg, k) : std::string();
        if (c.empty() || !spec.vocab.contains(c) || !spec.vocab[c].is_number_integer()) continue;
        const int id = spec.vocab[c].get<int>();
        if (!added.count(id)) added[id] = {c, id, true};
    }
    for (auto& [id, a] : added) spec.added.push_back(a);
    // The pre-tokenizer is the family's: Qwen2's regex and NFC (Qwen2Tokenizer), else GPT-2's.
    std::string cls = cfg.is_object() ? cfg.value("tokenizer_class", "") : "";
    if (cls.empty() && is_file(dir + "/config.json")) {
        try {
            const json mc = parse_json_file(dir + "/config.json");
            const std::string mt = mc.is_object() ? mc.value("model_type", "") : "";
            if (mt.rfind("qwen", 0) == 0) cls = "Qwen2Tokenizer";
        } catch (const Error&) {
        }
    }
    if (cls.rfind("Qwen2Tokenizer", 0) == 0) {
        spec.pattern = kQwen2Pattern;
        spec.nfc = true;
    } else {
        D2M_CHECK(cls.empty() || cls.rfind("GPT2Tokenizer", 0) == 0, InvalidInput, dir,
                  "/tokenizer_config.json: tokenizer_class \"", cls,
                  "\" is not a byte-level BPE family this engine knows (Qwen2Tokenizer, GPT2Tokenizer)",
                  Hint{"put the model's tokenizer.json beside it: its pre-tokenizer is read from there"});
        spec.pattern = kGpt2Pattern;
    }
    return spec;
}

}  // namespace

bool is_bpe_tokenizer_path(const std::string& path) {
    auto base = [&] {
        const size_t s = path.rfind('/');
        return s == std::string::npos ? path : path.substr(s + 1);
    }();
    return is_dir(path) || base == "tokenizer.json" || base == "vocab.json" || base == "merges.txt";
}

/// A key of the wrong type anywhere in tokenizer.json / vocab.json / tokenizer_config.json (nlohmann's
/// type_error from value() or get<>()) becomes the house error naming the file, never an unnamed exit 2.
template <class F>
BpeSpec read_spec(const std::string& file, F&& read) {
    try {
        return read();
    } catch (const json::exception& e) {
        D2M_FAIL(InvalidInput, "cannot read the tokenizer ", file, ": a key has the wrong type (", e.what(), ")",
                 Hint{"restore the file from the model's original repository"});
    }
}

std::unique_ptr<Tokenizer> load_bpe(const std::string& path) {
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (!is_dir(dir)) {
        const size_t s = dir.rfind('/');
        const std::string base = s == std::string::npos ? dir : dir.substr(s + 1);
        if (base == "tokenizer.json")
            return std::make_unique<BpeTokenizer>(read_spec(dir, [&] { return read_tokenizer_json(dir); }));
        dir = s == std::string::npos ? std::string(".") : dir.substr(0, s);
    } else if (is_file(dir + "/tokenizer.json")) {
        const std::string file = dir + "/tokenizer.json";
        return std::make_unique<BpeTokenizer>(read_spec(file, [&] { return read_tokenizer_json(file); }));
    }
    return std::make_unique<BpeTokenizer>(read_spec(dir, [&] { return read_vocab_merges(dir); }));
}

}  // namespace den2moe
