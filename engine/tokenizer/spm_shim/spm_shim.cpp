// libspm_shim.so: a tiny extern "C" wrapper over sentencepiece::SentencePieceProcessor. Built as a
// MODULE with hidden visibility; only the d2m_spm_* functions below are exported. Nothing C++ crosses
// the boundary: inputs are pointers + lengths, outputs are malloc'd buffers freed by d2m_spm_free,
// failures are malloc'd error strings (sentencepiece's status message). See spm_shim.h.
#include "spm_shim.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#define D2M_SPM_EXPORT __attribute__((visibility("default")))

struct d2m_spm {
    sentencepiece::SentencePieceProcessor sp;
};

namespace {

char* dup_string(const std::string& s) {
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    if (p) {
        std::memcpy(p, s.data(), s.size());
        p[s.size()] = '\0';
    }
    return p;
}

char* out_of_memory() { return dup_string("out of memory"); }

}  // namespace

extern "C" {

D2M_SPM_EXPORT int d2m_spm_abi_version(void) { return D2M_SPM_ABI_VERSION; }

D2M_SPM_EXPORT void d2m_spm_free(void* p) { std::free(p); }

D2M_SPM_EXPORT char* d2m_spm_open(const char* path, d2m_spm** out) {
    *out = nullptr;
    try {
        auto* h = new d2m_spm();
        const auto status = h->sp.Load(path);
        if (!status.ok()) {
            std::string msg = status.ToString();
            delete h;
            return dup_string(msg);
        }
        *out = h;
        return nullptr;
    } catch (const std::bad_alloc&) {
        return out_of_memory();
    } catch (const std::exception& e) {
        return dup_string(e.what());
    }
}

D2M_SPM_EXPORT void d2m_spm_close(d2m_spm* h) { delete h; }

D2M_SPM_EXPORT char* d2m_spm_encode(const d2m_spm* h, const char* text, size_t len, int** ids,
                                    size_t* n_ids) {
    *ids = nullptr;
    *n_ids = 0;
    try {
        std::vector<int> v;
        const auto status = h->sp.Encode(absl::string_view(text, len), &v);
        if (!status.ok()) return dup_string(status.ToString());
        int* buf = static_cast<int*>(std::malloc((v.empty() ? 1 : v.size()) * sizeof(int)));
        if (!buf) return out_of_memory();
        if (!v.empty()) std::memcpy(buf, v.data(), v.size() * sizeof(int));
        *ids = buf;
        *n_ids = v.size();
        return nullptr;
    } catch (const std::bad_alloc&) {
        return out_of_memory();
    } catch (const std::exception& e) {
        return dup_string(e.what());
    }
}

D2M_SPM_EXPORT char* d2m_spm_decode(const d2m_spm* h, const int* ids, size_t n_ids, char** text,
                                    size_t* len) {
    *text = nullptr;
    *len = 0;
    try {
        std::vector<int> v(ids, ids + n_ids);
        std::string s;
        const auto status = h->sp.Decode(v, &s);
        if (!status.ok()) return dup_string(status.ToString());
        char* buf = dup_string(s);
        if (!buf) return out_of_memory();
        *text = buf;
        *len = s.size();
        return nullptr;
    } catch (const std::bad_alloc&) {
        return out_of_memory();
    } catch (const std::exception& e) {
        return dup_string(e.what());
    }
}

D2M_SPM_EXPORT char* d2m_spm_id_to_piece(const d2m_spm* h, int id, char** piece, size_t* len) {
    *piece = nullptr;
    *len = 0;
    if (id < 0 || id >= h->sp.GetPieceSize()) {
        return dup_string("id " + std::to_string(id) + " out of range [0, " +
                          std::to_string(h->sp.GetPieceSize()) + ")");
    }
    try {
        const std::string& s = h->sp.IdToPiece(id);
        char* buf = dup_string(s);
        if (!buf) return out_of_memory();
        *piece = buf;
        *len = s.size();
        return nullptr;
    } catch (const std::bad_alloc&) {
        return out_of_memory();
    }
}

D2M_SPM_EXPORT int d2m_spm_piece_size(const d2m_spm* h) { return h->sp.GetPieceSize(); }
D2M_SPM_EXPORT int d2m_spm_bos_id(const d2m_spm* h) { return h->sp.bos_id(); }
D2M_SPM_EXPORT int d2m_spm_eos_id(const d2m_spm* h) { return h->sp.eos_id(); }
D2M_SPM_EXPORT int d2m_spm_unk_id(const d2m_spm* h) { return h->sp.unk_id(); }
D2M_SPM_EXPORT int d2m_spm_pad_id(const d2m_spm* h) { return h->sp.pad_id(); }

D2M_SPM_EXPORT int d2m_spm_piece_type(const d2m_spm* h, int id) {
    if (id < 0 || id >= h->sp.GetPieceSize()) return D2M_SPM_INVALID;
    if (h->sp.IsUnknown(id)) return D2M_SPM_UNKNOWN;
    if (h->sp.IsControl(id)) return D2M_SPM_CONTROL;
    if (h->sp.IsByte(id)) return D2M_SPM_BYTE;
    if (h->sp.IsUnused(id)) return D2M_SPM_UNUSED;
    return D2M_SPM_NORMAL;  // normal and user-defined pieces decode the same way here
}

}  // extern "C"
