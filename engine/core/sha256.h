// SHA-256 (FIPS 180-4) of bytes and of files, for manifests that other tools check with
// `sha256sum` / Python's hashlib (the hand-off bundle's data manifest). Streaming: a file is read in
// 1 MiB blocks. Torch-free and Qt-free. Errors: an unreadable file throws Error(Io) naming it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace den2moe {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t n);
    void update(const std::string& s) { update(s.data(), s.size()); }
    /// The digest as 64 lowercase hex characters; the object must not be updated afterwards.
    std::string hex();

private:
    void block(const uint8_t* p);
    std::array<uint32_t, 8> h_;
    std::array<uint8_t, 64> buf_{};
    size_t fill_ = 0;
    uint64_t bytes_ = 0;
};

std::string sha256_hex(const std::string& bytes);
/// The digest of a file's bytes as stored (a .gz file is hashed compressed, as sha256sum does).
std::string sha256_file(const std::string& path);

}  // namespace den2moe
