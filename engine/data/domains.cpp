// Domain resolution (no torch): files, domain folders, and roots with domains.json.
#include "data/domains.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace den2moe {

std::string find_split_file(const std::string& dir, const std::string& split) {
    for (const char* ext : {".jsonl.gz", ".jsonl", ".txt.gz", ".txt", ".csv.gz", ".csv"}) {
        fs::path p = fs::path(dir) / (split + ext);
        if (fs::is_regular_file(p)) return p.string();
    }
    return {};
}

static std::string stem_of(const fs::path& p) {
    std::string name = p.filename().string();
    for (const char* ext : {".gz", ".jsonl", ".json", ".txt", ".csv", ".tsv"}) {
        const std::string e(ext);
        if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0)
            name.resize(name.size() - e.size());
    }
    return name;
}

std::vector<EvalDomain> resolve_eval_domains(const std::vector<std::string>& paths,
                                             const std::string& split) {
    std::vector<EvalDomain> out;
    for (const auto& path : paths) {
        fs::path p(path);
        D2M_CHECK(fs::exists(p), InvalidInput, "data path ", path, " does not exist");
        if (fs::is_regular_file(p)) {
            std::string name = stem_of(p);
            if (name == split || name == "train" || name == "test") name = p.parent_path().filename().string();
            out.push_back({name, {p.string()}});
            continue;
        }
        std::string own = find_split_file(p.string(), split);
        if (!own.empty()) {
            out.push_back({p.filename().string(), {own}});
            continue;
        }
        std::vector<std::string> names;
        fs::path index = p / "domains.json";
        if (fs::is_regular_file(index)) {
            std::ifstream f(index);
            nlohmann::json j;
            try {
                f >> j;
            } catch (const std::exception& e) {
                D2M_FAIL(InvalidInput, index.string(), " is not valid JSON: ", e.what());
            }
            D2M_CHECK(j.contains("domains") && j["domains"].is_array(), InvalidInput, index.string(),
                      " has no \"domains\" list");
            for (const auto& d : j["domains"]) names.push_back(d.at("name").get<std::string>());
        } else {
            for (const auto& entry : fs::directory_iterator(p))
                if (entry.is_directory()) names.push_back(entry.path().filename().string());
            std::sort(names.begin(), names.end());
        }
        size_t before = out.size();
        for (const auto& name : names) {
            std::string f = find_split_file((p / name).string(), split);
            D2M_CHECK(!f.empty() || !fs::is_regular_file(index), InvalidInput, "domain '", name, "' listed in ",
                      index.string(), " has no ", split, " split in ", (p / name).string());
            if (!f.empty()) out.push_back({name, {f}});
        }
        D2M_CHECK(out.size() > before, InvalidInput, "no ", split, " data found under ", path,
                  Hint{"pass a .jsonl(.gz)/.txt file, a domain folder holding " + split +
                       ".jsonl.gz, or a folder of such domain folders"});
    }
    return out;
}

}  // namespace den2moe
