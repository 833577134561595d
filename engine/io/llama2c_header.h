// The llama2.c legacy (v0) checkpoint header without torch (the fuzz build compiles it): seven int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: unshared classifier), seq_len)
// checked against the file's size by the format's formula, computed in 128 bits so no header can make it
// overflow. Result: the model's LlamaConfig (validated) and the float counts io/llama2c.cpp reads.
#pragma once

#include <cstdint>
#include <string>

#include "io/hf_config.h"

namespace den2moe {

struct Llama2cLayout {
    LlamaConfig config;      ///< rope_style = Interleaved, tie = shared classifier, validated
    int64_t seq_len = 0;     ///< from the header
    bool shared = true;      ///< the classifier is the embedding (vocab_size > 0 in the header)
    int64_t kv_dim = 0;      ///< dim * n_kv_heads / n_heads
    int64_t n_rope = 0;      ///< floats of the legacy RoPE tables (seq_len * head_size), skipped
    int64_t n_floats = 0;    ///< every float after the header; the file is 28 + 4 * n_floats bytes
};

constexpr int64_t kLlama2cHeaderBytes = 7 * 4;

/// Checks the header `h` (the file's first 28 bytes as int32) of a `file_size`-byte file named `path`:
/// the "ak42" magic of newer exports is refused (Incompatible), impossible sizes and a file size other than
/// the formula's are refused (InvalidInput, expected vs found with the formula's parts).
Llama2cLayout parse_llama2c_header(const int32_t h[7], int64_t file_size, const std::string& path);

}  // namespace den2moe
