// C ABI of libspm_shim.so, the MODULE that alone links libsentencepiece (whose bundled protobuf-lite
// 3.14 clashes with torch's protobuf 3.21; BUILD-RECIPE §4 pitfall 1). The engine dlopen()s it with
// RTLD_NOW|RTLD_LOCAL|RTLD_DEEPBIND and resolves these symbols; it never links sentencepiece itself.
// Memory: every buffer the shim returns (ids, text, error strings) is malloc'd by the shim and must
// be released with d2m_spm_free(). A returned error string (non-null) means the call failed.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define D2M_SPM_ABI_VERSION 1

typedef struct d2m_spm d2m_spm;  ///< opaque handle (one loaded SentencePieceProcessor)

/// Piece kinds reported by d2m_spm_piece_type (mirror sentencepiece's ModelProto piece types).
enum { D2M_SPM_NORMAL = 1, D2M_SPM_UNKNOWN = 2, D2M_SPM_CONTROL = 3, D2M_SPM_USER_DEFINED = 4,
       D2M_SPM_UNUSED = 5, D2M_SPM_BYTE = 6, D2M_SPM_INVALID = 0 };

typedef int (*d2m_spm_abi_version_fn)(void);
typedef char* (*d2m_spm_open_fn)(const char* path, d2m_spm** out);
typedef void (*d2m_spm_close_fn)(d2m_spm* h);
typedef void (*d2m_spm_free_fn)(void* p);
typedef char* (*d2m_spm_encode_fn)(const d2m_spm* h, const char* text, size_t len, int** ids,
                                   size_t* n_ids);
typedef char* (*d2m_spm_decode_fn)(const d2m_spm* h, const int* ids, size_t n_ids, char** text,
                                   size_t* len);
typedef char* (*d2m_spm_id_to_piece_fn)(const d2m_spm* h, int id, char** piece, size_t* len);
typedef int (*d2m_spm_int_fn)(const d2m_spm* h);
typedef int (*d2m_spm_piece_type_fn)(const d2m_spm* h, int id);

#ifdef __cplusplus
}
#endif
