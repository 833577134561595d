// SentencePiece tokenizer.model through libspm_shim.so, dlopen'd once per process with
// RTLD_NOW|RTLD_LOCAL|RTLD_DEEPBIND so sentencepiece binds to its own bundled protobuf and never
// meets torch's (BUILD-RECIPE §4 pitfall 1). The engine does not link libsentencepiece. ids equal
// python sentencepiece's sp.encode(text); decode() is sentencepiece's Decode (control ids vanish);
// decode_piece() is run.c-style streaming text ("▁" -> " ", <0xHH> -> byte, space stripped after BOS).
#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "tokenizer/spm_model.h"
#include "tokenizer/spm_shim/spm_shim.h"

#include <dlfcn.h>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sys/stat.h>

namespace den2moe {
namespace {

/// The resolved shim module. Loaded once and never unloaded (sentencepiece's static state and the
/// bundled protobuf are not meant to be torn down while handles may still exist).
struct SpmShim {
    d2m_spm_open_fn open = nullptr;
    d2m_spm_close_fn close = nullptr;
    d2m_spm_free_fn free = nullptr;
    d2m_spm_encode_fn encode = nullptr;
    d2m_spm_decode_fn decode = nullptr;
    d2m_spm_id_to_piece_fn id_to_piece = nullptr;
    d2m_spm_int_fn piece_size = nullptr;
    d2m_spm_int_fn bos_id = nullptr;
    d2m_spm_int_fn eos_id = nullptr;
    d2m_spm_int_fn unk_id = nullptr;
    d2m_spm_piece_type_fn piece_type = nullptr;
};

const char* const kShimHint =
    "libspm_shim.so is built next to the den2moe binary (build/bin/) and installed to "
    "lib/den2moe/; set D2M_SPM_SHIM=/path/to/libspm_shim.so to point at it explicitly";

template <typename Fn>
void resolve(void* lib, const std::string& path, const char* name, Fn& out) {
    ::dlerror();
    void* sym = ::dlsym(lib, name);
    D2M_CHECK(sym != nullptr, Incompatible, "the sentencepiece shim ", path, " lacks symbol ", name,
              Hint{"the shim is from another den2moe version; rebuild it (target spm_shim)"});
    out = reinterpret_cast<Fn>(sym);
}

const SpmShim& shim() {
    static std::mutex mu;
    static SpmShim* loaded = nullptr;  // leaked on purpose: lives as long as the process
    std::lock_guard<std::mutex> lock(mu);
    if (loaded) return *loaded;
    const std::string path = spm_shim_path();
#if defined(__SANITIZE_ADDRESS__)
    // ASan refuses RTLD_DEEPBIND (it would abort the process), and without it sentencepiece's bundled
    // protobuf binds to torch's libprotobuf. An AddressSanitizer build (-DDEN2MOE_SANITIZE=address,...) has
    // no SentencePiece tokenizer; the normal build and the package's install test cover this path.
    D2M_FAIL(Incompatible, "cannot load the sentencepiece shim ", path,
             " in an AddressSanitizer build (it needs dlopen with RTLD_DEEPBIND, which ASan refuses)",
             Hint{"use a build without -DDEN2MOE_SANITIZE=address for SentencePiece models"});
#endif
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!lib) {
        const char* why = ::dlerror();
        D2M_FAIL(Io, "cannot load the sentencepiece shim ", path, ": ", why ? why : "unknown error",
                 Hint{kShimHint});
    }
    auto s = std::make_unique<SpmShim>();
    d2m_spm_abi_version_fn abi = nullptr;
    resolve(lib, path, "d2m_spm_abi_version", abi);
    D2M_CHECK(abi() == D2M_SPM_ABI_VERSION, Incompatible, "the sentencepiece shim ", path,
              " has ABI version ", abi(), "; this build expects ", D2M_SPM_ABI_VERSION,
              Hint{"rebuild the spm_shim target or point D2M_SPM_SHIM at the matching one"});
    resolve(lib, path, "d2m_spm_open", s->open);
    resolve(lib, path, "d2m_spm_close", s->close);
    resolve(lib, path, "d2m_spm_free", s->free);
    resolve(lib, path, "d2m_spm_encode", s->encode);
    resolve(lib, path, "d2m_spm_decode", s->decode);
    resolve(lib, path, "d2m_spm_id_to_piece", s->id_to_piece);
    resolve(lib, path, "d2m_spm_piece_size", s->piece_size);
    resolve(lib, path, "d2m_spm_bos_id", s->bos_id);
    resolve(lib, path, "d2m_spm_eos_id", s->eos_id);
    resolve(lib, path, "d2m_spm_unk_id", s->unk_id);
    resolve(lib, path, "d2m_spm_piece_type", s->piece_type);
    loaded = s.release();
    return *loaded;
}

/// Takes ownership of a shim error string; returns it as std::string (empty for success).
std::string take_error(const SpmShim& s, char* err) {
    if (!err) return {};
    std::string msg(err);
    s.free(err);
    return msg;
}

const char* const kUnknownSurface = " \xE2\x81\x87 ";  // sentencepiece's decode of <unk>: " ⁇ "

class SpmTokenizer final : public Tokenizer {
public:
    SpmTokenizer(const SpmShim& s, d2m_spm* h, std::string path)
        : shim_(s), handle_(h), path_(std::move(path)) {
        vocab_size_ = shim_.piece_size(handle_);
        bos_ = shim_.bos_id(handle_);
        eos_ = shim_.eos_id(handle_);
        pieces_.reserve(vocab_size_);
        types_.reserve(vocab_size_);
        for (int id = 0; id < vocab_size_; ++id) {
            char* p = nullptr;
            size_t n = 0;
            std::string err = take_error(shim_, shim_.id_to_piece(handle_, id, &p, &n));
            D2M_CHECK(err.empty(), Internal, "sentencepiece ", path_, ": piece ", id, ": ", err);
            pieces_.emplace_back(p, n);
            shim_.free(p);
            types_.push_back(shim_.piece_type(handle_, id));
        }
    }
    ~SpmTokenizer() override { shim_.close(handle_); }
    SpmTokenizer(const SpmTokenizer&) = delete;
    SpmTokenizer& operator=(const SpmTokenizer&) = delete;

    std::vector<int> encode(const std::string& text, bool add_bos, bool add_eos) const override {
        int* ids = nullptr;
        size_t n = 0;
        std::string err = take_error(shim_, shim_.encode(handle_, text.data(), text.size(), &ids, &n));
        D2M_CHECK(err.empty(), InvalidInput, "sentencepiece ", path_, " cannot encode a text of ",
                  text.size(), " bytes: ", err);
        std::vector<int> out;
        out.reserve(n + 2);
        if (add_bos && bos_ >= 0) out.push_back(bos_);
        out.insert(out.end(), ids, ids + n);
        shim_.free(ids);
        if (add_eos && eos_ >= 0) out.push_back(eos_);
        return out;
    }

    std::string decode(const std::vector<int>& ids) const override {
        for (int id : ids) check_id(id);
        char* text = nullptr;
        size_t n = 0;
        std::string err = take_error(shim_, shim_.decode(handle_, ids.data(), ids.size(), &text, &n));
        D2M_CHECK(err.empty(), InvalidInput, "sentencepiece ", path_, " cannot decode ", ids.size(),
                  " ids: ", err);
        std::string out(text, n);
        shim_.free(text);
        return out;
    }

    std::string decode_piece(int prev, int id) const override {
        check_id(id);
        return spm_streamed_piece(pieces_[id], static_cast<SpmPieceType>(types_[id]), prev == bos_, kUnknownSurface);
    }

    std::string piece(int id) const override {
        check_id(id);
        return pieces_[id];
    }
    int vocab_size() const override { return vocab_size_; }
    int bos_id() const override { return bos_; }
    int eos_id() const override { return eos_; }
    std::string kind() const override { return "sentencepiece"; }
    /// sentencepiece's decoder: one U+FFFD per byte that starts no well-formed character
    text::Repair repair() const override { return text::Repair::PerByte; }

private:
    void check_id(int id) const {
        D2M_CHECK(id >= 0 && id < vocab_size_, InvalidInput, "token id ", id,
                  " is outside the vocabulary [0, ", vocab_size_, ") of ", path_);
    }

    const SpmShim& shim_;
    d2m_spm* handle_;
    std::string path_;
    int vocab_size_ = 0;
    int bos_ = -1;
    int eos_ = -1;
    std::vector<std::string> pieces_;
    std::vector<int> types_;
};

}  // namespace

/// sentencepiece's own load status in the user's terms: its messages carry the library's source
/// location and the failed expression ("Internal: ./src/sentencepiece_processor.cc(1101)
/// [model_proto->ParseFromArray(...)]"), which say nothing to someone holding a bad file.
static std::string describe_spm_load_error(const std::string& raw, int64_t file_bytes) {
    if (file_bytes == 0) return "the file is empty";
    if (raw.find("ParseFromArray") != std::string::npos || raw.find("ParseFrom") != std::string::npos)
        return str("the file (", file_bytes, " bytes) is not a SentencePiece model: its contents do not parse as one");
    std::string msg = raw;
    for (const char* status : {"Internal: ", "Invalid argument: ", "Not found: ", "Out of range: ", "Unknown: "}) {
        if (msg.rfind(status, 0) == 0) msg.erase(0, std::strlen(status));
    }
    // drop "./src/file.cc(123) [expression] " source locations
    for (size_t at = msg.find("./src/"); at != std::string::npos; at = msg.find("./src/")) {
        size_t end = msg.find(']', at);
        end = end == std::string::npos ? msg.find(' ', at) : end + 1;
        msg.erase(at, end == std::string::npos ? std::string::npos : end - at);
    }
    while (!msg.empty() && (msg.back() == ' ' || msg.back() == '\n')) msg.pop_back();
    while (!msg.empty() && msg.front() == ' ') msg.erase(0, 1);
    if (msg == "unk is not defined.") return "the model defines no <unk> piece, which SentencePiece requires";
    return msg.empty() ? std::string("the file is not a usable SentencePiece model") : msg;
}

std::string sentencepiece_backend() {
    const char* v = std::getenv("D2M_SPM");
    if (v && *v) {
        const std::string s(v);
        D2M_CHECK(s == "shim" || s == "native", InvalidInput, "D2M_SPM=", s, ": expected shim or native",
                  Hint{"shim: the sentencepiece library (default); native: the in-process BPE encoder"});
        return s;
    }
#if defined(__SANITIZE_ADDRESS__)
    return "native";  // the shim needs RTLD_DEEPBIND, which ASan refuses
#else
    return "shim";
#endif
}

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& path) {
    struct stat st {};
    D2M_CHECK(::stat(path.c_str(), &st) == 0, Io, "tokenizer file not found: ", path,
              Hint{"pass the tokenizer.model that ships with the checkpoint"});
    // before either reader: an empty file is an error even where the shim is missing
    D2M_CHECK(st.st_size > 0, InvalidInput, "cannot load the tokenizer ", path, ": the file is empty",
              Hint{"is this the checkpoint's SentencePiece tokenizer.model (not a llama2.c .bin, not truncated)?"});
    if (sentencepiece_backend() == "native") {
        try {
            return load_sentencepiece_native(path);
        } catch (const Error& e) {
            // the library path's wording for a file that is not a ModelProto
            if (e.kind() != ErrorKind::InvalidInput ||
                std::string(e.message()).find("the protobuf could not be read") == std::string::npos)
                throw;
            D2M_FAIL(InvalidInput, "cannot load the tokenizer ", path, ": ",
                     describe_spm_load_error("ParseFromArray", int64_t(st.st_size)),
                     Hint{"is this the checkpoint's SentencePiece tokenizer.model (not a llama2.c .bin, not truncated)?"});
        }
    }
    const SpmShim& s = shim();
    d2m_spm* h = nullptr;
    std::string err = take_error(s, s.open(path.c_str(), &h));
    D2M_CHECK(err.empty() && h != nullptr, InvalidInput, "cannot load the tokenizer ", path, ": ",
              describe_spm_load_error(err, int64_t(st.st_size)),
              Hint{"is this the checkpoint's SentencePiece tokenizer.model (not a llama2.c .bin, not truncated)?"});
    try {
        return std::make_unique<SpmTokenizer>(s, h, path);
    } catch (...) {
        s.close(h);
        throw;
    }
}

}  // namespace den2moe
