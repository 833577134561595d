// JSON documents from the engine and the CLI are written through dump_json: every string in them
// (keys and values: token text, paths, domain names) is made valid UTF-8 first (text::repair,
// maximal subparts), so a dump never throws nlohmann's type_error 316 on bytes. Callers that know
// the model's own rule (token text) repair with it before building the document; this is the net.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace den2moe {

/// `j` dumped (indent as nlohmann's dump; -1 = compact) with every string made valid UTF-8.
std::string dump_json(const nlohmann::json& j, int indent = -1);
/// A copy of `j` with every string (keys and values) made valid UTF-8.
nlohmann::json valid_utf8_json(const nlohmann::json& j);

}  // namespace den2moe
