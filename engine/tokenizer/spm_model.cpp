// tokenizer.model (sentencepiece ModelProto) read with a minimal protobuf wire reader: no protobuf library.
// Fields (sentencepiece_model.proto): ModelProto.pieces = 1 {piece 1, score 2, type 3}, trainer_spec = 2
// {model_type 3, treat_whitespace_as_suffix 24, byte_fallback 35, unk_id 40, bos_id 41, eos_id 42,
// unk_surface 44, unk_piece 45, bos_piece 46, eos_piece 47}, normalizer_spec = 3 {name 1,
// precompiled_charsmap 2, add_dummy_prefix 3, remove_extra_whitespaces 4, escape_whitespaces 5}.
#include "tokenizer/spm_model.h"

#include "core/error.h"

#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

namespace den2moe {
namespace {

struct Wire {
    const uint8_t* p;
    const uint8_t* end;
    bool ok = true;
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; p < end && shift < 64; shift += 7) {
            const uint8_t b = *p++;
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        ok = false;
        return 0;
    }
    /// Calls f(field, wire_type, value, bytes) for each field; bytes for wire type 2, value otherwise.
    template <class F>
    void each(F f) {
        while (ok && p < end) {
            const uint64_t key = varint();
            const int field = int(key >> 3), wt = int(key & 7);
            uint64_t v = 0;
            std::string bytes;
            if (wt == 0) {
                v = varint();
            } else if (wt == 1 || wt == 5) {
                const size_t n = wt == 1 ? 8 : 4;
                if (size_t(end - p) < n) { ok = false; return; }
                std::memcpy(&v, p, n);
                p += n;
            } else if (wt == 2) {
                const uint64_t n = varint();
                if (!ok || n > uint64_t(end - p)) { ok = false; return; }
                bytes.assign(reinterpret_cast<const char*>(p), n);
                p += n;
            } else {
                ok = false;
                return;
            }
            f(field, wt, v, bytes);
        }
    }
};

Wire wire_of(const std::string& s) {
    const auto* b = reinterpret_cast<const uint8_t*>(s.data());
    return Wire{b, b + s.size()};
}

const char* const kSpaceSymbol = "\xE2\x96\x81";  // "▁"

}  // namespace

SpmModelProto read_sentencepiece_model(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot read the sentencepiece model ", path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();

    SpmModelProto m;
    Wire w = wire_of(data);
    bool inner_ok = true;
    w.each([&](int field, int wt, uint64_t, const std::string& bytes) {
        if (wt != 2) return;
        Wire sub = wire_of(bytes);
        if (field == 1) {
            SpmModelProto::Piece pc;
            sub.each([&](int f, int fwt, uint64_t v, const std::string& b) {
                if (f == 1) pc.text = b;
                if (f == 2 && fwt == 5) {
                    const uint32_t bits = uint32_t(v);
                    std::memcpy(&pc.score, &bits, sizeof bits);
                }
                if (f == 3) pc.type = static_cast<SpmPieceType>(int(v));
            });
            m.pieces.push_back(std::move(pc));
        } else if (field == 2) {
            sub.each([&](int f, int, uint64_t v, const std::string& b) {
                if (f == 3) m.model_type = int(v);
                if (f == 24) m.treat_whitespace_as_suffix = v != 0;
                if (f == 35) m.byte_fallback = v != 0;
                if (f == 40) m.unk_id = int(int32_t(v));
                if (f == 41) m.bos_id = int(int32_t(v));
                if (f == 42) m.eos_id = int(int32_t(v));
                if (f == 44) m.unk_surface = b;
                if (f == 45) m.unk_piece = b;
                if (f == 46) m.bos_piece = b;
                if (f == 47) m.eos_piece = b;
            });
        } else if (field == 3) {
            sub.each([&](int f, int, uint64_t v, const std::string& b) {
                if (f == 1) m.normalizer_name = b;
                if (f == 2) m.has_charsmap = !b.empty();
                if (f == 3) m.add_dummy_prefix = v != 0;
                if (f == 4) m.remove_extra_whitespaces = v != 0;
                if (f == 5) m.escape_whitespaces = v != 0;
            });
        }
        inner_ok &= sub.ok;
    });
    D2M_CHECK(w.ok && inner_ok && !m.pieces.empty(), InvalidInput, "not a sentencepiece model: ", path,
              " (the protobuf could not be read)");
    for (const auto& pc : m.pieces) {
        const int t = static_cast<int>(pc.type);
        D2M_CHECK(t >= 1 && t <= 6, InvalidInput, "sentencepiece model ", path, ": piece \"", pc.text,
                  "\" has type ", t, "; expected 1..6 (NORMAL .. BYTE)");
        if (pc.type == SpmPieceType::Byte) {
            const std::string& b = pc.text;
            D2M_CHECK(b.size() == 6 && b.compare(0, 3, "<0x") == 0 && b[5] == '>' && std::isxdigit(uint8_t(b[3])) &&
                          std::isxdigit(uint8_t(b[4])),
                      InvalidInput, "sentencepiece model ", path, ": byte piece \"", b, "\" is not <0xHH>");
        }
    }
    return m;
}

std::string spm_unsupported_reason(const SpmModelProto& m) {
    const int64_t n = int64_t(m.pieces.size());
    if (m.model_type != 2) return "the sentencepiece model is not BPE (model_type " + std::to_string(m.model_type) + ")";
    if (!m.normalizer_name.empty() && m.normalizer_name != "identity")
        return "its normalizer rule \"" + m.normalizer_name + "\" has no exact equivalent without sentencepiece's normalizer";
    if (m.has_charsmap) return "its normalizer carries a character map";
    if (m.remove_extra_whitespaces) return "it folds whitespace (remove_extra_whitespaces)";
    if (!m.escape_whitespaces) return "it does not escape whitespace";
    if (m.treat_whitespace_as_suffix) return "it treats whitespace as a suffix";
    if (m.unk_id < 0 || m.unk_id >= n || m.bos_id >= n || m.eos_id >= n) return "its unk / bos / eos ids are out of the vocabulary";
    return {};
}

std::string spm_unescape_spaces(const std::string& piece) {
    std::string out;
    out.reserve(piece.size());
    for (size_t i = 0; i < piece.size();) {
        if (piece.compare(i, 3, kSpaceSymbol) == 0) {
            out.push_back(' ');
            i += 3;
        } else {
            out.push_back(piece[i++]);
        }
    }
    return out;
}

std::string spm_streamed_piece(const std::string& piece, SpmPieceType type, bool after_bos,
                               const std::string& unk_surface) {
    switch (type) {
        case SpmPieceType::Control:
        case SpmPieceType::Unused: return {};
        case SpmPieceType::Unknown: return unk_surface;
        case SpmPieceType::Byte: return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
        default: break;
    }
    std::string out = spm_unescape_spaces(piece);
    if (after_bos && !out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
}

}  // namespace den2moe
