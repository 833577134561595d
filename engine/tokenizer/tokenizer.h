// Tokenizer interface with three implementations: sentencepiece tokenizer.model through the real
// library (loaded from a dlopen'd shim so its bundled protobuf never meets torch's), llama2.c's
// tokenizer.bin (encode/decode exactly as run.c does), and byte-level BPE (GPT-2, Qwen2/Qwen3) from
// vocab.json + merges.txt or tokenizer.json (encode/decode as Hugging Face tokenizers does).
#pragma once

#include "core/text.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace den2moe {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    /// Text -> ids. `add_bos`/`add_eos` prepend/append the special ids.
    virtual std::vector<int> encode(const std::string& text, bool add_bos, bool add_eos) const = 0;
    /// ids -> the tokenizer's own decode (special ids dropped). sentencepiece: its Decode (valid
    /// UTF-8); llama2.c: run.c's bytes, which may not be valid UTF-8 (decode_text repairs them).
    virtual std::string decode(const std::vector<int>& ids) const = 0;
    /// The bytes `id` adds to the decoded text after `prev`: what run.c prints (leading space
    /// stripped after BOS, <0xHH> pieces as the raw byte). May end inside a UTF-8 character.
    virtual std::string decode_piece(int prev, int id) const = 0;
    virtual std::string piece(int id) const = 0;   ///< raw vocabulary piece
    virtual int vocab_size() const = 0;
    virtual int bos_id() const = 0;
    virtual int eos_id() const = 0;
    virtual std::string kind() const = 0;           ///< "sentencepiece", "llama2c" or "byte-level BPE"
    /// How this tokenizer's own decode turns bytes that are not valid UTF-8 into text (core/text.h).
    /// Default: per maximal subpart, as Hugging Face tokenizers' byte-level decode does.
    virtual text::Repair repair() const { return text::Repair::MaximalSubpart; }

    /// Load by file type: *.model -> sentencepiece, *.bin -> llama2.c (needs `vocab_size`, which
    /// the .bin does not store), tokenizer.json / vocab.json / merges.txt -> byte-level BPE; a folder:
    /// its tokenizer.model, else its tokenizer.json or vocab.json + merges.txt (find_tokenizer's
    /// order). Errors name the file.
    static std::unique_ptr<Tokenizer> load(const std::string& path, int vocab_size_hint = 0);
};

/// The text of `ids` as the model's tokenizer decodes it, always valid UTF-8: decode() repaired
/// with repair() (sentencepiece's Decode already is; llama2.c's bytes get sentencepiece's rule).
std::string decode_text(const Tokenizer& tok, const std::vector<int>& ids);
/// Each token's bytes in the decoded text: decode_piece(previous id, id), `prev` before the first;
/// "" for BOS and EOS.
std::vector<std::string> token_bytes(const Tokenizer& tok, const std::vector<int>& ids, int prev = -1);
/// Tokens grouped into spans of whole grapheme clusters; ill-formed bytes under tok.repair().
std::vector<text::TokenSpan> token_spans(const Tokenizer& tok, const std::vector<std::string>& bytes);

/// tokenizer.model through the sentencepiece library (the dlopen'd shim), or in process without it
/// (load_sentencepiece_native) where $D2M_SPM=native or the build is AddressSanitized (the shim cannot load
/// there); $D2M_SPM=shim forces the library. Both give the same ids and text (tests/engine/tokenizer).
std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& path);
/// SentencePiece BPE without the library (tokenizer/spm_native.cpp): BPE models with the identity normalizer
/// (Llama-family); anything else is refused with the reason.
std::unique_ptr<Tokenizer> load_sentencepiece_native(const std::string& path);
/// "shim" or "native": what load_sentencepiece uses ($D2M_SPM, else native in an AddressSanitizer build,
/// else shim); an unknown $D2M_SPM is an InvalidInput error naming the values.
std::string sentencepiece_backend();
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int vocab_size);
/// Byte-level BPE from a folder (tokenizer.json if present, else vocab.json + merges.txt with
/// added_tokens.json and tokenizer_config.json: Qwen2Tokenizer -> Qwen2's regex and NFC, else GPT-2's
/// regex), or from tokenizer.json / vocab.json named directly. bos/eos from tokenizer_config.json.
/// decode() and decode_piece() drop special added tokens (skip_special_tokens); piece() is the
/// vocabulary's byte-level form (added tokens: their content).
std::unique_ptr<Tokenizer> load_bpe(const std::string& path);
/// True for a folder, tokenizer.json, vocab.json or merges.txt: the paths load_bpe reads.
bool is_bpe_tokenizer_path(const std::string& path);
/// The files that make up the tokenizer at `path` (what a copy of it must carry): the file itself for
/// sentencepiece / llama2.c; for byte-level BPE the present ones of vocab.json, merges.txt,
/// added_tokens.json (or tokenizer.json), tokenizer_config.json, special_tokens_map.json beside it.
std::vector<std::string> tokenizer_files(const std::string& path);

/// Where the sentencepiece shim module lives: $D2M_SPM_SHIM, else beside the executable, else the
/// build-tree path compiled in.
std::string spm_shim_path();

}  // namespace den2moe
