// Shared helpers of the engine/io tests: raw file bytes in and out, per-test scratch folders under
// d2m_test::tmp_dir(), and removal of that scratch tree at exit when every check passed (a failing
// run keeps its files for inspection). Include after support/check.h.
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

namespace io_test {

inline std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

/// d2m_test::tmp_dir()/name, created.
inline std::string fresh_dir(const std::string& name) {
    std::string d = d2m_test::tmp_dir() + "/" + name;
    ::mkdir(d.c_str(), 0755);
    return d;
}

/// Removes this binary's scratch folder at exit if no check failed. Symlinks are removed, never followed.
struct ScratchCleanup {
    ~ScratchCleanup() {
        if (d2m_test::failures() != 0) return;
        ::nftw(d2m_test::tmp_dir().c_str(),
               [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
               FTW_DEPTH | FTW_PHYS);
    }
};

}  // namespace io_test
