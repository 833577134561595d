// SHA-256 (engine/core/sha256.h) against FIPS 180-4's example digests and Python hashlib's digests of
// a fixed byte pattern at the padding boundaries (55/56/63/64/65 bytes, two blocks and more), whole
// and fed in pieces; sha256_file equals the in-memory digest; an unreadable file is an Io error.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/error.h"
#include "core/sha256.h"
#include "support/check.h"

using namespace den2moe;

namespace {
std::string pattern(int n) {  // bytes (i*131+7) mod 256, as the hashlib digests below were made
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>((i * 131 + 7) % 256);
    return s;
}
}  // namespace

TEST(fips_examples) {
    CHECK_EQ(sha256_hex(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK_EQ(sha256_hex("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
             std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    Sha256 h;  // one million 'a', fed in 1000 pieces of 1000
    const std::string a(1000, 'a');
    for (int i = 0; i < 1000; ++i) h.update(a);
    CHECK_EQ(h.hex(), std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

TEST(hashlib_boundaries) {
    const std::pair<int, const char*> ref[] = {
        {55, "16ed9c4697ca11d5f6fb25ea7900252dd4cb97215d7f6d0b2bb3e2a86ac0ec72"},
        {56, "939ada93b2fe1e9c596d767bb408567c83e253667f0b25e5be8e16f35f2cbac9"},
        {63, "6073f83b09ae82016cdbe24c18996c48f0eaa08ca675d0f6b90b807fc29e0149"},
        {64, "b337ba9b0c69c391364e985fdcb23a889887e59800832c92fbfa22b8a3c40304"},
        {65, "9d6a3fb113b586b4ab97bc11c993a27bd9b7bbcb756e0646083dc47a679600e6"},
        {119, "9773fbac8194c3d789af101b49b6a26073076895ef6e0f658432849dd477a43f"},
        {128, "485a94e53eba9717a5d8b7b4489cad92a752f1c5722e7dfd29dd164b7c438d11"},
        {1000, "533b698850849b7908b20a22658f639c0b2a476f1791f85f50188287c31a9aba"}};
    for (const auto& r : ref) {
        const std::string p = pattern(r.first);
        CHECK_EQ(sha256_hex(p), std::string(r.second));
        Sha256 h;  // in pieces of 7 bytes: the buffered path
        for (size_t i = 0; i < p.size(); i += 7) h.update(p.substr(i, 7));
        CHECK_EQ(h.hex(), std::string(r.second));
    }
}

TEST(file_digest) {
    const std::string path = "/tmp/d2m_test_sha256_" + std::to_string(::getpid()) + ".bin";
    const std::string p = pattern(1000);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    CHECK(f != nullptr);
    std::fwrite(p.data(), 1, p.size(), f);
    std::fclose(f);
    CHECK_EQ(sha256_file(path), std::string("533b698850849b7908b20a22658f639c0b2a476f1791f85f50188287c31a9aba"));
    std::remove(path.c_str());
    CHECK_THROWS_WITH(sha256_file(path), "cannot read");
}

D2M_TEST_MAIN()
