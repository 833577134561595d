// Reading an oracle JSON that a CTest fixture (a tests/reference/*.py script) wrote: a missing file throws
// naming the fixture, so the test fails instead of passing on nothing; ids_str prints an id list for
// failure messages (the first `max` ids, then the count).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace d2m_test {

inline nlohmann::json load_oracle_file(const std::string& path, const std::string& fixture, const std::string& script) {
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("oracle file " + path + " not found: run the " + fixture + " CTest fixture (" +
                                 script + ") first");
    }
    return nlohmann::json::parse(in);
}

/// Where a test writes what its oracle fixture reads: $D2M_BUILD_DIR/`sub` (CTest sets it), else the test's
/// temporary folder; created. Include after support/check.h.
inline std::string oracle_write_dir(const std::string& sub = "oracle") {
    const char* b = std::getenv("D2M_BUILD_DIR");
    const std::string d = std::string(b ? b : tmp_dir()) + "/" + sub;
    std::filesystem::create_directories(d);
    return d;
}

inline std::string ids_str(const std::vector<int>& v, size_t max = 24) {
    std::ostringstream os;
    os << "[";
    for (size_t i = 0; i < v.size() && i < max; ++i) os << (i ? "," : "") << v[i];
    if (v.size() > max) os << ",... (" << v.size() << ")";
    os << "]";
    return os.str();
}

}  // namespace d2m_test
