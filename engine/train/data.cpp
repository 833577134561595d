// Training windows and their seeded order: see train/data.h.
#include "train/data.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "calib/stats_cache.h"
#include "core/error.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "project/project.h"
#include "tokenizer/tokenizer.h"
#include "train/train_settings.h"

namespace den2moe {

namespace {

// stream -> [n, seq] windows (remainder dropped), at most max_windows (0 = all)
at::Tensor cut_windows(const std::vector<int>& stream, int64_t seq, int64_t max_windows) {
    int64_t n = static_cast<int64_t>(stream.size()) / seq;
    if (max_windows > 0) n = std::min(n, max_windows);
    std::vector<int64_t> v(stream.begin(), stream.begin() + n * seq);
    return at::tensor(v, at::kLong).view({n, seq});
}

uint64_t mix(uint64_t x) {  // SplitMix64 finaliser: independent streams from (seed, tag)
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

}  // namespace

int64_t TrainCorpus::n_windows() const {
    int64_t n = 0;
    for (const auto& d : domains) n += d.train.size(0);
    return n;
}

TrainCorpus load_train_corpus(const Project& p, const Tokenizer& tok, const TrainSettings& s, RunContext& ctx) {
    TrainCorpus c;
    c.seq_len = s.seq_len;
    std::vector<std::string> wanted = split_list(s.domains);
    for (const auto& name : wanted) {
        const int64_t i = p.find_domain(name);
        D2M_CHECK(i >= 0, InvalidInput, "training domain '", name, "' is not in the project",
                  Hint{"the project's domains: see `den2moe mine --help` or the project file"});
    }
    std::vector<const ProjectDomain*> doms;
    for (const auto& d : p.domains) {
        const bool listed = wanted.empty() ? d.enabled : std::find(wanted.begin(), wanted.end(), d.name) != wanted.end();
        if (listed) doms.push_back(&d);
    }
    D2M_CHECK(!doms.empty(), InvalidInput, "no training domain: the project has no enabled domain");
    std::string hashes;
    for (size_t i = 0; i < doms.size(); ++i) {
        const ProjectDomain& d = *doms[i];
        ctx.check_cancelled();
        ctx.report("data", static_cast<int64_t>(i), static_cast<int64_t>(doms.size()), d.name);
        TrainDomain td;
        td.name = d.name;
        td.train_files = domain_calib_files(p, d);  // the calibration split is the train split ("train")
        td.test_files = domain_eval_files(p, d);
        std::vector<int> train = tokenize_stream(tok, read_records(domain_calib_corpus(p, d)));
        td.train_tokens = static_cast<int64_t>(train.size());
        td.train = cut_windows(train, s.seq_len, 0);
        D2M_CHECK(td.train.size(0) > 0, InvalidInput, "domain '", d.name, "': its train split has ",
                  train.size(), " tokens, fewer than one window of ", s.seq_len,
                  Hint{"lower --seq-len or leave the domain out (--domains)"});
        std::vector<int> test = tokenize_stream(tok, read_records(domain_eval_corpus(p, d)),
                                                s.eval_windows * s.seq_len);
        td.test = cut_windows(test, s.seq_len, s.eval_windows);
        for (const auto& f : td.train_files) hashes += "train:" + hash_file(f) + ";";
        for (const auto& f : td.test_files) hashes += "test:" + hash_file(f) + ";";
        c.domains.push_back(std::move(td));
    }
    ctx.report("data", static_cast<int64_t>(doms.size()), static_cast<int64_t>(doms.size()));
    c.data_hash = hash_string(hashes);
    // mixture weights
    const std::vector<std::string> items = split_list(s.mixture);
    if (!items.empty()) {
        c.weights.assign(c.domains.size(), items.size() == 1 && items[0] == "equal" ? 1.0 : 0.0);
        for (const auto& it : items) {
            if (it == "equal") continue;
            const auto eq = it.find('=');
            const std::string name = it.substr(0, eq);
            const double w = parse_real_text(it.substr(eq + 1), "weight of domain '" + name + "'");
            bool found = false;
            for (size_t i = 0; i < c.domains.size(); ++i) {
                if (c.domains[i].name == name) {
                    c.weights[i] = w;
                    found = true;
                }
            }
            D2M_CHECK(found, InvalidInput, "training.mixture names domain '", name, "', which is not trained on",
                      Hint{"mixture domains must be among --domains (or the project's enabled domains)"});
        }
        double sum = 0;
        for (double w : c.weights) sum += w;
        D2M_CHECK(sum > 0, InvalidInput, "training.mixture: every domain weighs 0");
    }
    return c;
}

WindowOrder::WindowOrder(std::vector<int64_t> n_windows, std::vector<double> weights, uint64_t seed)
    : n_(std::move(n_windows)), w_(std::move(weights)), seed_(seed) {
    D2M_ASSERT(!n_.empty());
    D2M_ASSERT(w_.empty() || w_.size() == n_.size());
    reset();
}

void WindowOrder::reset() {
    cursor_ = 0;
    pick_.seed(mix(seed_ ^ 0x5eedull));
    const size_t parts = w_.empty() ? 1 : n_.size();
    perm_.assign(parts, {});
    pos_.assign(parts, 0);
    epoch_.assign(parts, 0);
    for (size_t i = 0; i < parts; ++i) reshuffle(i);
}

void WindowOrder::reshuffle(size_t which) {
    const int64_t n = w_.empty() ? std::accumulate(n_.begin(), n_.end(), int64_t{0}) : n_[which];
    std::vector<int64_t>& p = perm_[which];
    p.resize(static_cast<size_t>(n));
    std::iota(p.begin(), p.end(), int64_t{0});
    std::mt19937_64 rng(mix(seed_ + 0x1000003ull * (which + 1) + 0x9e37ull * static_cast<uint64_t>(epoch_[which])));
    for (size_t i = p.size(); i > 1; --i) std::swap(p[i - 1], p[rng() % i]);  // Fisher-Yates
    pos_[which] = 0;
}

std::pair<int64_t, int64_t> WindowOrder::next() {
    size_t part = 0;
    if (!w_.empty()) {
        double total = 0;
        for (double w : w_) total += w;
        const double u = static_cast<double>(pick_() >> 11) * 0x1.0p-53 * total;  // [0, total)
        double acc = 0;
        part = w_.size() - 1;
        for (size_t i = 0; i < w_.size(); ++i) {
            acc += w_[i];
            if (u < acc && w_[i] > 0) {
                part = i;
                break;
            }
        }
        while (w_[part] <= 0) --part;  // u rounding onto a zero-weight tail
    }
    if (pos_[part] >= static_cast<int64_t>(perm_[part].size())) {
        ++epoch_[part];
        reshuffle(part);
    }
    const int64_t g = perm_[part][static_cast<size_t>(pos_[part]++)];
    ++cursor_;
    if (!w_.empty()) return {static_cast<int64_t>(part), g};
    int64_t d = 0, rest = g;  // global window -> (domain, window)
    while (rest >= n_[static_cast<size_t>(d)]) rest -= n_[static_cast<size_t>(d++)];
    return {d, rest};
}

void WindowOrder::seek(int64_t n) {
    reset();
    while (cursor_ < n) next();
}

at::Tensor next_batch(const TrainCorpus& c, WindowOrder& order, int64_t batch) {
    std::vector<at::Tensor> rows;
    for (int64_t b = 0; b < batch; ++b) {
        auto dw = order.next();
        rows.push_back(c.domains[static_cast<size_t>(dw.first)].train[dw.second]);
    }
    return at::stack(rows);  // [batch, seq_len]
}

}  // namespace den2moe
