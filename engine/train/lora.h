// LoRA adapters (Hu et al.; PEFT's LoraLayer as DIVE uses it, DIVE-FLAP.md §6) on named linear
// layers of a LlamaModel, given to its Train mode as model/llama.h LinearAdapters:
//   y = W·x (+ b) + scale · B·A·dropout(x),   A [r, in] ~ U(−1/√in, 1/√in) (kaiming_uniform, a = √5),
//   B [out, r] = 0, scale = alpha / r, dropout on the adapter's input only (each layer its own mask).
// Targets are chosen as PEFT's target_modules: a linear layer whose module name (the weight's name
// without ".weight") ends with one of the given suffixes. Merging folds scale·B·A into W in float32.
// Dropout masks come from the set's own CPU generator (seeded, saved in checkpoints), so a run and
// its resumption draw the same masks on any device.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "model/llama.h"

namespace den2moe {

class LoraSet : public LinearAdapters {
public:
    struct Adapter {
        at::Tensor A;  ///< [r, in], compute dtype, on the model's device
        at::Tensor B;  ///< [out, r]
    };

    LoraSet(int64_t rank, double alpha, double dropout, uint64_t seed);

    /// Adapters for every 2-D weight of `named` (tensor name -> weight) whose module name ends with
    /// one of `suffixes` ("gate_proj", ...), in name order; A drawn from the seeded generator, B = 0.
    /// Returns the targeted weight names.
    std::vector<std::string> add_targets(const std::map<std::string, at::Tensor>& named,
                                         const std::vector<std::string>& suffixes);

    at::Tensor delta(const std::string& weight, const at::Tensor& x) const override;

    /// Dropout on (training) or off (evaluation, merging checks).
    void set_training(bool on) { training_ = on; }
    double scale() const { return alpha_ / static_cast<double>(rank_); }
    int64_t rank() const { return rank_; }
    const std::map<std::string, Adapter>& adapters() const { return adapters_; }
    std::map<std::string, Adapter>& adapters() { return adapters_; }
    /// PEFT's parameter names: "<module>.lora_A.weight" / "<module>.lora_B.weight".
    static std::string a_name(const std::string& weight);
    static std::string b_name(const std::string& weight);
    /// W + scale·B·A in float32 (`W` the base weight in any dtype; A and B as given, e.g. masters).
    at::Tensor merged(const at::Tensor& W, const at::Tensor& A, const at::Tensor& B) const;

    /// Restart the dropout masks from `seed` (data-parallel ranks: a function of seed, rank and step).
    void reseed_dropout(uint64_t seed);
    /// While alive, the calling thread's dropout masks (of every LoraSet) come from its own CPU
    /// generator seeded with `seed` instead of the set's: the workers that split a micro-batch
    /// (train/trainer.cpp) each draw a stream that depends on (seed, step, slice), not on timing.
    class ThreadDropout {
    public:
        explicit ThreadDropout(uint64_t seed);
        ~ThreadDropout();
        ThreadDropout(const ThreadDropout&) = delete;
        ThreadDropout& operator=(const ThreadDropout&) = delete;

    private:
        at::Generator gen_;
        at::Generator* prev_;
    };
    /// The dropout generator's state (a byte tensor) for checkpoints, and its restoration.
    at::Tensor rng_state() const;
    void set_rng_state(const at::Tensor& state);

private:
    int64_t rank_;
    double alpha_, dropout_;
    bool training_ = true;
    mutable at::Generator gen_;  // dropout masks
    at::Generator init_gen_;     // A's initialisation
    std::map<std::string, Adapter> adapters_;
};

}  // namespace den2moe
