// SentencePiece BPE in process, from tokenizer.model alone (tokenizer/spm_model: no sentencepiece, no
// protobuf library): the same ids and text as the library for the models it accepts (BPE, identity
// normalizer, whitespace escaped and not folded: Llama / Llama 2 / Mistral tokenizers and the demo model's;
// anything else is refused with the reason). It follows sentencepiece 0.1.9x step by step:
//   normalizer   malformed UTF-8 -> U+FFFD per byte (DecodeUTF8's rules), user-defined pieces kept whole,
//                "▁" prepended when add_dummy_prefix, ' ' -> "▁";
//   BPE          symbols = user-defined pieces or single characters; repeatedly merge the adjacent pair whose
//                concatenation is a NORMAL / USER_DEFINED / UNUSED piece with the highest score (leftmost on
//                ties: sentencepiece's agenda order); never across a user-defined symbol; UNUSED results
//                re-split into the pair they were merged from;
//   ids          reserved pieces (control, unknown, byte) are never produced from text; an unknown symbol is
//                <unk>, or its bytes as <0xHH> pieces with byte_fallback;
//   decode       control pieces vanish, <unk> is the unknown surface, runs of byte pieces become UTF-8 with one
//                U+FFFD per byte that starts no valid character, "▁" -> ' ', and one leading "▁" goes when
//                add_dummy_prefix: the first piece's while the text is still empty and no piece gave one up.
// Used where the shim cannot load (an AddressSanitizer build) or when D2M_SPM=native asks for it;
// tests/engine/tokenizer checks it against python3-sentencepiece and against the shim on every domain.
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "tokenizer/spm_model.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <queue>
#include <unordered_map>
#include <unordered_set>

namespace den2moe {
namespace {

const char* const kSpaceSymbol = "\xE2\x96\x81";  // "▁"
const char* const kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool trail(uint8_t b) { return (b & 0xC0) == 0x80; }
bool valid_cp(uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

/// sentencepiece's string_util::DecodeUTF8: the length of the well-formed character at `p`, or 0.
size_t utf8_len(const char* p, size_t n) {
    const auto* s = reinterpret_cast<const uint8_t*>(p);
    if (n == 0) return 0;
    if (s[0] < 0x80) return 1;
    if (n >= 2 && (s[0] & 0xE0) == 0xC0) {
        const uint32_t c = (uint32_t(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        if (trail(s[1]) && c >= 0x80 && valid_cp(c)) return 2;
    } else if (n >= 3 && (s[0] & 0xF0) == 0xE0) {
        const uint32_t c = (uint32_t(s[0] & 0x0F) << 12) | (uint32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        if (trail(s[1]) && trail(s[2]) && c >= 0x800 && valid_cp(c)) return 3;
    } else if (n >= 4 && (s[0] & 0xF8) == 0xF0) {
        const uint32_t c = (uint32_t(s[0] & 0x07) << 18) | (uint32_t(s[1] & 0x3F) << 12) |
                           (uint32_t(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        if (trail(s[1]) && trail(s[2]) && trail(s[3]) && c >= 0x10000 && valid_cp(c)) return 4;
    }
    return 0;
}

class SpmNativeTokenizer final : public Tokenizer {
public:
    SpmNativeTokenizer(SpmModelProto m, std::string path) : m_(std::move(m)), path_(std::move(path)) {
        const std::string why = spm_unsupported_reason(m_);
        D2M_CHECK(why.empty(), Incompatible, "the tokenizer ", path_,
                  " cannot be read without the sentencepiece library: ", why,
                  Hint{"use a build whose sentencepiece shim loads (not an AddressSanitizer build; D2M_SPM unset)"});
        std::fill(std::begin(byte_ids_), std::end(byte_ids_), -1);
        const int n = int(m_.pieces.size());
        for (int id = 0; id < n; ++id) {
            const auto& pc = m_.pieces[size_t(id)];
            switch (pc.type) {
                case SpmPieceType::Normal:
                case SpmPieceType::UserDefined:
                case SpmPieceType::Unused: pieces_.emplace(pc.text, id); break;
                default: reserved_.emplace(pc.text, id); break;
            }
            if (pc.type == SpmPieceType::UserDefined) {
                user_defined_.insert(pc.text);
                max_user_defined_ = std::max(max_user_defined_, pc.text.size());
            }
            if (pc.type == SpmPieceType::Byte)
                byte_ids_[std::stoi(pc.text.substr(3, 2), nullptr, 16)] = id;
        }
        unk_ = lookup(m_.unk_piece);
        D2M_CHECK(unk_ >= 0 && m_.pieces[size_t(unk_)].type == SpmPieceType::Unknown, InvalidInput,
                  "cannot load the tokenizer ", path_, ": the model defines no <unk> piece, which SentencePiece requires");
        bos_ = control_id(m_.bos_piece);
        eos_ = control_id(m_.eos_piece);
        if (m_.byte_fallback) {
            for (int b = 0; b < 256; ++b)
                D2M_CHECK(byte_ids_[b] >= 0, InvalidInput, "the tokenizer ", path_,
                          " enables byte_fallback but has no piece for byte ", b);
        }
    }

    std::vector<int> encode(const std::string& text, bool add_bos, bool add_eos) const override {
        std::vector<int> out;
        if (add_bos && bos_ >= 0) out.push_back(bos_);
        const std::string norm = normalize(text);
        // symbols: [begin, end) of norm, linked; a user-defined piece is frozen (never merged)
        struct Sym { size_t begin, end; int prev, next; bool frozen; };
        std::vector<Sym> sym;
        for (size_t i = 0; i < norm.size();) {
            const size_t ud = user_defined_at(norm, i);
            const size_t len = ud ? ud : std::max<size_t>(1, std::min(utf8_len(norm.data() + i, norm.size() - i),
                                                                       norm.size() - i));
            sym.push_back({i, i + len, int(sym.size()) - 1, int(sym.size()) + 1, ud != 0});
            i += len;
        }
        if (!sym.empty()) sym.back().next = -1;

        struct Pair { float score; int left, right; size_t size; };
        auto worse = [](const Pair& a, const Pair& b) {
            return a.score < b.score || (a.score == b.score && a.left > b.left);
        };
        std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> agenda(worse);
        std::unordered_map<std::string, std::pair<std::string, std::string>> rev_merge;
        auto add_pair = [&](int l, int r) {
            if (l < 0 || r < 0 || sym[size_t(l)].frozen || sym[size_t(r)].frozen) return;
            const std::string merged = norm.substr(sym[size_t(l)].begin, sym[size_t(r)].end - sym[size_t(l)].begin);
            const auto it = pieces_.find(merged);
            if (it == pieces_.end()) return;
            const auto& pc = m_.pieces[size_t(it->second)];
            agenda.push({pc.score, l, r, merged.size()});
            if (pc.type == SpmPieceType::Unused)
                rev_merge[merged] = {norm.substr(sym[size_t(l)].begin, sym[size_t(l)].end - sym[size_t(l)].begin),
                                     norm.substr(sym[size_t(r)].begin, sym[size_t(r)].end - sym[size_t(r)].begin)};
        };
        for (size_t i = 1; i < sym.size(); ++i) add_pair(int(i) - 1, int(i));
        while (!agenda.empty()) {
            const Pair top = agenda.top();
            agenda.pop();
            Sym& l = sym[size_t(top.left)];
            Sym& r = sym[size_t(top.right)];
            // stale: either side was merged away or grew since the pair was queued
            if (l.begin == l.end || r.begin == r.end || (l.end - l.begin) + (r.end - r.begin) != top.size ||
                l.next != top.right)
                continue;
            l.end = r.end;
            r.begin = r.end;  // empty
            l.next = r.next;
            if (r.next >= 0) sym[size_t(r.next)].prev = top.left;
            add_pair(l.prev, top.left);
            add_pair(top.left, l.next);
        }
        for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[size_t(i)].next)
            emit(norm.substr(sym[size_t(i)].begin, sym[size_t(i)].end - sym[size_t(i)].begin), rev_merge, out);
        if (add_eos && eos_ >= 0) out.push_back(eos_);
        return out;
    }

    std::string decode(const std::vector<int>& ids) const override {
        for (int id : ids) check_id(id);
        std::string text, bytes;
        bool is_bos_ws = true, bos_ws_seen = false;  // sentencepiece's Decode: strip one dummy-prefix "▁"
        auto flush_bytes = [&] {
            for (size_t i = 0; i < bytes.size();) {
                const size_t len = utf8_len(bytes.data() + i, bytes.size() - i);
                if (len == 0) {
                    text += kReplacement;
                    i += 1;
                } else {
                    text.append(bytes, i, len);
                    i += len;
                }
            }
            bytes.clear();
        };
        for (int id : ids) {
            const auto& pc = m_.pieces[size_t(id)];
            if (pc.type == SpmPieceType::Byte) {
                bytes.push_back(static_cast<char>(std::stoi(pc.text.substr(3, 2), nullptr, 16)));
                continue;
            }
            flush_bytes();
            if (pc.type == SpmPieceType::Control || pc.type == SpmPieceType::Unknown) {
                if (bos_ws_seen || !text.empty()) is_bos_ws = false;
                bos_ws_seen = false;
                if (pc.type == SpmPieceType::Unknown) text += m_.unk_surface;
                continue;
            }
            // only the text's first "▁" goes: the first piece's, unless an earlier piece already gave one up
            if (bos_ws_seen || !text.empty()) is_bos_ws = false;
            std::string piece = pc.text;
            bos_ws_seen = is_bos_ws && m_.add_dummy_prefix && piece.compare(0, 3, kSpaceSymbol) == 0;
            if (bos_ws_seen) piece.erase(0, 3);
            text += spm_unescape_spaces(piece);
        }
        flush_bytes();
        return text;
    }

    std::string decode_piece(int prev, int id) const override {
        check_id(id);
        const auto& pc = m_.pieces[size_t(id)];
        return spm_streamed_piece(pc.text, pc.type, prev == bos_, m_.unk_surface);
    }
    std::string piece(int id) const override {
        check_id(id);
        return m_.pieces[size_t(id)].text;
    }
    int vocab_size() const override { return int(m_.pieces.size()); }
    int bos_id() const override { return bos_; }
    int eos_id() const override { return eos_; }
    std::string kind() const override { return "sentencepiece"; }
    text::Repair repair() const override { return text::Repair::PerByte; }

private:
    int lookup(const std::string& piece) const {
        if (auto it = reserved_.find(piece); it != reserved_.end()) return it->second;
        if (auto it = pieces_.find(piece); it != pieces_.end()) return it->second;
        return -1;
    }
    int control_id(const std::string& piece) const {
        const int id = lookup(piece);
        return id >= 0 && m_.pieces[size_t(id)].type == SpmPieceType::Control ? id : -1;
    }
    /// The length of the longest user-defined piece at norm[i], or 0.
    size_t user_defined_at(const std::string& norm, size_t i) const {
        if (user_defined_.empty()) return 0;
        for (size_t len = std::min(max_user_defined_, norm.size() - i); len > 0; --len)
            if (user_defined_.count(norm.substr(i, len))) return len;
        return 0;
    }
    /// sentencepiece's normalizer for the identity rule.
    std::string normalize(const std::string& text) const {
        std::string out;
        if (text.empty()) return out;
        out.reserve(text.size() + 3 + text.size() / 2);
        if (m_.add_dummy_prefix) out += kSpaceSymbol;
        auto put = [&](const char* p, size_t n) {
            for (size_t k = 0; k < n; ++k) {
                if (p[k] == ' ') out += kSpaceSymbol;
                else out.push_back(p[k]);
            }
        };
        for (size_t i = 0; i < text.size();) {
            const size_t ud = user_defined_at(text, i);
            if (ud) {
                put(text.data() + i, ud);
                i += ud;
                continue;
            }
            const size_t len = utf8_len(text.data() + i, text.size() - i);
            if (len == 0) {
                out += kReplacement;
                i += 1;
            } else {
                put(text.data() + i, len);
                i += len;
            }
        }
        return out;
    }
    void emit(const std::string& w, const std::unordered_map<std::string, std::pair<std::string, std::string>>& rev,
              std::vector<int>& out) const {
        int id = lookup(w);
        if (id >= 0 && m_.pieces[size_t(id)].type == SpmPieceType::Unused) {
            if (auto it = rev.find(w); it != rev.end()) {
                emit(it->second.first, rev, out);
                emit(it->second.second, rev, out);
                return;
            }
        }
        if (id < 0) id = unk_;
        if (id == unk_ && m_.byte_fallback) {
            for (char c : w) out.push_back(byte_ids_[uint8_t(c)]);
            return;
        }
        out.push_back(id);
    }
    void check_id(int id) const {
        D2M_CHECK(id >= 0 && id < vocab_size(), InvalidInput, "token id ", id, " is outside the vocabulary [0, ",
                  vocab_size(), ") of ", path_);
    }

    SpmModelProto m_;
    std::string path_;
    std::unordered_map<std::string, int> pieces_;    ///< NORMAL, USER_DEFINED, UNUSED: what merges may form
    std::unordered_map<std::string, int> reserved_;  ///< CONTROL, UNKNOWN, BYTE
    std::unordered_set<std::string> user_defined_;
    size_t max_user_defined_ = 0;
    int byte_ids_[256] = {};
    int unk_ = 0, bos_ = -1, eos_ = -1;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_native(const std::string& path) {
    return std::make_unique<SpmNativeTokenizer>(read_sentencepiece_model(path), path);
}

}  // namespace den2moe
