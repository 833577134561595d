// bfloat16 <-> float by bit manipulation, shared by the CPU kernels' row loops (inlined; the kernels
// read and write bf16 tensors as uint16_t).
#pragma once

#include <cstdint>
#include <cstring>

namespace den2moe::kernels::detail {

inline float bf16_to_float(uint16_t b) {
    uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline uint16_t float_to_bf16(float f) {  // round to nearest even (inputs are finite)
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

}  // namespace den2moe::kernels::detail
