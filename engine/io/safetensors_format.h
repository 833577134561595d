// The safetensors format without torch (the fuzz build compiles it): dtypes, the header parser (a whole
// file's bytes -> its tensors' dtype, shape and byte range, validated), the parser of
// model.safetensors.index.json (tensor -> shard file, each a file name inside the checkpoint's folder), and
// the atomic writers (temporary file + rename). Errors are den2moe::Error naming the file and the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/shapes.h"

namespace den2moe {

enum class StDType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };

const char* st_dtype_name(StDType t);
size_t st_dtype_size(StDType t);
/// "F32" ... "BOOL" -> the dtype; false for any other name.
bool parse_st_dtype(const std::string& name, StDType* out);

struct TensorInfo {
    std::string name;
    StDType dtype = StDType::F32;
    Shape shape;
    uint64_t begin = 0;   ///< byte offset within the data section
    uint64_t end = 0;
    int shard = 0;        ///< which file of a sharded checkpoint
};

struct SafetensorsHeader {
    uint64_t data_start = 0;                     ///< 8 + header length: where the data section begins
    std::vector<TensorInfo> tensors;             ///< in header order, `shard` set
    std::map<std::string, std::string> metadata; ///< __metadata__ (non-strings as their JSON text)
};

/// Parses and validates the header of the safetensors file whose bytes are [data, data + size) (the whole
/// file: offsets are checked against its data section). `path` names it in errors.
SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& path,
                                           int shard = 0);

struct SafetensorsIndex {
    std::map<std::string, std::string> weight_map;  ///< tensor name -> shard file name
    std::vector<std::string> shard_files;           ///< each once, in first-seen order of the sorted names
    std::map<std::string, std::string> metadata;    ///< the index's "metadata" (non-strings as JSON text)
};

/// Parses model.safetensors.index.json's text; `path` names it in errors.
SafetensorsIndex parse_safetensors_index(const std::string& text, const std::string& path);

/// Writes `chunks` to "path.tmp-XXXXXX" beside `path`, then renames it over `path`; on any failure the
/// temporary file is removed and `path` is left as it was.
void write_chunks_atomic(const std::string& path, const std::vector<std::pair<const void*, size_t>>& chunks);
/// Write a text file atomically (tmp + rename).
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace den2moe
