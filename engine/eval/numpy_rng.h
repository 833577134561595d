// NumPy's legacy RandomState(seed) draw rules on std::mt19937 (whose raw 32-bit outputs equal NumPy's
// MT19937 seeded with an integer), so MTEB's seeded steps — the classification undersampling shuffle and
// sklearn's MiniBatchKMeans — draw the same numbers here as in Python (shared/docs/MOEE-MTEB.md §B0).
// tests/engine/eval/test_classifiers.cpp checks the streams against numpy.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace den2moe {

class NumpyRandomState {
public:
    explicit NumpyRandomState(uint32_t seed = 42) : mt_(seed) {}
    uint32_t next32() { return static_cast<uint32_t>(mt_()); }
    /// random_interval(max): a value in [0, max] by masked rejection (legacy shuffle / permutation).
    uint64_t interval(uint64_t max);
    /// randint(low, high) for one value (int64 dtype, range < 2^32): masked rejection on 32-bit draws.
    int64_t randint(int64_t low, int64_t high);
    std::vector<int64_t> randint(int64_t low, int64_t high, int64_t size);
    /// random_sample() / uniform(0, 1): 53-bit double from two draws.
    double random_sample();
    /// shuffle(x) of a 1-D array in place: for i = n-1 .. 1, swap x[i] with x[interval(i)].
    template <class T>
    void shuffle(std::vector<T>& x) {
        for (size_t i = x.size(); i-- > 1;) {
            const size_t j = static_cast<size_t>(interval(i));
            std::swap(x[i], x[j]);
        }
    }
    /// permutation(n) = shuffle(arange(n)).
    std::vector<int64_t> permutation(int64_t n);
    /// choice(n, size=m, replace=False) without p = permutation(n)[:m].
    std::vector<int64_t> choice_without_replacement(int64_t n, int64_t m);

private:
    std::mt19937 mt_;
};

}  // namespace den2moe
