// Training data of recovery training: the project's domains' train splits, each tokenised as
// "BOS text EOS" records concatenated (data/corpus.h) and cut into windows of seq_len tokens (the
// remainder dropped, as DIVE's 1024-token blocks); held-out windows from the test splits.
// The order of the windows is a pure function of (seed, draw number), so a resumed run continues
// with exactly the windows the uninterrupted run would have seen:
//   uniform over tokens (default, DIVE's one pool): every window once per epoch, in a seeded
//   permutation of all domains' windows, a new permutation each epoch;
//   weighted (a mixture): each draw picks a domain with probability ∝ its weight, then that
//   domain's next window in its own seeded per-epoch permutation.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace den2moe {

class RunContext;
class Tokenizer;
struct Project;
struct TrainSettings;

struct TrainDomain {
    std::string name;
    std::vector<std::string> train_files, test_files;
    at::Tensor train;  ///< [n_windows, seq_len] int64
    at::Tensor test;   ///< [n_test_windows, seq_len] int64 (may be empty)
    int64_t train_tokens = 0;  ///< tokens of the whole train stream
};

struct TrainCorpus {
    std::vector<TrainDomain> domains;
    std::vector<double> weights;  ///< per domain; empty = uniform over tokens
    int64_t seq_len = 0;
    std::string data_hash;        ///< FNV-1a over every train / test file's bytes, in order
    int64_t n_windows() const;
};

/// Read and tokenise the domains named by `s.domains` (all enabled ones when empty), in project
/// order. Throws Error naming the domain when a split is missing or too short for one window.
TrainCorpus load_train_corpus(const Project& project, const Tokenizer& tok, const TrainSettings& s, RunContext& ctx);

/// The seeded window order (see the file comment). next() returns (domain, window).
class WindowOrder {
public:
    WindowOrder(std::vector<int64_t> n_windows, std::vector<double> weights, uint64_t seed);
    std::pair<int64_t, int64_t> next();
    int64_t cursor() const { return cursor_; }
    /// Position at draw `n` (replays the draws before it; cheap: no data is touched).
    void seek(int64_t n);

private:
    std::vector<int64_t> n_;
    std::vector<double> w_;
    uint64_t seed_;
    int64_t cursor_ = 0;
    std::mt19937_64 pick_;                         // weighted: the domain of each draw
    std::vector<std::vector<int64_t>> perm_;       // per domain (weighted) or one global (uniform)
    std::vector<int64_t> pos_, epoch_;
    void reshuffle(size_t which);
    void reset();
};

/// The batch of the next `batch` windows: ids [batch, seq_len] int64.
at::Tensor next_batch(const TrainCorpus& c, WindowOrder& order, int64_t batch);

}  // namespace den2moe
