// CheckedTensors: see checked_tensors.h.
#include "io/checked_tensors.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>

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

namespace {
/// Values of `data[0..n)` whose exponent bits are all ones (NaN or ±Inf), and the first such index.
template <class Bits>
std::pair<int64_t, int64_t> count_non_finite(const Bits* data, int64_t n, Bits exponent_mask) {
    std::atomic<int64_t> count{0}, first{n};
    at::parallel_for(0, n, int64_t(1) << 16, [&](int64_t b, int64_t e) {
        int64_t c = 0;
        for (int64_t i = b; i < e; ++i) c += (data[i] & exponent_mask) == exponent_mask;
        if (c == 0) return;
        count += c;
        for (int64_t i = b; i < e; ++i) {
            if ((data[i] & exponent_mask) == exponent_mask) {
                int64_t f = first.load();
                while (i < f && !first.compare_exchange_weak(f, i)) {
                }
                break;
            }
        }
    });
    return {count.load(), first.load()};
}
}  // namespace

void check_finite_weight(const at::Tensor& t, const std::string& name, const std::string& file) {
    if (!t.defined() || t.numel() == 0) return;
    const at::Tensor c = t.is_contiguous() && t.device().is_cpu() ? t : t.cpu().contiguous();
    const int64_t n = c.numel();
    std::pair<int64_t, int64_t> bad{0, 0};
    switch (c.scalar_type()) {
        case at::kFloat: bad = count_non_finite(static_cast<const uint32_t*>(c.data_ptr()), n, uint32_t(0x7f800000)); break;
        case at::kBFloat16: bad = count_non_finite(static_cast<const uint16_t*>(c.data_ptr()), n, uint16_t(0x7f80)); break;
        case at::kHalf: bad = count_non_finite(static_cast<const uint16_t*>(c.data_ptr()), n, uint16_t(0x7c00)); break;
        case at::kDouble:
            bad = count_non_finite(static_cast<const uint64_t*>(c.data_ptr()), n, uint64_t(0x7ff0000000000000ull));
            break;
        default: return;
    }
    if (bad.first == 0) return;
    // the first bad value's position in the tensor's own shape, and what it is
    std::string index;
    int64_t rest = bad.second;
    for (int64_t d = c.dim() - 1; d >= 0; --d) {
        index = str(rest % c.size(d)) + (index.empty() ? "" : ", ") + index;
        rest /= c.size(d);
    }
    const double v = c.reshape({-1})[bad.second].item<double>();
    D2M_FAIL(InvalidInput, "Tensor ", name, " in ", file, " holds ", bad.first, " non-finite value",
             bad.first == 1 ? "" : "s", " (NaN or Inf) of ", n, "; the first is ", (std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"),
             " at [", index, "]",
             Hint{"the checkpoint is damaged (or was saved after a diverged training step); download or export it again"});
}

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
    check_finite_weight(t, name, r_.describe_source(name));
    dtypes_[name] = c10::toString(t.scalar_type());
    return t;
}

at::Tensor CheckedTensors::fetch_optional(const std::string& name, const Shape& shape, int il) {
    return r_.has(name) ? fetch(name, shape, il) : at::Tensor();
}

}  // namespace den2moe
