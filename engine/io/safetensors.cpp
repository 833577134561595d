// Safetensors I/O. Reader: each file is mmap'ed read-only for the reader's lifetime; the header is
// validated up front by io/safetensors_format.cpp (sizes, JSON, dtypes, offsets inside the data section,
// no overlaps, shape x dtype = byte length) so get() only copies bytes. A folder or model.safetensors.index.json opens
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
    for (int i = 0; i <= int(StDType::BOOL); ++i) {
        const StDType t = StDType(i);
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

/// Parses the header of the mapped `file` (safetensors_format.h); appends its tensors and metadata.
void add_header(MappedFile& file, int shard, std::vector<TensorInfo>& out, std::map<std::string, std::string>& metadata) {
    SafetensorsHeader h = parse_safetensors_header(file.base, file.size, file.path, shard);
    file.data_start = h.data_start;
    for (auto& t : h.tensors) out.push_back(std::move(t));
    for (auto& [key, value] : h.metadata) metadata[key] = value;
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

}  // namespace

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
        const SafetensorsIndex index = parse_safetensors_index(read_text_file(index_path), index_path);
        weight_map = index.weight_map;
        const std::vector<std::string>& shard_files = index.shard_files;
        const std::string dir = parent_dir(index_path);
        for (size_t s = 0; s < shard_files.size(); ++s) {
            const std::string shard_path = dir + "/" + shard_files[s];
            D2M_CHECK(is_file(shard_path), Io, "Shard ", shard_path, " listed in ", index_path,
                      " does not exist", Hint{"download every shard of the checkpoint"});
            impl.files.push_back(map_file(shard_path));
            add_header(*impl.files.back(), int(s), all, impl.metadata);
        }
        for (const auto& [key, value] : index.metadata) impl.metadata[key] = value;
    } else {
        impl.files.push_back(map_file(file_path));
        add_header(*impl.files.back(), 0, all, impl.metadata);
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

}  // namespace den2moe
