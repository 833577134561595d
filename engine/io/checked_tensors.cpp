// CheckedTensors: see checked_tensors.h.
#include "io/checked_tensors.h"

#include <ATen/ATen.h>

#include "core/error.h"

namespace den2moe {

namespace {
const char* dtype_label(StDType t) {
    switch (t) {
        case StDType::F32: return "float32";
        case StDType::F16: return "float16";
        case StDType::BF16: return "bfloat16";
        default: return st_dtype_name(t);
    }
}
}  // namespace

CheckedTensors::CheckedTensors(const SafetensorsReader& reader, std::string container, std::string describes,
                               std::string config_name)
    : r_(reader), container_(std::move(container)), describes_(std::move(describes)), config_name_(std::move(config_name)) {}

at::Tensor CheckedTensors::fetch(const std::string& name, const Shape& shape, int il, int n_layer) {
    if (!r_.has(name)) {
        const std::string where =
            il >= 0 ? (n_layer > 0 ? str(" (layer ", il, " of ", n_layer, ")") : str(" (layer ", il, ")")) : std::string();
        D2M_FAIL(Incompatible, "Tensor ", name, where, " is missing from ", container_,
                 Hint{describes_ + "; is the checkpoint complete (all shards present) and " + config_name_ +
                      " from the same checkpoint?"});
    }
    const TensorInfo& ti = r_.info(name);
    D2M_CHECK(ti.dtype == StDType::F32 || ti.dtype == StDType::F16 || ti.dtype == StDType::BF16, Incompatible,
              "Tensor ", name, " in ", r_.describe_source(name), " has dtype ", dtype_label(ti.dtype),
              "; weights must be float32, float16 or bfloat16",
              Hint{"quantized checkpoints (GPTQ, AWQ, bitsandbytes) must be de-quantized first"});
    D2M_CHECK(ti.shape == shape, Incompatible, "Tensor ", name, " has shape ", shape_str(ti.shape), "; ",
              config_name_, " implies ", shape_str(shape), " (tensor in ", r_.describe_source(name), ")",
              Hint{"Is " + config_name_ + " from the same checkpoint?"});
    used_.insert(name);
    at::Tensor t = r_.get(name);
    dtypes_[name] = c10::toString(t.scalar_type());
    return t;
}

at::Tensor CheckedTensors::fetch_optional(const std::string& name, const Shape& shape, int il) {
    return r_.has(name) ? fetch(name, shape, il) : at::Tensor();
}

}  // namespace den2moe
