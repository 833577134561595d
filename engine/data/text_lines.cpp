// Text helpers of the bundled-data readers: see data/text_lines.h.
#include "data/text_lines.h"

namespace den2moe {

std::string strip_bom(std::string s) {
    if (s.size() >= 3 && static_cast<unsigned char>(s[0]) == 0xef && static_cast<unsigned char>(s[1]) == 0xbb &&
        static_cast<unsigned char>(s[2]) == 0xbf)
        s.erase(0, 3);
    return s;
}

std::vector<std::string> split_on(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t b = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == sep) {
            out.push_back(s.substr(b, i - b));
            b = i + 1;
        }
    }
    return out;
}

std::vector<std::string> text_lines(const std::string& data) {
    std::vector<std::string> out = split_on(data, '\n');
    for (auto& l : out)
        if (!l.empty() && l.back() == '\r') l.pop_back();
    while (!out.empty() && out.back().empty()) out.pop_back();
    return out;
}

std::string trim_ws(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace den2moe
