// The safetensors format without torch: dtypes, the header and index parsers, and the atomic file
// writer. The header is validated up front (sizes, JSON, dtypes, offsets inside the data section, no
// overlaps, shape x dtype = byte length); an index's shards must be file names inside its folder.
// Torch-free so the fuzz build (tests/fuzz) compiles it; io/safetensors.cpp maps files and makes tensors.
// Format: u64 little-endian header length N, N bytes of JSON, then the data section.
#include "io/safetensors_format.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace den2moe {

namespace {

using json = nlohmann::json;

constexpr StDType kAllDTypes[] = {StDType::F32, StDType::F16, StDType::BF16, StDType::F64,
                                  StDType::I64, StDType::I32, StDType::I16, StDType::I8,
                                  StDType::U8,  StDType::BOOL};

/// Element count of `shape`, or false on a negative dimension / overflow.
bool checked_numel(const Shape& shape, uint64_t* out) {
    uint64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0 || __builtin_mul_overflow(n, uint64_t(d), &n)) return false;
    }
    *out = n;
    return true;
}

std::string range_str(const TensorInfo& t) { return str("[", t.begin, ", ", t.end, ")"); }

}  // namespace

const char* st_dtype_name(StDType t) {
    switch (t) {
        case StDType::F32: return "F32";
        case StDType::F16: return "F16";
        case StDType::BF16: return "BF16";
        case StDType::F64: return "F64";
        case StDType::I64: return "I64";
        case StDType::I32: return "I32";
        case StDType::I16: return "I16";
        case StDType::I8: return "I8";
        case StDType::U8: return "U8";
        case StDType::BOOL: return "BOOL";
    }
    return "?";
}

size_t st_dtype_size(StDType t) {
    switch (t) {
        case StDType::F64:
        case StDType::I64: return 8;
        case StDType::F32:
        case StDType::I32: return 4;
        case StDType::F16:
        case StDType::BF16:
        case StDType::I16: return 2;
        case StDType::I8:
        case StDType::U8:
        case StDType::BOOL: return 1;
    }
    return 0;
}

bool parse_st_dtype(const std::string& s, StDType* out) {
    for (StDType t : kAllDTypes) {
        if (s == st_dtype_name(t)) {
            *out = t;
            return true;
        }
    }
    return false;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& path, int shard) {
    SafetensorsHeader out;
    std::map<std::string, std::string>& metadata = out.metadata;
    D2M_CHECK(size >= 8, InvalidInput, "Safetensors file ", path, " is ", size,
              " bytes long; it must start with an 8-byte header length",
              Hint{"the file is empty or truncated; download or export it again"});
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];  // little-endian
    const uint64_t avail = size - 8;
    D2M_CHECK(header_len <= avail, InvalidInput, "Safetensors file ", path, " declares a ",
              header_len, "-byte header, but only ", avail,
              " bytes follow the header length; is the file truncated (or not a safetensors file)?");
    out.data_start = 8 + header_len;
    const uint64_t data_size = size - out.data_start;

    const char* hbegin = reinterpret_cast<const char*>(data + 8);
    json header;
    try {
        header = json::parse(hbegin, hbegin + header_len);
    } catch (const json::exception& e) {  // parse_error, and out_of_range 406 (a number overflows)
        D2M_FAIL(InvalidInput, "Safetensors header of ", path, " is not valid JSON: ", e.what(),
                 Hint{"the file is damaged or not a safetensors file"});
    }
    D2M_CHECK(header.is_object(), InvalidInput, "Safetensors header of ", path,
              " is not a JSON object (found ", header.type_name(), ")");

    std::vector<TensorInfo> infos;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const json& v = it.value();
        if (name == "__metadata__") {
            D2M_CHECK(v.is_object() || v.is_null(), InvalidInput, "Safetensors header of ", path,
                      ": __metadata__ must be an object of strings");
            if (v.is_object()) {
                for (auto m = v.begin(); m != v.end(); ++m)
                    metadata[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
            }
            continue;
        }
        auto bad = [&](const std::string& what) {
            D2M_FAIL(InvalidInput, "Tensor ", name, " in ", path, ": ", what, " (entry: ", v.dump(), ")");
        };
        if (!v.is_object()) bad("the header entry is not an object");
        TensorInfo t;
        t.name = name;
        t.shard = shard;
        auto dt = v.find("dtype");
        if (dt == v.end() || !dt->is_string()) bad("\"dtype\" is missing or not a string");
        D2M_CHECK(parse_st_dtype(dt->get<std::string>(), &t.dtype), InvalidInput, "Tensor ", name, " in ",
                  path, " has unknown dtype \"", dt->get<std::string>(), "\"",
                  Hint{"supported dtypes: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL"});
        auto sh = v.find("shape");
        if (sh == v.end() || !sh->is_array()) bad("\"shape\" is missing or not a list");
        for (const json& d : *sh) {
            if (!d.is_number_integer() || d.get<int64_t>() < 0) bad("\"shape\" holds a non-integer or negative size");
            t.shape.push_back(d.get<int64_t>());
        }
        auto off = v.find("data_offsets");
        if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
            !(*off)[1].is_number_unsigned())
            bad("\"data_offsets\" must be a list of two non-negative integers");
        t.begin = (*off)[0].get<uint64_t>();
        t.end = (*off)[1].get<uint64_t>();
        D2M_CHECK(t.begin <= t.end, InvalidInput, "Tensor ", name, " in ", path,
                  " has data_offsets [", t.begin, ", ", t.end, "] with begin > end");
        D2M_CHECK(t.end <= data_size, InvalidInput, "Tensor ", name, " in ", path, " ends at byte ",
                  t.end, " but the data section holds only ", data_size,
                  " bytes; is the file truncated?",
                  Hint{"download or export the checkpoint again"});
        uint64_t numel = 0, nbytes = 0;
        D2M_CHECK(checked_numel(t.shape, &numel) &&
                      !__builtin_mul_overflow(numel, uint64_t(st_dtype_size(t.dtype)), &nbytes),
                  InvalidInput, "Tensor ", name, " in ", path, " has an impossible shape ", shape_str(t.shape));
        D2M_CHECK(nbytes == t.end - t.begin, InvalidInput, "Tensor ", name, " in ", path, ": shape ",
                  shape_str(t.shape), " x ", st_dtype_name(t.dtype), " needs ", nbytes,
                  " bytes, but data_offsets [", t.begin, ", ", t.end, "] hold ", t.end - t.begin,
                  " bytes (expected ", nbytes, ", found ", t.end - t.begin, ")");
        infos.push_back(std::move(t));
    }

    // Overlaps: sort by begin; each non-empty range must start at or after the previous end.
    std::vector<const TensorInfo*> by_begin;
    for (const auto& t : infos)
        if (t.end > t.begin) by_begin.push_back(&t);
    std::sort(by_begin.begin(), by_begin.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
    const TensorInfo* prev = nullptr;  // the non-empty range reaching furthest so far
    for (const TensorInfo* t : by_begin) {
        if (prev && t->begin < prev->end) {
            D2M_FAIL(InvalidInput, "Tensors ", prev->name, " (bytes ", range_str(*prev), ") and ",
                     t->name, " (bytes ", range_str(*t), ") overlap in ", path,
                     Hint{"the header is corrupt; export the checkpoint again"});
        }
        if (!prev || t->end > prev->end) prev = t;
    }
    out.tensors = std::move(infos);
    return out;
}

SafetensorsIndex parse_safetensors_index(const std::string& text, const std::string& index_path) {
    SafetensorsIndex out;
    json index;
    try {
        index = json::parse(text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range 406 (a number overflows)
        D2M_FAIL(InvalidInput, "Safetensors index ", index_path, " is not valid JSON: ", e.what());
    }
    auto wm = index.is_object() ? index.find("weight_map") : index.end();
    D2M_CHECK(wm != index.end() && wm->is_object(), InvalidInput, "Safetensors index ", index_path,
              " has no \"weight_map\" object (tensor name -> shard file)");
    for (auto it = wm->begin(); it != wm->end(); ++it) {
        D2M_CHECK(it.value().is_string(), InvalidInput, "Safetensors index ", index_path,
                  ": the shard of tensor ", it.key(), " is not a file name");
        const std::string f = it.value().get<std::string>();
        // a shard is a file of the checkpoint's own folder: no path may lead out of it
        D2M_CHECK(!f.empty() && f != "." && f != ".." && f.find('/') == std::string::npos &&
                      f.find('\\') == std::string::npos,
                  InvalidInput, "Safetensors index ", index_path, ": the shard of tensor ", it.key(), " is '", f,
                  "', expected a file name inside the checkpoint's folder",
                  Hint{"an index lists shard files by name (model-00001-of-00002.safetensors); is the index "
                       "file from this checkpoint?"});
        out.weight_map[it.key()] = f;
        if (std::find(out.shard_files.begin(), out.shard_files.end(), f) == out.shard_files.end())
            out.shard_files.push_back(f);
    }
    if (auto md = index.find("metadata"); md != index.end() && md->is_object()) {
        for (auto m = md->begin(); m != md->end(); ++m)
            out.metadata[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
    }
    return out;
}

void write_chunks_atomic(const std::string& path, const std::vector<std::pair<const void*, size_t>>& chunks) {
    std::string tmpl = path + ".tmp-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    D2M_CHECK(fd >= 0, Io, "cannot create a temporary file beside ", path, ": ", std::strerror(errno),
              Hint{"does the folder exist, and is it writable?"});
    const std::string tmp(buf.data());
    auto fail = [&](const char* what) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        D2M_FAIL(Io, what, " ", tmp, " (for ", path, "): ", std::strerror(err),
                 Hint{"is the disk full, or a file-size limit (ulimit -f) reached?"});
    };
    for (const auto& [ptr, len] : chunks) {
        const char* p = static_cast<const char*>(ptr);
        size_t left = len;
        while (left > 0) {
            ssize_t n = ::write(fd, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                fail("cannot write");
            }
            p += n;
            left -= size_t(n);
        }
    }
    if (::fchmod(fd, 0644) != 0) fail("cannot set permissions of");
    if (::fsync(fd) != 0) fail("cannot flush");
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        D2M_FAIL(Io, "cannot close ", tmp, " (for ", path, "): ", std::strerror(err));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        D2M_FAIL(Io, "cannot rename ", tmp, " to ", path, ": ", std::strerror(err));
    }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
    write_chunks_atomic(path, {{contents.data(), contents.size()}});
}

}  // namespace den2moe
