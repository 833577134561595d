// NumPy legacy draw rules (numpy/random/src/distributions/distributions.c: random_interval,
// random_bounded_uint64_fill with the masked method; mt19937 next_double).
#include "eval/numpy_rng.h"

#include <numeric>

#include "core/error.h"

namespace den2moe {

namespace {
uint64_t smallest_mask(uint64_t max) {
    uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    return mask;
}
}  // namespace

uint64_t NumpyRandomState::interval(uint64_t max) {
    if (max == 0) return 0;
    const uint64_t mask = smallest_mask(max);
    D2M_ASSERT(max <= 0xffffffffull);  // 64-bit draws are never needed at evaluation sizes
    uint64_t v;
    while ((v = (next32() & mask)) > max) {
    }
    return v;
}

int64_t NumpyRandomState::randint(int64_t low, int64_t high) {
    D2M_ASSERT(high > low);
    const uint64_t rng = static_cast<uint64_t>(high - low - 1);
    if (rng == 0) return low;
    D2M_ASSERT(rng < 0xffffffffull);
    const uint64_t mask = smallest_mask(rng);
    uint64_t v;
    while ((v = (next32() & mask)) > rng) {
    }
    return low + static_cast<int64_t>(v);
}

std::vector<int64_t> NumpyRandomState::randint(int64_t low, int64_t high, int64_t size) {
    std::vector<int64_t> out(static_cast<size_t>(size));
    for (auto& v : out) v = randint(low, high);
    return out;
}

double NumpyRandomState::random_sample() {
    const uint32_t a = next32() >> 5, b = next32() >> 6;
    return (double(a) * 67108864.0 + double(b)) / 9007199254740992.0;
}

std::vector<int64_t> NumpyRandomState::permutation(int64_t n) {
    std::vector<int64_t> x(static_cast<size_t>(n));
    std::iota(x.begin(), x.end(), int64_t(0));
    shuffle(x);
    return x;
}

std::vector<int64_t> NumpyRandomState::choice_without_replacement(int64_t n, int64_t m) {
    std::vector<int64_t> p = permutation(n);
    p.resize(static_cast<size_t>(m));
    return p;
}

}  // namespace den2moe
