// dump_json: walk the document, repair every key and string value that is not valid UTF-8
// (text::repair), then dump. Documents that are already valid (the common case) are dumped as they
// are after one read-only scan.
#include "core/json_text.h"

#include "core/text.h"

#include <nlohmann/json.hpp>

namespace den2moe {
namespace {

bool all_valid(const nlohmann::json& j) {
    if (j.is_string()) return text::is_valid_utf8(j.get_ref<const std::string&>());
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (!text::is_valid_utf8(it.key()) || !all_valid(it.value())) return false;
        }
        return true;
    }
    if (j.is_array()) {
        for (const auto& v : j) {
            if (!all_valid(v)) return false;
        }
    }
    return true;
}

}  // namespace

nlohmann::json valid_utf8_json(const nlohmann::json& j) {
    if (j.is_string()) return text::repair(j.get_ref<const std::string&>());
    if (j.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (auto it = j.begin(); it != j.end(); ++it) out[text::repair(it.key())] = valid_utf8_json(it.value());
        return out;
    }
    if (j.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& v : j) out.push_back(valid_utf8_json(v));
        return out;
    }
    return j;
}

std::string dump_json(const nlohmann::json& j, int indent) {
    if (all_valid(j)) return j.dump(indent);
    return valid_utf8_json(j).dump(indent);
}

}  // namespace den2moe
