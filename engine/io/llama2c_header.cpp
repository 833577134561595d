// The llama2.c legacy (v0) checkpoint header: see io/llama2c_header.h.
#include "io/llama2c_header.h"

#include "core/error.h"

namespace den2moe {

Llama2cLayout parse_llama2c_header(const int32_t h[7], int64_t file_size, const std::string& path) {
    // export.py --version 1/2 files start with the magic "ak42" (0x616b3432) and a version.
    D2M_CHECK(uint32_t(h[0]) != 0x616b3432u, Incompatible, "llama2.c checkpoint ", path,
              " is a version-", h[1], " export (magic \"ak42\"); only the legacy v0 format is read",
              Hint{"re-export it with llama2.c's export.py --version 0"});

    const int64_t dim = h[0], hidden = h[1], n_layer = h[2], n_head = h[3], n_head_kv = h[4];
    const bool shared = h[5] > 0;
    const int64_t vocab = h[5] < 0 ? -int64_t(h[5]) : int64_t(h[5]);
    const int64_t seq_len = h[6];
    const std::string header_str =
        str("dim ", dim, ", hidden_dim ", hidden, ", n_layers ", n_layer, ", n_heads ", n_head,
            ", n_kv_heads ", n_head_kv, ", vocab_size ", h[5], ", seq_len ", seq_len);
    D2M_CHECK(dim > 0 && hidden > 0 && n_layer > 0 && n_head > 0 && n_head_kv > 0 && vocab > 0 &&
                  seq_len > 0 && dim % n_head == 0 && n_head % n_head_kv == 0,
              InvalidInput, "llama2.c checkpoint ", path, " has an impossible header (", header_str,
              "): sizes must be positive, dim divisible by n_heads and n_heads by n_kv_heads",
              Hint{"this is not a llama2.c legacy (v0) checkpoint"});
    const int64_t head_size = dim / n_head;
    const int64_t kv_dim = dim * n_head_kv / n_head;

    // Float counts of each part, in file order. Header sizes are up to 2^31 each: the products are
    // formed in 128 bits, and a size no file can have is refused before anything is narrowed.
    using Wide = __int128;
    const Wide w_per_layer = Wide(2) * dim + Wide(2) * dim * dim + Wide(2) * dim * kv_dim + Wide(3) * dim * hidden;
    const Wide w_floats = Wide(vocab) * dim * (shared ? 1 : 2) + Wide(n_layer) * w_per_layer + dim +
                          Wide(seq_len) * head_size;
    D2M_CHECK(w_floats < Wide(int64_t(1) << 60), InvalidInput, "llama2.c checkpoint ", path, " is ", file_size,
              " bytes, but its header (", header_str, ") implies more than 2^62 bytes",
              Hint{"the header is damaged, or this is not a llama2.c legacy (v0) checkpoint"});
    const int64_t n_emb = vocab * dim;                     // [V, D]
    const int64_t n_per_layer = int64_t(w_per_layer);
    const int64_t n_rope = seq_len * head_size;            // cos + sin tables, seq_len * Dh/2 each
    const int64_t n_cls = shared ? 0 : vocab * dim;
    const int64_t n_floats = int64_t(w_floats);
    const int64_t expected = kLlama2cHeaderBytes + 4 * n_floats;
    D2M_CHECK(file_size == expected, InvalidInput, "llama2.c checkpoint ", path, " is ", file_size,
              " bytes, but its header (", header_str, ") implies ", expected, " bytes = 28 header + 4 x (",
              n_emb, " embedding + ", n_layer, " layers x ", n_per_layer, " + ", dim, " final norm + ",
              n_rope, " RoPE tables", shared ? "" : str(" + ", n_cls, " classifier"), ") (expected ",
              expected, ", found ", file_size, ")",
              Hint{file_size < expected ? "the file is truncated; download or export it again"
                                        : "the file has trailing data; is it a llama2.c legacy (v0) export?"});

    Llama2cLayout out;
    out.seq_len = seq_len;
    out.shared = shared;
    out.kv_dim = kv_dim;
    out.n_rope = n_rope;
    out.n_floats = n_floats;
    LlamaConfig& cfg = out.config;
    cfg.architecture = "LlamaForCausalLM";
    cfg.model_type = "llama";
    cfg.vocab_size = vocab;
    cfg.n_embd = dim;
    cfg.n_ff = hidden;
    cfg.n_layer = n_layer;
    cfg.n_head = n_head;
    cfg.n_head_kv = n_head_kv;
    cfg.head_dim = head_size;
    cfg.max_position_embeddings = seq_len;
    cfg.rms_norm_eps = 1e-5;
    cfg.rope_theta = 10000.0;
    cfg.tie_word_embeddings = shared;
    cfg.rope_style = RopeStyle::Interleaved;
    cfg.torch_dtype = "float32";
    cfg.hidden_act = "silu";
    cfg.validate(path);

    return out;
}

}  // namespace den2moe
