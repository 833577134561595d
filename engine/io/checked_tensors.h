// Checked tensor fetches for checkpoint loaders (llama.cpp's create_tensor): a tensor is present,
// holds a float dtype, and has the shape the config implies — else Error(Incompatible) naming the
// tensor, the file holding it, expected vs found, and a hint — and holds no NaN / Inf. The native MoE
// loader and the Hugging Face MoE loader both read through it, so their errors are equally precise.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <set>
#include <string>

#include "core/shapes.h"
#include "io/safetensors.h"

namespace den2moe {

/// Throws Error(InvalidInput) when the floating-point tensor `t` (a weight, in its stored dtype: float32,
/// float16, bfloat16 or float64) holds NaN or ±Inf, naming the tensor, `file`, how many values and the
/// first index. Reads the stored bits (exponent all ones), in parallel, without a copy: a 7 B bf16
/// checkpoint costs about a second. Other dtypes pass.
void check_finite_weight(const at::Tensor& t, const std::string& name, const std::string& file);

class CheckedTensors {
public:
    /// `container`: the file or index the tensors come from (in "missing" errors); `describes`: what
    /// the config says the checkpoint is ("config.json describes a MixtralForCausalLM with 32 layers");
    /// `config_name`: what implies the shapes ("config.json", "moe_config.json").
    CheckedTensors(const SafetensorsReader& reader, std::string container, std::string describes,
                   std::string config_name);

    bool has(const std::string& name) const { return r_.has(name); }
    /// The tensor in its stored dtype; `il` >= 0 names the layer in the "missing" error.
    at::Tensor fetch(const std::string& name, const Shape& shape, int il = -1, int n_layer = 0);
    /// fetch() when present, else an undefined tensor.
    at::Tensor fetch_optional(const std::string& name, const Shape& shape, int il = -1);
    /// Names fetched so far (for "unused tensor" warnings).
    const std::set<std::string>& used() const { return used_; }
    void mark_used(const std::string& name) { used_.insert(name); }
    /// tensor -> stored dtype of everything fetched.
    const std::map<std::string, std::string>& stored_dtypes() const { return dtypes_; }

private:
    const SafetensorsReader& r_;
    std::string container_, describes_, config_name_;
    std::set<std::string> used_;
    std::map<std::string, std::string> dtypes_;
};

}  // namespace den2moe
