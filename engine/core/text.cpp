// UTF-8 validation and repair (Unicode Table 3-7; maximal subparts per Unicode §3.9, the rule
// Python's "replace" and Rust's from_utf8_lossy follow; per byte as sentencepiece's decoder does),
// token grouping on grapheme boundaries from ICU's break iterator (UAX #29), and the display form
// used by tables and the app. ICU sees only well-formed runs, so its indexes are our byte offsets.
#include "core/text.h"

#include "core/error.h"

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>

#include <cstdio>

namespace den2moe::text {
namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_cont(unsigned char b) { return b >= 0x80 && b <= 0xBF; }

/// Expected length of a sequence led by `b0` and the allowed range of its second byte (Table 3-7);
/// 0 when b0 cannot lead one.
int lead_info(unsigned char b0, unsigned char& lo, unsigned char& hi) {
    lo = 0x80;
    hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) return 2;
    if (b0 == 0xE0) {
        lo = 0xA0;
        return 3;
    }
    if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) return 3;
    if (b0 == 0xED) {
        hi = 0x9F;  // no surrogates
        return 3;
    }
    if (b0 == 0xF0) {
        lo = 0x90;
        return 4;
    }
    if (b0 >= 0xF1 && b0 <= 0xF3) return 4;
    if (b0 == 0xF4) {
        hi = 0x8F;  // nothing above U+10FFFF
        return 4;
    }
    return 0;
}

/// How many bytes at s[i] match a prefix of a well-formed sequence, and the full length it needs.
size_t matched_prefix(std::string_view s, size_t i, int& need) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        need = 1;
        return 1;
    }
    unsigned char lo, hi;
    need = lead_info(b0, lo, hi);
    if (need == 0) return 0;
    if (i + 1 >= s.size()) return 1;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b1 < lo || b1 > hi) return 1;
    size_t k = 2;
    while (k < static_cast<size_t>(need) && i + k < s.size() && is_cont(static_cast<unsigned char>(s[i + k]))) ++k;
    return k;
}

/// One well-formed run of valid UTF-8 or one ill-formed unit.
struct Piece {
    size_t begin, end;
    bool valid;
};

/// Splits `s` into maximal valid runs and ill-formed units (each one U+FFFD under `how`).
std::vector<Piece> split_valid(std::string_view s, Repair how) {
    std::vector<Piece> out;
    size_t i = 0, run = 0;
    while (i < s.size()) {
        const size_t n = sequence_length(s, i);
        if (n > 0) {
            i += n;
            continue;
        }
        if (i > run) out.push_back({run, i, true});
        const size_t bad = ill_formed_length(s, i, how);
        out.push_back({i, i + bad, false});
        i += bad;
        run = i;
    }
    if (s.size() > run) out.push_back({run, s.size(), true});
    return out;
}

/// ICU's character (grapheme cluster) break iterator, one per thread (opening one loads rules).
class GraphemeIterator {
public:
    GraphemeIterator() {
        UErrorCode st = U_ZERO_ERROR;
        bi_ = ubrk_open(UBRK_CHARACTER, "", nullptr, 0, &st);
        D2M_CHECK(U_SUCCESS(st) && bi_ != nullptr, Internal, "ICU cannot open a grapheme break iterator: ",
                  u_errorName(st), Hint{"is the ICU data library (libicudata) installed?"});
    }
    ~GraphemeIterator() {
        if (ut_) utext_close(ut_);
        if (bi_) ubrk_close(bi_);
    }
    GraphemeIterator(const GraphemeIterator&) = delete;
    GraphemeIterator& operator=(const GraphemeIterator&) = delete;

    /// Boundaries of valid UTF-8 `s`, appended to `out` shifted by `offset` (0 and s.size() included).
    void boundaries(std::string_view s, size_t offset, std::vector<size_t>& out) {
        D2M_CHECK(s.size() < (size_t(1) << 31), InvalidInput, "text of ", s.size(),
                  " bytes is too long to segment (limit 2 GiB)");
        UErrorCode st = U_ZERO_ERROR;
        ut_ = utext_openUTF8(ut_, s.data(), static_cast<int64_t>(s.size()), &st);
        ubrk_setUText(bi_, ut_, &st);
        D2M_CHECK(U_SUCCESS(st), Internal, "ICU cannot segment a text of ", s.size(), " bytes: ", u_errorName(st));
        for (int32_t b = ubrk_first(bi_); b != UBRK_DONE; b = ubrk_next(bi_)) {
            out.push_back(offset + static_cast<size_t>(b));
        }
    }

private:
    UBreakIterator* bi_ = nullptr;
    UText* ut_ = nullptr;
};

GraphemeIterator& graphemes() {
    thread_local GraphemeIterator it;
    return it;
}

bool is_zero_width(char32_t cp) {
    const int gc = u_charType(static_cast<UChar32>(cp));
    return gc == U_NON_SPACING_MARK || gc == U_ENCLOSING_MARK || gc == U_FORMAT_CHAR ||
           u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

bool is_invisible(char32_t cp) {
    const int gc = u_charType(static_cast<UChar32>(cp));
    return gc == U_CONTROL_CHAR || gc == U_LINE_SEPARATOR || gc == U_PARAGRAPH_SEPARATOR ||
           gc == U_FORMAT_CHAR || u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

std::vector<char32_t> code_points(std::string_view s) {
    std::vector<char32_t> out;
    for (size_t i = 0; i < s.size();) {
        const size_t n = sequence_length(s, i);
        D2M_ASSERT(n > 0);
        out.push_back(decode_at(s, i));
        i += n;
    }
    return out;
}

void append_escape(std::string& out, char32_t cp) {
    if (cp == U'\n') {
        out += "\\n";
    } else if (cp == U'\t') {
        out += "\\t";
    } else if (cp == U'\r') {
        out += "\\r";
    } else {
        char buf[16];
        std::snprintf(buf, sizeof(buf), "<U+%04X>", static_cast<unsigned>(cp));
        out += buf;
    }
}

/// Calls fn(cluster) for each grapheme cluster of valid UTF-8 `s`.
template <typename Fn>
void for_each_cluster(std::string_view s, Fn&& fn) {
    if (s.empty()) return;
    std::vector<size_t> b = grapheme_boundaries(s);
    for (size_t k = 0; k + 1 < b.size(); ++k) fn(s.substr(b[k], b[k + 1] - b[k]));
}

int cluster_width(std::string_view cluster) {
    bool all_zero = true, wide = false, vs16 = false;
    for (char32_t cp : code_points(cluster)) {
        const auto c = static_cast<UChar32>(cp);
        const int eaw = u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH);
        if (eaw == U_EA_WIDE || eaw == U_EA_FULLWIDTH || u_hasBinaryProperty(c, UCHAR_EMOJI_PRESENTATION)) wide = true;
        if (cp == 0xFE0F) vs16 = true;
        if (!is_zero_width(cp)) all_zero = false;
    }
    if (wide || vs16) return 2;
    return all_zero ? 0 : 1;
}

}  // namespace

size_t sequence_length(std::string_view s, size_t i) {
    int need = 0;
    const size_t k = matched_prefix(s, i, need);
    return k == static_cast<size_t>(need) ? k : 0;
}

size_t maximal_subpart_length(std::string_view s, size_t i) {
    int need = 0;
    const size_t k = matched_prefix(s, i, need);
    return k == 0 ? 1 : k;
}

size_t ill_formed_length(std::string_view s, size_t i, Repair how) {
    return how == Repair::PerByte ? 1 : maximal_subpart_length(s, i);
}

bool is_valid_utf8(std::string_view s) { return first_invalid(s) == std::string::npos; }

size_t first_invalid(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII fast path
            ++i;
            continue;
        }
        const size_t n = sequence_length(s, i);
        if (n == 0) return i;
        i += n;
    }
    return std::string::npos;
}

std::string repair(std::string_view bytes, Repair how) {
    const size_t bad = first_invalid(bytes);
    if (bad == std::string::npos) return std::string(bytes);
    std::string out(bytes.substr(0, bad));
    out.reserve(bytes.size() + 8);
    size_t i = bad;
    while (i < bytes.size()) {
        const size_t n = sequence_length(bytes, i);
        if (n > 0) {
            out.append(bytes.substr(i, n));
            i += n;
        } else {
            out += kReplacement;
            i += ill_formed_length(bytes, i, how);
        }
    }
    return out;
}

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    // hold a tail that is a proper prefix of a well-formed sequence: the next token may complete it
    size_t keep = pending_.size();
    for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
        const size_t i = pending_.size() - back;
        const auto b = static_cast<unsigned char>(pending_[i]);
        if (b < 0x80) break;
        if (is_cont(b)) continue;
        int need = 0;
        if (matched_prefix(pending_, i, need) == back && back < static_cast<size_t>(need)) keep = i;
        break;
    }
    std::string out = repair(std::string_view(pending_).substr(0, keep), how_);
    pending_.erase(0, keep);
    return out;
}

std::string Utf8Stream::finish() {
    std::string out = repair(pending_, how_);
    pending_.clear();
    return out;
}

std::string hex(std::string_view bytes) {
    static const char* const kDigits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 15]);
    }
    return out;
}

char32_t decode_at(std::string_view s, size_t i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const size_t n = sequence_length(s, i);
    D2M_ASSERT(n > 0);
    if (n == 1) return b0;
    char32_t cp = b0 & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::vector<size_t> grapheme_boundaries(std::string_view s) {
    D2M_CHECK(is_valid_utf8(s), Internal, "grapheme_boundaries needs valid UTF-8 (byte ", first_invalid(s),
              " of ", s.size(), " is not)");
    std::vector<size_t> out;
    if (s.empty()) {
        out.push_back(0);
        return out;
    }
    graphemes().boundaries(s, 0, out);
    return out;
}

std::vector<TokenSpan> group_tokens(const std::vector<std::string>& token_bytes, Unit unit, Repair how) {
    std::string all;
    std::vector<size_t> start;  // start offset of each token
    start.reserve(token_bytes.size());
    for (const auto& t : token_bytes) {
        start.push_back(all.size());
        all += t;
    }
    // unit boundaries of the whole stream
    std::vector<char> boundary(all.size() + 1, 0);
    boundary[0] = boundary[all.size()] = 1;
    for (const Piece& p : split_valid(all, how)) {
        boundary[p.begin] = boundary[p.end] = 1;
        if (!p.valid) continue;
        const std::string_view run(all.data() + p.begin, p.end - p.begin);
        if (unit == Unit::Character) {
            for (size_t i = 0; i < run.size(); i += sequence_length(run, i)) boundary[p.begin + i] = 1;
        } else {
            std::vector<size_t> b;
            graphemes().boundaries(run, p.begin, b);
            for (size_t x : b) boundary[x] = 1;
        }
    }
    std::vector<TokenSpan> spans;
    for (size_t t = 0; t < token_bytes.size(); ++t) {
        if (t == 0 || boundary[start[t]]) {
            TokenSpan s;
            s.first = t;
            spans.push_back(std::move(s));
        }
        spans.back().last = t + 1;
        spans.back().bytes += token_bytes[t];
    }
    for (auto& s : spans) {
        s.valid = is_valid_utf8(s.bytes);
        s.text = s.valid ? s.bytes : repair(s.bytes, how);
    }
    return spans;
}

std::string display(std::string_view bytes, Repair how) {
    std::string out;
    for (const Piece& p : split_valid(bytes, how)) {
        const std::string_view part = bytes.substr(p.begin, p.end - p.begin);
        if (!p.valid) {
            char buf[8];
            for (char c : part) {
                std::snprintf(buf, sizeof(buf), "<0x%02X>", static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += buf;
            }
            continue;
        }
        for_each_cluster(part, [&](std::string_view cluster) {
            const std::vector<char32_t> cps = code_points(cluster);
            bool all_invisible = true;
            for (char32_t cp : cps) all_invisible = all_invisible && is_invisible(cp);
            if (all_invisible) {
                for (char32_t cp : cps) append_escape(out, cp);
                return;
            }
            const int gc = u_charType(static_cast<UChar32>(cps.front()));
            if (gc == U_NON_SPACING_MARK || gc == U_COMBINING_SPACING_MARK || gc == U_ENCLOSING_MARK) {
                out += "\xE2\x97\x8C";  // U+25CC DOTTED CIRCLE: the conventional base of a lone mark
            }
            for (char32_t cp : cps) {
                if (u_charType(static_cast<UChar32>(cp)) == U_CONTROL_CHAR) {
                    append_escape(out, cp);
                } else {
                    append_utf8(out, cp);
                }
            }
        });
    }
    return out;
}

int display_width(std::string_view s) {
    int w = 0;
    for_each_cluster(s, [&](std::string_view c) { w += cluster_width(c); });
    return w;
}

std::string fit_width(std::string_view s, int width) {
    std::string out;
    int w = 0;
    if (display_width(s) <= width) {
        out = std::string(s);
        w = display_width(s);
    } else {
        bool stop = false;
        for_each_cluster(s, [&](std::string_view c) {
            if (stop) return;
            const int cw = cluster_width(c);
            if (w + cw > width - 1) {
                stop = true;
                return;
            }
            out.append(c);
            w += cw;
        });
        if (width > 0) {
            out += "\xE2\x80\xA6";  // …
            ++w;
        }
    }
    while (w < width) {
        out.push_back(' ');
        ++w;
    }
    return out;
}

std::string csv_field(std::string_view bytes) {
    std::string t = repair(bytes);
    if (t.find_first_of(",\"\n\r") == std::string::npos) return t;
    std::string out = "\"";
    for (char c : t) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string pad_cell(std::string_view bytes, int width) {
    std::string out = display(bytes);
    for (int w = display_width(out); w < width; ++w) out.push_back(' ');
    return out;
}

bool has_rtl(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const size_t n = sequence_length(s, i);
        if (n == 0) {
            ++i;
            continue;
        }
        const int dir = u_charDirection(static_cast<UChar32>(decode_at(s, i)));
        if (dir == U_RIGHT_TO_LEFT || dir == U_RIGHT_TO_LEFT_ARABIC) return true;
        i += n;
    }
    return false;
}

std::string isolate_rtl(std::string_view s) {
    if (!has_rtl(s)) return std::string(s);
    return "\xE2\x81\xA8" + std::string(s) + "\xE2\x81\xA9";  // U+2068 ... U+2069
}

}  // namespace den2moe::text
