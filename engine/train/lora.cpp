// LoRA adapters: see train/lora.h.
#include "train/lora.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "core/error.h"

namespace den2moe {

namespace {
std::string module_of(const std::string& weight) {
    const std::string suffix = ".weight";
    if (weight.size() > suffix.size() && weight.compare(weight.size() - suffix.size(), suffix.size(), suffix) == 0)
        return weight.substr(0, weight.size() - suffix.size());
    return weight;
}
thread_local at::Generator* t_dropout = nullptr;  // a ThreadDropout of this thread, if any
bool ends_with_module(const std::string& module, const std::string& target) {
    // PEFT: the module's full name equals the target or ends with "." + target
    if (module == target) return true;
    return module.size() > target.size() + 1 &&
           module.compare(module.size() - target.size(), target.size(), target) == 0 &&
           module[module.size() - target.size() - 1] == '.';
}
}  // namespace

LoraSet::LoraSet(int64_t rank, double alpha, double dropout, uint64_t seed)
    : rank_(rank),
      alpha_(alpha),
      dropout_(dropout),
      gen_(at::detail::createCPUGenerator(seed * 2654435761ull + 1)),
      init_gen_(at::detail::createCPUGenerator(seed)) {
    D2M_CHECK(rank >= 1, InvalidInput, "LoRA rank must be >= 1, got ", rank);
    D2M_CHECK(alpha > 0, InvalidInput, "LoRA alpha must be > 0, got ", alpha);
    D2M_CHECK(dropout >= 0 && dropout < 1, InvalidInput, "LoRA dropout must be in [0, 1), got ", dropout);
}

std::string LoraSet::a_name(const std::string& weight) { return module_of(weight) + ".lora_A.weight"; }
std::string LoraSet::b_name(const std::string& weight) { return module_of(weight) + ".lora_B.weight"; }

std::vector<std::string> LoraSet::add_targets(const std::map<std::string, at::Tensor>& named,
                                              const std::vector<std::string>& suffixes) {
    std::vector<std::string> added;
    for (const auto& kv : named) {
        const at::Tensor& w = kv.second;
        if (w.dim() != 2) continue;
        const std::string module = module_of(kv.first);
        if (module == kv.first) continue;  // not a ".weight"
        bool hit = false;
        for (const auto& s : suffixes) hit = hit || ends_with_module(module, s);
        if (!hit) continue;
        const int64_t out = w.size(0), in = w.size(1);
        const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // kaiming_uniform_(a = sqrt(5))
        Adapter a;
        a.A = at::empty({rank_, in}, at::kFloat).uniform_(-bound, bound, init_gen_).to(w.options());
        a.B = at::zeros({out, rank_}, w.options());
        adapters_[kv.first] = a;
        added.push_back(kv.first);
    }
    return added;
}

at::Tensor LoraSet::delta(const std::string& weight, const at::Tensor& x) const {
    auto it = adapters_.find(weight);
    if (it == adapters_.end()) return {};
    at::Tensor h = x;
    if (training_ && dropout_ > 0) {
        // the mask is drawn on the CPU from this set's generator (same masks on every device)
        at::Tensor keep = at::empty(x.sizes(), at::kFloat).bernoulli_(1.0 - dropout_, t_dropout ? *t_dropout : gen_);
        h = x * keep.to(x.options()) * (1.0 / (1.0 - dropout_));
    }
    const at::Tensor& A = it->second.A;
    const at::Tensor& B = it->second.B;
    return at::linear(at::linear(h, A), B) * scale();
}

at::Tensor LoraSet::merged(const at::Tensor& W, const at::Tensor& A, const at::Tensor& B) const {
    return W.to(at::kFloat) + at::mm(B.to(at::kFloat), A.to(at::kFloat)) * scale();
}

LoraSet::ThreadDropout::ThreadDropout(uint64_t seed) : gen_(at::detail::createCPUGenerator(seed)), prev_(t_dropout) {
    t_dropout = &gen_;
}

LoraSet::ThreadDropout::~ThreadDropout() { t_dropout = prev_; }

void LoraSet::reseed_dropout(uint64_t seed) { gen_.set_current_seed(seed); }

at::Tensor LoraSet::rng_state() const { return gen_.get_state(); }

void LoraSet::set_rng_state(const at::Tensor& state) { gen_.set_state(state); }

}  // namespace den2moe
