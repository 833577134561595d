// A sentencepiece tokenizer.model read without the sentencepiece or protobuf libraries (a minimal protobuf
// wire reader over the fields sentencepiece_model.proto defines), and the piece-to-text rules every
// sentencepiece tokenizer here shares. Used by the tokenizer.json exporter (spm_json) and the in-process
// BPE encoder (spm_native), and by the shim-backed tokenizer for its streaming decode.
#pragma once

#include <string>
#include <vector>

namespace den2moe {

/// sentencepiece_model.proto's piece types.
enum class SpmPieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct SpmModelProto {
    struct Piece {
        std::string text;
        float score = 0.0f;
        SpmPieceType type = SpmPieceType::Normal;
    };
    std::vector<Piece> pieces;
    int model_type = 1;  ///< trainer_spec.model_type: UNIGRAM 1, BPE 2, WORD 3, CHAR 4
    bool byte_fallback = false;
    int unk_id = 0, bos_id = 1, eos_id = 2;  ///< trainer_spec's ids (defaults as the proto's)
    std::string unk_piece = "<unk>", bos_piece = "<s>", eos_piece = "</s>";
    std::string unk_surface = " \xE2\x81\x87 ";  ///< what Decode writes for <unk> (" ⁇ ")
    std::string normalizer_name;                  ///< normalizer_spec.name ("identity", "nmt_nfkc", ...)
    bool has_charsmap = false;                    ///< normalizer_spec.precompiled_charsmap is not empty
    bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
    bool treat_whitespace_as_suffix = false;
};

/// Reads `path`; fails (InvalidInput, naming the file) when the protobuf cannot be read or holds no pieces.
SpmModelProto read_sentencepiece_model(const std::string& path);

/// Why an exact encoder without sentencepiece's normalizer cannot reproduce this model ("" when it can):
/// BPE, the identity normalizer (no character map), whitespace escaped, not folded, not a suffix, ids in range.
std::string spm_unsupported_reason(const SpmModelProto& m);

/// `piece` with every "▁" (U+2581) turned into a space.
std::string spm_unescape_spaces(const std::string& piece);

/// The bytes piece `id` adds to a streamed text after `prev` (run.c's rules): "" for control and unused
/// pieces, the unknown surface for <unk>, the raw byte for <0xHH>, "▁" -> " ", and the leading space dropped
/// right after BOS.
std::string spm_streamed_piece(const std::string& piece, SpmPieceType type, bool after_bos,
                               const std::string& unk_surface);

}  // namespace den2moe
