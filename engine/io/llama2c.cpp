// llama2.c legacy (v0) checkpoint reader. The float payload is read once into one float32 blob;
// every returned tensor is a view of it (a per-layer slice of the layer-major arrays), under HF
// names and NOT permuted: the config says RopeStyle::Interleaved. The file size must equal the
// format's formula exactly, otherwise the error lists expected vs found and the formula's parts.
#include "io/llama2c.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "io/tensor_names.h"

namespace den2moe {

namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { if (f) std::fclose(f); }
};

}  // namespace

Llama2cCheckpoint load_llama2c(const std::string& path) {
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    D2M_CHECK(f, Io, "cannot open llama2.c checkpoint ", path, ": ", std::strerror(errno));
    D2M_CHECK(std::fseek(f.get(), 0, SEEK_END) == 0, Io, "cannot seek in ", path);
    const long file_size_l = std::ftell(f.get());
    D2M_CHECK(file_size_l >= 0, Io, "cannot get the size of ", path);
    const int64_t file_size = file_size_l;
    std::rewind(f.get());

    constexpr int64_t kHeaderBytes = 7 * 4;
    int32_t h[7] = {0};
    D2M_CHECK(file_size >= kHeaderBytes && std::fread(h, 4, 7, f.get()) == 7, InvalidInput,
              "llama2.c checkpoint ", path, " is ", file_size,
              " bytes long, shorter than its 28-byte header",
              Hint{"the file is truncated or not a llama2.c .bin checkpoint"});
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
    const int64_t expected = kHeaderBytes + 4 * n_floats;
    D2M_CHECK(file_size == expected, InvalidInput, "llama2.c checkpoint ", path, " is ", file_size,
              " bytes, but its header (", header_str, ") implies ", expected, " bytes = 28 header + 4 x (",
              n_emb, " embedding + ", n_layer, " layers x ", n_per_layer, " + ", dim, " final norm + ",
              n_rope, " RoPE tables", shared ? "" : str(" + ", n_cls, " classifier"), ") (expected ",
              expected, ", found ", file_size, ")",
              Hint{file_size < expected ? "the file is truncated; download or export it again"
                                        : "the file has trailing data; is it a llama2.c legacy (v0) export?"});

    at::Tensor blob = at::empty({n_floats}, at::kFloat);  // [n_floats]
    D2M_CHECK(std::fread(blob.data_ptr<float>(), 4, size_t(n_floats), f.get()) == size_t(n_floats), Io,
              "error while reading ", path, ": ", std::strerror(errno));

    Llama2cCheckpoint ck;
    ck.seq_len = seq_len;
    LlamaConfig& cfg = ck.config;
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

    int64_t off = 0;
    // Next `rows x cols` block of `n_layer` layers: returns [L, rows, cols] (cols = 0: [L, rows]).
    auto take = [&](int64_t n_outer, int64_t rows, int64_t cols) {
        const int64_t per = cols > 0 ? rows * cols : rows;
        at::Tensor t = blob.narrow(0, off, n_outer * per);
        off += n_outer * per;
        return cols > 0 ? t.view({n_outer, rows, cols}) : t.view({n_outer, rows});
    };
    auto& out = ck.tensors;
    at::Tensor emb = take(1, vocab, dim)[0];               // [V, D]
    at::Tensor attn_norm = take(n_layer, dim, 0);          // [L, D]
    at::Tensor wq = take(n_layer, dim, dim);               // [L, H*Dh, D]
    at::Tensor wk = take(n_layer, kv_dim, dim);            // [L, Hkv*Dh, D]
    at::Tensor wv = take(n_layer, kv_dim, dim);            // [L, Hkv*Dh, D]
    at::Tensor wo = take(n_layer, dim, dim);               // [L, D, H*Dh]
    at::Tensor ffn_norm = take(n_layer, dim, 0);           // [L, D]
    at::Tensor w1 = take(n_layer, hidden, dim);            // [L, F, D] gate
    at::Tensor w2 = take(n_layer, dim, hidden);            // [L, D, F] down
    at::Tensor w3 = take(n_layer, hidden, dim);            // [L, F, D] up
    at::Tensor final_norm = take(1, dim, 0)[0];            // [D]
    off += n_rope;                                         // legacy RoPE tables: run.c recomputes them
    at::Tensor cls = shared ? emb : take(1, vocab, dim)[0];  // [V, D]
    D2M_ASSERT(off == n_floats);

    out[names::embed_tokens()] = emb;
    out[names::final_norm()] = final_norm;
    out[names::lm_head()] = cls;  // shared: the embedding itself, so consumers need no special case
    for (int il = 0; il < int(n_layer); ++il) {
        out[names::attn_norm(il)] = attn_norm[il];
        out[names::q_proj(il)] = wq[il];
        out[names::k_proj(il)] = wk[il];
        out[names::v_proj(il)] = wv[il];
        out[names::o_proj(il)] = wo[il];
        out[names::ffn_norm(il)] = ffn_norm[il];
        out[names::gate_proj(il)] = w1[il];
        out[names::down_proj(il)] = w2[il];
        out[names::up_proj(il)] = w3[il];
    }
    return ck;
}

}  // namespace den2moe
