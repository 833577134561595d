// Small text helpers of the bundled-data readers (evaluation sets, training pairs): bytes in,
// bytes out, no encoding assumed beyond a UTF-8 byte-order mark.
//   strip_bom   drops a leading EF BB BF
//   split_on    splits on one separator byte (empty fields kept)
//   text_lines  lines without their '\n' / "\r\n", trailing empty lines dropped
//   trim_ws     strips spaces, tabs, CR and LF at both ends
#pragma once

#include <string>
#include <vector>

namespace den2moe {

std::string strip_bom(std::string s);
std::vector<std::string> split_on(const std::string& s, char sep);
std::vector<std::string> text_lines(const std::string& data);
std::string trim_ws(const std::string& s);

}  // namespace den2moe
