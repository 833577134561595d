// Shape glossary used in every "// [..]" comment of the engine:
//   B batch, T tokens (sequence), D hidden size, H query heads, Hkv key/value heads, Dh head dim,
//   F FFN width, E experts, K top-k, L layers, V vocabulary, N samples/domains.
// Counters follow llama.cpp: n_layer, n_head, n_head_kv, n_embd, n_ff, n_expert, n_expert_used; il = layer index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace den2moe {

using Shape = std::vector<int64_t>;

inline std::string shape_str(const Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) {
        if (i) out += ", ";
        out += std::to_string(s[i]);
    }
    return out + "]";
}

}  // namespace den2moe
