// Tokenizer interface with two implementations: sentencepiece tokenizer.model through the real
// library (loaded from a dlopen'd shim so its bundled protobuf never meets torch's), and llama2.c's
// tokenizer.bin (encode/decode exactly as run.c does).
#pragma once

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
    /// ids -> text (special ids dropped).
    virtual std::string decode(const std::vector<int>& ids) const = 0;
    /// The text run.c prints for `id` following `prev` (streaming decode; leading space stripped
    /// after BOS, <0xHH> pieces as raw bytes).
    virtual std::string decode_piece(int prev, int id) const = 0;
    virtual std::string piece(int id) const = 0;   ///< raw vocabulary piece
    virtual int vocab_size() const = 0;
    virtual int bos_id() const = 0;
    virtual int eos_id() const = 0;
    virtual std::string kind() const = 0;           ///< "sentencepiece" or "llama2c"

    /// Load by file type: *.model -> sentencepiece, *.bin -> llama2.c (needs `vocab_size`, which
    /// the .bin does not store). Errors name the file.
    static std::unique_ptr<Tokenizer> load(const std::string& path, int vocab_size_hint = 0);
};

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& path);
std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path, int vocab_size);

/// Where the sentencepiece shim module lives: $D2M_SPM_SHIM, else beside the executable, else the
/// build-tree path compiled in.
std::string spm_shim_path();

}  // namespace den2moe
