// The text-policy oracle (tests/reference/text_oracle.py, a CTest fixture): $D2M_TEXT_ORACLE, else
// $D2M_BUILD_DIR/oracle/text_oracle.json, parsed once. A missing file throws (the test fails).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace d2m_test {

inline std::string text_oracle_path() {
    if (const char* p = std::getenv("D2M_TEXT_ORACLE"); p && *p) return p;
    const char* build = std::getenv("D2M_BUILD_DIR");
    return std::string(build ? build : ".") + "/oracle/text_oracle.json";
}

inline const nlohmann::json& text_oracle() {
    static const nlohmann::json j = [] {
        std::ifstream in(text_oracle_path());
        if (!in) {
            throw std::runtime_error("oracle file " + text_oracle_path() +
                                     " not found: run the text_oracle CTest fixture (tests/reference/text_oracle.py)");
        }
        return nlohmann::json::parse(in);
    }();
    return j;
}

}  // namespace d2m_test
