// Fuzz target: the llama2.c legacy checkpoint header (io/llama2c_header.h parse_llama2c_header). Input:
// the 28 header bytes (seven int32; zero-padded when shorter), then 8 bytes of the file size the header
// is checked against (little-endian int64; absent: the input's length). Property beyond "house errors
// only": an accepted header's formula (embedding, layers, final norm, RoPE tables, classifier) adds up to
// exactly the file size, with every size positive, so the reader can never read outside the file.
#include "fuzz_support.h"

#include "io/llama2c_header.h"

#include <algorithm>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    int32_t h[7] = {0};
    std::memcpy(h, data, std::min<size_t>(size, sizeof h));
    int64_t file_size = int64_t(size);
    if (size >= 36) std::memcpy(&file_size, data + 28, 8);
    den2moe::fuzz::expect_house_errors_only([&] {
        const den2moe::Llama2cLayout l = den2moe::parse_llama2c_header(h, file_size, "fuzz/model.bin");
        const den2moe::LlamaConfig& c = l.config;
        const __int128 dim = c.n_embd, hidden = c.n_ff, kv = l.kv_dim;
        const __int128 per_layer = 2 * dim + 2 * dim * dim + 2 * dim * kv + 3 * dim * hidden;
        const __int128 floats = __int128(c.vocab_size) * dim * (l.shared ? 1 : 2) + c.n_layer * per_layer + dim +
                                __int128(l.seq_len) * c.head_dim;
        if (c.n_embd <= 0 || c.n_ff <= 0 || c.n_layer <= 0 || c.vocab_size <= 0 || l.seq_len <= 0 || l.kv_dim <= 0 ||
            c.head_dim * c.n_head != c.n_embd || floats != l.n_floats || l.n_rope != l.seq_len * c.head_dim ||
            den2moe::kLlama2cHeaderBytes + 4 * __int128(l.n_floats) != file_size) {
            std::fprintf(stderr, "FINDING: an accepted llama2.c header does not add up to the file size\n");
            std::abort();
        }
    });
    return 0;
}
