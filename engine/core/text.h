// The engine's one text policy (torch-free, Qt-free: the CLI, the app and every writer use it).
// A token is bytes: it may end inside a UTF-8 character. Text fields (JSON, CSV) are valid UTF-8,
// made so by `repair` with the model's own rule (sentencepiece: one U+FFFD per bad byte; Hugging Face
// byte-level BPE and Python: one per maximal subpart); nothing is lost because ids and the raw
// bytes (`hex`) travel beside. Tokens are grouped into spans that make whole characters or grapheme
// clusters (ICU's UAX #29 rules), and `display` is the readable form for tables, chips and images.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace den2moe::text {

/// How bytes that are not valid UTF-8 become text (U+FFFD, the replacement character).
enum class Repair {
    /// One U+FFFD per maximal subpart of an ill-formed sequence (Unicode §3.9, WHATWG): Python's
    /// bytes.decode("utf-8", "replace"), Rust's String::from_utf8_lossy, hence Hugging Face
    /// tokenizers' byte-level decode.
    MaximalSubpart,
    /// One U+FFFD per byte that does not start a well-formed sequence: sentencepiece's Decode of
    /// byte-fallback pieces (util.cc DecodeUTF8 consumes one byte when invalid).
    PerByte,
};

/// Length (1..4) of the well-formed UTF-8 sequence at s[i] (Unicode Table 3-7: no overlongs, no
/// surrogates, nothing above U+10FFFF), or 0 when the bytes there do not form one.
size_t sequence_length(std::string_view s, size_t i);
/// Length (>= 1) of the maximal subpart at s[i], a position where sequence_length is 0: the longest
/// prefix of a well-formed sequence found there, or 1.
size_t maximal_subpart_length(std::string_view s, size_t i);
/// Length (>= 1) of the ill-formed unit at s[i] under `how` (one U+FFFD each).
size_t ill_formed_length(std::string_view s, size_t i, Repair how);

bool is_valid_utf8(std::string_view s);
/// Byte offset of the first ill-formed byte, or std::string::npos.
size_t first_invalid(std::string_view s);
/// `bytes` as valid UTF-8: ill-formed units replaced by U+FFFD under `how`; valid text unchanged.
std::string repair(std::string_view bytes, Repair how = Repair::MaximalSubpart);

/// Streaming repair: push() each token's bytes as they come and print what it returns; a character
/// split over tokens is held until it is complete. The concatenated output of every push() and the
/// final finish() equals repair(all bytes, how).
class Utf8Stream {
public:
    explicit Utf8Stream(Repair how = Repair::MaximalSubpart) : how_(how) {}
    std::string push(std::string_view bytes);
    std::string finish();

private:
    Repair how_;
    std::string pending_;
};

/// Lower-case hex of every byte, no separators ("e280" for E2 80), like Python's bytes.hex().
std::string hex(std::string_view bytes);
/// The code point of the well-formed sequence at s[i] (sequence_length(s, i) > 0).
char32_t decode_at(std::string_view s, size_t i);
void append_utf8(std::string& out, char32_t cp);

/// Byte offsets of the extended grapheme cluster boundaries of valid UTF-8 `s` (ICU, UAX #29),
/// 0 and s.size() included.
std::vector<size_t> grapheme_boundaries(std::string_view s);

enum class Unit {
    Character,  ///< code points
    Grapheme,   ///< extended grapheme clusters (emoji ZWJ sequences, flags, base + combining marks)
};

/// A run of consecutive tokens whose bytes start and end on `Unit` boundaries of the whole stream.
struct TokenSpan {
    size_t first = 0;    ///< first token
    size_t last = 0;     ///< one past the last token
    std::string bytes;   ///< the tokens' bytes, concatenated
    std::string text;    ///< bytes repaired (valid UTF-8); == bytes when `valid`
    bool valid = true;   ///< bytes are valid UTF-8
};

/// Groups tokens (each one's bytes, in order) into the smallest spans that hold whole units of the
/// concatenated stream: a token that ends inside a character joins the next one. Ill-formed units
/// (under `how`) are units of their own; an empty token forms its own span when it sits on a
/// boundary. Concatenating the spans' `text` equals repair(concatenation, how).
std::vector<TokenSpan> group_tokens(const std::vector<std::string>& token_bytes, Unit unit = Unit::Grapheme,
                                    Repair how = Repair::MaximalSubpart);

/// The readable form of bytes for tables, chips and images (valid UTF-8; not for data fields):
/// ill-formed bytes as <0xNN>; \n \t \r as escapes; other controls, invisible format characters
/// (zero-width space, word joiner, BOM, soft hyphen, bidi controls, line/paragraph separators) and
/// grapheme clusters made only of zero-width joiners/selectors as <U+XXXX>; a cluster that starts
/// with a combining mark gets a dotted circle (U+25CC) as its base. Emoji sequences stay whole.
std::string display(std::string_view bytes, Repair how = Repair::MaximalSubpart);

/// Terminal columns of valid UTF-8 text: per grapheme cluster 2 when it holds a wide/full-width or
/// emoji-presentation character (or U+FE0F), 0 when it holds only zero-width characters, else 1.
int display_width(std::string_view s);
/// `s` cut at a grapheme boundary to at most `width` columns (ending in "…" when cut), then padded
/// with spaces to exactly `width` columns.
std::string fit_width(std::string_view s, int width);
/// A CSV field (RFC 4180) of text: valid UTF-8 (repair, maximal subparts), quoted when it holds a
/// comma, a quote or a line break.
std::string csv_field(std::string_view bytes);
/// The display form of `bytes` (a table label: domain name, path) padded with spaces to `width`
/// terminal cells; a longer label is kept whole.
std::string pad_cell(std::string_view bytes, int width);
/// True when `s` holds a strong right-to-left character (Hebrew, Arabic, ...).
bool has_rtl(std::string_view s);
/// `s` between U+2068 FIRST STRONG ISOLATE and U+2069 POP DIRECTIONAL ISOLATE when it holds
/// right-to-left text (so a terminal's bidi keeps a table row's columns in place), else `s`.
std::string isolate_rtl(std::string_view s);

}  // namespace den2moe::text
