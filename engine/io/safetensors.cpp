// Safetensors I/O. Reader: each file is mmap'ed read-only for the reader's lifetime; the header is
// validated up front (sizes, JSON, dtypes, offsets inside the data section, no overlaps, shape x
// dtype = byte length) so get() only copies bytes. A folder or model.safetensors.index.json opens
// every shard named in "weight_map". Writer: 8-byte-aligned header, sorted names, tmp + rename.
// Format: u64 little-endian header length N, N bytes of JSON, then the data section.
#include "io/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"

namespace den2moe {

namespace {

using json = nlohmann::json;

constexpr StDType kAllDTypes[] = {StDType::F32, StDType::F16, StDType::BF16, StDType::F64,
                                  StDType::I64, StDType::I32, StDType::I16, StDType::I8,
                                  StDType::U8,  StDType::BOOL};

bool parse_dtype(const std::string& s, StDType* out) {
    for (StDType t : kAllDTypes) {
        if (s == st_dtype_name(t)) {
            *out = t;
            return true;
        }
    }
    return false;
}

at::ScalarType to_scalar_type(StDType t) {
    switch (t) {
        case StDType::F32: return at::kFloat;
        case StDType::F16: return at::kHalf;
        case StDType::BF16: return at::kBFloat16;
        case StDType::F64: return at::kDouble;
        case StDType::I64: return at::kLong;
        case StDType::I32: return at::kInt;
        case StDType::I16: return at::kShort;
        case StDType::I8: return at::kChar;
        case StDType::U8: return at::kByte;
        case StDType::BOOL: return at::kBool;
    }
    D2M_ASSERT(false);
}

bool from_scalar_type(at::ScalarType s, StDType* out) {
    for (StDType t : kAllDTypes) {
        if (to_scalar_type(t) == s) {
            *out = t;
            return true;
        }
    }
    return false;
}

bool is_dir(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
std::string parent_dir(const std::string& p) {
    auto slash = p.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : p.substr(0, slash);
}
bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot read ", path, ": ", std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// One mmap'ed safetensors file. Unmapped in the destructor.
struct MappedFile {
    std::string path;
    const uint8_t* base = nullptr;  // whole file
    size_t size = 0;
    uint64_t data_start = 0;        // 8 + header length

    MappedFile() = default;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile() {
        if (base) ::munmap(const_cast<uint8_t*>(base), size);
    }
};

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

/// Parse and validate the header of `file`; append its tensors (with shard index) to `out`.
void parse_header(MappedFile& file, int shard, std::vector<TensorInfo>& out,
                  std::map<std::string, std::string>& metadata) {
    const std::string& path = file.path;
    D2M_CHECK(file.size >= 8, InvalidInput, "Safetensors file ", path, " is ", file.size,
              " bytes long; it must start with an 8-byte header length",
              Hint{"the file is empty or truncated; download or export it again"});
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file.base[i];  // little-endian
    const uint64_t avail = file.size - 8;
    D2M_CHECK(header_len <= avail, InvalidInput, "Safetensors file ", path, " declares a ",
              header_len, "-byte header, but only ", avail,
              " bytes follow the header length; is the file truncated (or not a safetensors file)?");
    file.data_start = 8 + header_len;
    const uint64_t data_size = file.size - file.data_start;

    const char* hbegin = reinterpret_cast<const char*>(file.base + 8);
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
        D2M_CHECK(parse_dtype(dt->get<std::string>(), &t.dtype), InvalidInput, "Tensor ", name, " in ",
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
    for (auto& t : infos) out.push_back(std::move(t));
}

std::unique_ptr<MappedFile> map_file(const std::string& path) {
    auto f = std::make_unique<MappedFile>();
    f->path = path;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    D2M_CHECK(fd >= 0, Io, "cannot open safetensors file ", path, ": ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        D2M_FAIL(Io, "safetensors path ", path, " is not a regular file");
    }
    f->size = size_t(st.st_size);
    if (f->size > 0) {
        void* p = ::mmap(nullptr, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        int err = errno;
        ::close(fd);
        D2M_CHECK(p != MAP_FAILED, Io, "cannot memory-map ", path, " (", f->size, " bytes): ", std::strerror(err));
        f->base = static_cast<const uint8_t*>(p);
    } else {
        ::close(fd);
    }
    return f;
}

/// Write `chunks` to a temporary file beside `path`, then rename it over `path`.
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

struct SafetensorsReader::Impl {
    std::string source;                               // the path given to open()
    std::vector<std::unique_ptr<MappedFile>> files;   // one per shard
    std::map<std::string, TensorInfo> infos;
    std::map<std::string, std::string> metadata;
};

SafetensorsReader::SafetensorsReader() : impl_(std::make_unique<Impl>()) {}
SafetensorsReader::~SafetensorsReader() = default;
SafetensorsReader::SafetensorsReader(SafetensorsReader&&) noexcept = default;
SafetensorsReader& SafetensorsReader::operator=(SafetensorsReader&&) noexcept = default;

SafetensorsReader SafetensorsReader::open(const std::string& path) {
    std::string index_path, file_path;
    if (is_dir(path)) {
        const std::string dir = ends_with(path, "/") ? path.substr(0, path.size() - 1) : path;
        if (is_file(dir + "/model.safetensors.index.json")) {
            index_path = dir + "/model.safetensors.index.json";
        } else if (is_file(dir + "/model.safetensors")) {
            file_path = dir + "/model.safetensors";
        } else {
            D2M_FAIL(InvalidInput, "Folder ", path,
                     " holds neither model.safetensors nor model.safetensors.index.json",
                     Hint{"Den2MoE reads safetensors checkpoints; convert pytorch_model.bin with "
                          "transformers' save_pretrained(..., safe_serialization=True)"});
        }
    } else if (ends_with(path, ".json")) {
        index_path = path;
    } else {
        file_path = path;
    }

    SafetensorsReader r;
    Impl& impl = *r.impl_;
    impl.source = path;
    std::vector<TensorInfo> all;
    std::map<std::string, std::string> weight_map;  // from the index, name -> shard file
    if (!index_path.empty()) {
        D2M_CHECK(is_file(index_path), Io, "Safetensors index ", index_path, " does not exist");
        json index;
        try {
            index = json::parse(read_text_file(index_path));
        } catch (const json::exception& e) {  // parse_error, and out_of_range 406 (a number overflows)
            D2M_FAIL(InvalidInput, "Safetensors index ", index_path, " is not valid JSON: ", e.what());
        }
        auto wm = index.is_object() ? index.find("weight_map") : index.end();
        D2M_CHECK(wm != index.end() && wm->is_object(), InvalidInput, "Safetensors index ", index_path,
                  " has no \"weight_map\" object (tensor name -> shard file)");
        std::vector<std::string> shard_files;  // in first-seen order of sorted names
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
            weight_map[it.key()] = f;
            if (std::find(shard_files.begin(), shard_files.end(), f) == shard_files.end())
                shard_files.push_back(f);
        }
        const std::string dir = parent_dir(index_path);
        for (size_t s = 0; s < shard_files.size(); ++s) {
            const std::string shard_path = dir + "/" + shard_files[s];
            D2M_CHECK(is_file(shard_path), Io, "Shard ", shard_path, " listed in ", index_path,
                      " does not exist", Hint{"download every shard of the checkpoint"});
            impl.files.push_back(map_file(shard_path));
            parse_header(*impl.files.back(), int(s), all, impl.metadata);
        }
        if (auto md = index.find("metadata"); md != index.end() && md->is_object()) {
            for (auto m = md->begin(); m != md->end(); ++m)
                impl.metadata[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
        }
    } else {
        impl.files.push_back(map_file(file_path));
        parse_header(*impl.files.back(), 0, all, impl.metadata);
    }

    for (auto& t : all) {
        auto [it, inserted] = impl.infos.emplace(t.name, t);
        D2M_CHECK(inserted, InvalidInput, "Tensor ", t.name, " is stored twice: in ",
                  impl.files[size_t(it->second.shard)]->path, " and in ", impl.files[size_t(t.shard)]->path);
    }
    for (const auto& [name, file] : weight_map) {
        auto it = impl.infos.find(name);
        D2M_CHECK(it != impl.infos.end(), InvalidInput, "Safetensors index ", index_path, " puts tensor ",
                  name, " in ", file, ", but that shard does not hold it");
        const std::string& holder = impl.files[size_t(it->second.shard)]->path;
        D2M_CHECK(ends_with(holder, "/" + file), InvalidInput, "Safetensors index ", index_path,
                  " puts tensor ", name, " in ", file, ", but it is stored in ", holder);
    }
    return r;
}

std::vector<std::string> SafetensorsReader::names() const {
    std::vector<std::string> out;
    out.reserve(impl_->infos.size());
    for (const auto& kv : impl_->infos) out.push_back(kv.first);
    return out;  // std::map keeps them sorted
}

bool SafetensorsReader::has(const std::string& name) const { return impl_->infos.count(name) > 0; }

const TensorInfo& SafetensorsReader::info(const std::string& name) const {
    auto it = impl_->infos.find(name);
    D2M_CHECK(it != impl_->infos.end(), InvalidInput, "Tensor ", name, " is not in ", impl_->source,
              " (which holds ", impl_->infos.size(), " tensors)");
    return it->second;
}

at::Tensor SafetensorsReader::get(const std::string& name) const {
    const TensorInfo& t = info(name);
    const MappedFile& f = *impl_->files[size_t(t.shard)];
    at::Tensor out = at::empty(t.shape, at::TensorOptions().dtype(to_scalar_type(t.dtype)));
    const size_t nbytes = size_t(t.end - t.begin);
    D2M_ASSERT(out.nbytes() == nbytes);
    if (nbytes > 0) std::memcpy(out.data_ptr(), f.base + f.data_start + t.begin, nbytes);
    return out;
}

const std::map<std::string, std::string>& SafetensorsReader::metadata() const { return impl_->metadata; }

std::string SafetensorsReader::describe_source(const std::string& name) const {
    return impl_->files[size_t(info(name).shard)]->path;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    // Sorted names; tensors made CPU + contiguous and kept alive until written.
    std::map<std::string, at::Tensor> sorted;
    for (const auto& [name, t] : tensors) {
        D2M_CHECK(!name.empty() && name != "__metadata__", InvalidInput, "cannot save a tensor named \"",
                  name, "\" to ", path);
        D2M_CHECK(t.defined(), InvalidInput, "cannot save tensor ", name, " to ", path, ": it is undefined");
        auto [it, inserted] = sorted.emplace(name, t.detach().cpu().contiguous());
        D2M_CHECK(inserted, InvalidInput, "tensor ", name, " is listed twice for ", path);
        (void)it;
    }
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    std::vector<std::pair<const void*, size_t>> chunks;
    chunks.emplace_back(nullptr, 0);  // length, then header, filled below
    chunks.emplace_back(nullptr, 0);
    for (const auto& [name, t] : sorted) {
        StDType dt{};
        D2M_CHECK(from_scalar_type(t.scalar_type(), &dt), InvalidInput, "cannot save tensor ", name,
                  " to ", path, ": dtype ", t.scalar_type(), " has no safetensors equivalent");
        const uint64_t nbytes = uint64_t(t.nbytes());
        header[name] = {{"dtype", st_dtype_name(dt)},
                        {"shape", t.sizes().vec()},
                        {"data_offsets", {offset, offset + nbytes}}};
        offset += nbytes;
        if (nbytes > 0) chunks.emplace_back(t.data_ptr(), size_t(nbytes));
    }
    std::string text = dump_json(header);
    text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
    uint8_t len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = uint8_t((uint64_t(text.size()) >> (8 * i)) & 0xff);
    chunks[0] = {len_bytes, 8};
    chunks[1] = {text.data(), text.size()};
    write_chunks_atomic(path, chunks);
}

void write_file_atomic(const std::string& path, const std::string& contents) {
    write_chunks_atomic(path, {{contents.data(), contents.size()}});
}

}  // namespace den2moe
