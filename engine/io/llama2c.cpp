// llama2.c legacy (v0) checkpoint reader. The float payload is read once into one float32 blob;
// every returned tensor is a view of it (a per-layer slice of the layer-major arrays), under HF
// names and NOT permuted: the config says RopeStyle::Interleaved. The header (io/llama2c_header.h, torch-free)
// is checked before anything is allocated: the file size must equal the
// format's formula exactly, otherwise the error lists expected vs found and the formula's parts.
#include "io/llama2c.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "io/llama2c_header.h"
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

    int32_t h[7] = {0};
    D2M_CHECK(file_size >= kLlama2cHeaderBytes && std::fread(h, 4, 7, f.get()) == 7, InvalidInput,
              "llama2.c checkpoint ", path, " is ", file_size,
              " bytes long, shorter than its 28-byte header",
              Hint{"the file is truncated or not a llama2.c .bin checkpoint"});
    const Llama2cLayout layout = parse_llama2c_header(h, file_size, path);  // before any allocation
    const int64_t dim = layout.config.n_embd, hidden = layout.config.n_ff, n_layer = layout.config.n_layer;
    const int64_t vocab = layout.config.vocab_size, kv_dim = layout.kv_dim, n_rope = layout.n_rope;
    const int64_t n_floats = layout.n_floats;
    const bool shared = layout.shared;

    at::Tensor blob = at::empty({n_floats}, at::kFloat);  // [n_floats]
    D2M_CHECK(std::fread(blob.data_ptr<float>(), 4, size_t(n_floats), f.get()) == size_t(n_floats), Io,
              "error while reading ", path, ": ", std::strerror(errno));

    Llama2cCheckpoint ck;
    ck.seq_len = layout.seq_len;
    ck.config = layout.config;

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
