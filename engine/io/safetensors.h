// Safetensors reader (memory-mapped; one file or a sharded model.safetensors.index.json) and an
// atomic writer. The header is validated: offsets inside the file, no overlaps, no gaps are
// required by the format but overlap is rejected, and shape x dtype size = byte length.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/shapes.h"
#include "io/safetensors_format.h"  // StDType, TensorInfo, write_file_atomic (torch-free)

namespace den2moe {

/// A read-only view of one or more safetensors files. Tensors returned by get() own their memory
/// (copied out of the mapping), so they outlive the reader.
class SafetensorsReader {
public:
    /// `path`: a .safetensors file, a model.safetensors.index.json, or a folder holding either.
    static SafetensorsReader open(const std::string& path);

    SafetensorsReader();
    ~SafetensorsReader();
    SafetensorsReader(SafetensorsReader&&) noexcept;
    SafetensorsReader& operator=(SafetensorsReader&&) noexcept;

    std::vector<std::string> names() const;             ///< sorted
    bool has(const std::string& name) const;
    const TensorInfo& info(const std::string& name) const;  ///< throws InvalidInput naming the missing tensor
    /// Tensor in its stored dtype, CPU, contiguous.
    at::Tensor get(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const;
    std::string describe_source(const std::string& name) const;  ///< file path holding `name`

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Write tensors (any of F32/F16/BF16/I64/I32/...; CPU or not) to `path` atomically:
/// written to "path.tmp-XXXX" then renamed. Tensor order in the file = sorted names.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace den2moe
