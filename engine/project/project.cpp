// Project file: JSON <-> Project, migrations, path resolution, validation.
#include "project/project.h"

#include <unistd.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_text.h"
#include "data/domains.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

std::vector<std::string> Project::domain_names() const {
    std::vector<std::string> out;
    for (const auto& d : domains) {
        if (d.enabled) out.push_back(d.name);
    }
    return out;
}

int64_t Project::find_domain(const std::string& n) const {
    for (size_t i = 0; i < domains.size(); ++i) {
        if (domains[i].name == n) return static_cast<int64_t>(i);
    }
    return -1;
}

namespace {

std::string exe_dir() {
    char buf[PATH_MAX];
    ssize_t len = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (len <= 0) return {};
    buf[len] = 0;
    return fs::path(buf).parent_path().string();
}

// `shared` beside `start` or beside one of its ancestors.
std::string shared_beside(fs::path start) {
    std::error_code ec;
    if (start.empty()) return {};
    start = fs::absolute(start, ec);
    if (!fs::is_directory(start, ec)) start = start.parent_path();
    for (fs::path p = start; !p.empty(); p = p.parent_path()) {
        fs::path cand = p / "shared";
        if (fs::is_directory(cand / "models", ec) || fs::is_directory(cand / "data", ec)) {
            return fs::weakly_canonical(cand, ec).string();
        }
        if (p == p.root_path()) break;
    }
    return {};
}

// Typed getters that name the file and key on a mismatch.
struct Reader {
    const std::string& file;
    template <typename T>
    T get(const json& j, const char* key, const T& def, const std::string& where) const {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) return def;
        try {
            return it->get<T>();
        } catch (const json::exception&) {
            D2M_FAIL(InvalidInput, "project ", file, ": key '", where, key, "' has the wrong type (found ",
                     it->type_name(), ")", Hint{"see projects/demo.den2moe.json for the expected layout"});
        }
    }
    std::vector<std::string> strings(const json& j, const char* key, const std::string& where) const {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) return {};
        if (it->is_string()) return {it->get<std::string>()};
        return get<std::vector<std::string>>(j, key, {}, where);
    }
};

// Version 1 (the first layout) kept settings flat at the top level and called domains "datasets"
// with "path"; version 2 groups settings and names them domains/dir. Migrate in place.
void migrate(json& j, int from, const std::string& file) {
    if (from == 1) {
        if (j.contains("datasets") && !j.contains("domains")) {
            json doms = json::array();
            for (auto d : j["datasets"]) {
                if (d.contains("path") && !d.contains("dir")) {
                    d["dir"] = d["path"];
                    d.erase("path");
                }
                doms.push_back(d);
            }
            j["domains"] = doms;
            j.erase("datasets");
        }
        auto move = [&](const char* key, const char* group, const char* newkey) {
            if (j.contains(key)) {
                j[group][newkey] = j[key];
                j.erase(key);
            }
        };
        move("nsamples", "calibration", "samples");
        move("seqlen", "calibration", "seq_len");
        move("seed", "calibration", "seed");
        move("pruning_ratio", "pruning", "ratio");
        move("linkage", "clustering", "linkage");
        move("num_clusters", "clustering", "k");
        from = 2;
    }
    if (from == 2) {
        // Version 3 stores every step's settings. Version 2 had no conversion section: its experts
        // were pruned at the mining ratio, which becomes the conversion's own ratio.
        if (!j.contains("conversion") && j.contains("pruning") && j["pruning"].is_object() &&
            j["pruning"].contains("ratio")) {
            j["conversion"]["ratio"] = j["pruning"]["ratio"];
        }
        from = 3;
    }
    D2M_CHECK(from == Project::kFormatVersion, InvalidInput, "project ", file, ": cannot migrate format_version ",
              from, Hint{str("this build reads format versions 1..", Project::kFormatVersion)});
}

}  // namespace

std::string find_shared_dir(const std::string& near) {
    if (const char* env = std::getenv("D2M_SHARED_DIR"); env && *env) {
        return fs::path(env).lexically_normal().string();
    }
    std::error_code ec;
    for (const std::string& start : {near, fs::current_path(ec).string(), exe_dir()}) {
        std::string s = shared_beside(start);
        if (!s.empty()) return s;
    }
    return {};
}

std::string resolve_project_path(const Project& p, const std::string& path) {
    if (path.empty()) return path;
    std::string rest;
    if (path == "$SHARED" || path.rfind("$SHARED/", 0) == 0 || path.rfind("${SHARED}", 0) == 0) {
        rest = path.substr(path[1] == '{' ? 9 : 7);
        while (!rest.empty() && rest[0] == '/') rest.erase(0, 1);
        std::string shared = find_shared_dir(p.file);
        D2M_CHECK(!shared.empty(), InvalidInput, "project ", (p.file.empty() ? p.name : p.file), ": path '", path,
                  "' uses $SHARED but no shared folder was found",
                  Hint{"set D2M_SHARED_DIR to the folder holding models/ and data/, or put it at ../shared"});
        return (fs::path(shared) / rest).lexically_normal().string();
    }
    fs::path fp(path);
    if (fp.is_absolute()) return fp.lexically_normal().string();
    std::error_code ec;
    fs::path base = p.file.empty() ? fs::current_path(ec) : fs::path(p.file).parent_path();
    return (base / fp).lexically_normal().string();
}

std::string project_cache_dir(const Project& p) {
    if (!p.cache_dir.empty()) return resolve_project_path(p, p.cache_dir);
    if (const char* env = std::getenv("D2M_CACHE_DIR"); env && *env) return env;
    std::error_code ec;
    fs::path base = p.file.empty() ? fs::current_path(ec) : fs::path(p.file).parent_path();
    return (base / ".den2moe-cache").string();
}

static std::vector<std::string> domain_files(const Project& p, const ProjectDomain& d,
                                             const std::vector<std::string>& listed, const std::string& split) {
    std::vector<std::string> out;
    for (const auto& f : listed) out.push_back(resolve_project_path(p, f));
    if (out.empty() && !d.dir.empty()) {
        std::string dir = resolve_project_path(p, d.dir);
        std::string f = find_split_file(dir, split);
        D2M_CHECK(!f.empty(), InvalidInput, "domain '", d.name, "': no ", split, " file in ", dir,
                  " (expected ", split, ".jsonl.gz, .jsonl, .txt(.gz) or .csv)",
                  Hint{"list the files explicitly in the project (calib_files / eval_files)"});
        out.push_back(f);
    }
    D2M_CHECK(!out.empty(), InvalidInput, "domain '", d.name, "': no ", split, " files and no folder given",
              Hint{"give the domain a \"dir\" or explicit file lists"});
    return out;
}

std::vector<std::string> domain_calib_files(const Project& p, const ProjectDomain& d) {
    return domain_files(p, d, d.calib_files, d.calib_split);
}
std::vector<std::string> domain_eval_files(const Project& p, const ProjectDomain& d) {
    return domain_files(p, d, d.eval_files, d.eval_split);
}
CorpusSpec domain_calib_corpus(const Project& p, const ProjectDomain& d) {
    return CorpusSpec{domain_calib_files(p, d), d.format, d.text_template, 0};
}
CorpusSpec domain_eval_corpus(const Project& p, const ProjectDomain& d) {
    return CorpusSpec{domain_eval_files(p, d), d.format, d.text_template, 0};
}

Project parse_project(const std::string& text, const std::string& file) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {  // parse_error, and out_of_range 406 (a number overflows)
        D2M_FAIL(InvalidInput, "project ", file, " is not valid JSON: ", e.what(),
                 Hint{"check for a trailing comma or an unclosed bracket"});
    }
    D2M_CHECK(j.is_object(), InvalidInput, "project ", file, ": expected a JSON object at the top level, found ",
              j.type_name());
    int version = 1;
    if (j.contains("format_version")) {
        D2M_CHECK(j["format_version"].is_number_integer(), InvalidInput, "project ", file,
                  ": format_version must be an integer");
        version = j["format_version"].get<int>();
    }
    D2M_CHECK(version >= 1 && version <= Project::kFormatVersion, Incompatible, "project ", file,
              ": format_version ", version, " is not supported (this build reads 1..", Project::kFormatVersion, ")",
              Hint{"a newer Den2MoE Studio wrote this file; update the app"});
    if (version < Project::kFormatVersion) migrate(j, version, file);

    Reader r{file};
    Project p;
    std::error_code ec;
    p.file = file.empty() ? std::string() : fs::absolute(file, ec).lexically_normal().string();
    p.name = r.get<std::string>(j, "name", fs::path(file).stem().stem().string(), "");
    p.model = r.get<std::string>(j, "model", "", "");
    p.tokenizer = r.get<std::string>(j, "tokenizer", "", "");
    p.dtype = r.get<std::string>(j, "dtype", "bf16", "");
    p.cache_dir = r.get<std::string>(j, "cache_dir", "", "");
    p.notes = r.get<std::string>(j, "notes", "", "");
    if (j.contains("domains")) {
        D2M_CHECK(j["domains"].is_array(), InvalidInput, "project ", file, ": 'domains' must be an array");
        for (size_t i = 0; i < j["domains"].size(); ++i) {
            const json& dj = j["domains"][i];
            std::string where = str("domains[", i, "].");
            D2M_CHECK(dj.is_object(), InvalidInput, "project ", file, ": ", where, " must be an object");
            ProjectDomain d;
            d.name = r.get<std::string>(dj, "name", "", where);
            D2M_CHECK(!d.name.empty(), InvalidInput, "project ", file, ": ", where, "name is missing");
            d.dir = r.get<std::string>(dj, "dir", "", where);
            d.calib_files = r.strings(dj, "calib_files", where);
            d.eval_files = r.strings(dj, "eval_files", where);
            d.format = r.get<std::string>(dj, "format", "", where);
            d.text_template = r.get<std::string>(dj, "template", "", where);
            d.calib_split = r.get<std::string>(dj, "calib_split", "train", where);
            d.eval_split = r.get<std::string>(dj, "eval_split", "test", where);
            d.enabled = r.get<bool>(dj, "enabled", true, where);
            p.domains.push_back(std::move(d));
        }
    }
    // every step's section through its schema: types, ranges and unknown keys are checked here
    const std::string where = str("project ", file, ": ");
    auto section = [&](const char* key) -> const json& {
        static const json kNull;
        auto it = j.find(key);
        return it == j.end() ? kNull : *it;
    };
    calib_schema().read_json(p.calib, section("calibration"), where + "calibration.");
    eval_schema().read_json(p.eval, section("evaluation"), where + "evaluation.");
    prune_schema().read_json(p.prune, section("pruning"), where + "pruning.");
    json cl = section("clustering").is_object() ? section("clustering") : json::object();
    if (cl.contains("cut_height")) {
        if (!cl["cut_height"].is_null()) p.cluster.cut_height = r.get<double>(cl, "cut_height", 0.0, "clustering.");
        cl.erase("cut_height");
    }
    cluster_schema().read_json(p.cluster, cl, where + "clustering.");
    convert_schema().read_json(p.convert, section("conversion"), where + "conversion.");
    export_schema().read_json(p.hf_export, section("export"), where + "export.");
    task_eval_schema().read_json(p.task_eval, section("task_eval"), where + "task_eval.");
    if (section("training").is_object()) {
        TrainSettings check;  // types, ranges and typos now; the values apply over a stage's defaults
        train_schema().read_json(check, section("training"), where + "training.");
        p.training = section("training");
    } else if (!section("training").is_null()) {
        D2M_FAIL(InvalidInput, where, "training must be an object, found ", section("training").type_name());
    }
    if (j.contains("clusters") && j["clusters"].is_object()) {
        const json& cj = j["clusters"];
        p.clusters.manual = r.get<bool>(cj, "manual", false, "clusters.");
        if (cj.contains("members")) {
            p.clusters.members = r.get<std::vector<std::vector<std::string>>>(cj, "members", {}, "clusters.");
        }
        p.clusters.names = r.strings(cj, "names", "clusters.");
        while (p.clusters.names.size() < p.clusters.members.size()) {
            p.clusters.names.push_back(str("C", p.clusters.names.size() + 1));
        }
        p.clusters.names.resize(p.clusters.members.size());
    }
    return p;
}

Project load_project(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot open project file ", path, Hint{"check the path; project files end in .den2moe.json"});
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_project(ss.str(), path);
}

std::string project_to_json(const Project& p) {
    json j;
    j["format_version"] = Project::kFormatVersion;
    j["name"] = p.name;
    j["model"] = p.model;
    if (!p.tokenizer.empty()) j["tokenizer"] = p.tokenizer;
    j["dtype"] = p.dtype;
    if (!p.cache_dir.empty()) j["cache_dir"] = p.cache_dir;
    json doms = json::array();
    for (const auto& d : p.domains) {
        json dj;
        dj["name"] = d.name;
        if (!d.dir.empty()) dj["dir"] = d.dir;
        if (!d.calib_files.empty()) dj["calib_files"] = d.calib_files;
        if (!d.eval_files.empty()) dj["eval_files"] = d.eval_files;
        if (!d.format.empty()) dj["format"] = d.format;
        if (!d.text_template.empty()) dj["template"] = d.text_template;
        if (d.calib_split != "train") dj["calib_split"] = d.calib_split;
        if (d.eval_split != "test") dj["eval_split"] = d.eval_split;
        if (!d.enabled) dj["enabled"] = false;
        doms.push_back(dj);
    }
    j["domains"] = doms;
    j["calibration"] = calib_schema().to_json(p.calib);
    j["evaluation"] = eval_schema().to_json(p.eval);
    j["pruning"] = prune_schema().to_json(p.prune);
    j["clustering"] = cluster_schema().to_json(p.cluster);
    if (p.cluster.cut_height) j["clustering"]["cut_height"] = *p.cluster.cut_height;
    j["conversion"] = convert_schema().to_json(p.convert);
    j["export"] = export_schema().to_json(p.hf_export);
    j["task_eval"] = task_eval_schema().to_json(p.task_eval);
    if (!p.training.empty()) j["training"] = p.training;
    if (!p.clusters.empty()) {
        j["clusters"] = {{"manual", p.clusters.manual}, {"names", p.clusters.names}, {"members", p.clusters.members}};
    }
    if (!p.notes.empty()) j["notes"] = p.notes;
    return dump_json(j, 2) + "\n";
}

void save_project(Project& p, const std::string& path) {
    std::error_code ec;
    std::string abs = fs::absolute(path, ec).lexically_normal().string();
    const std::string tmp = str(abs, ".tmp-", ::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        D2M_CHECK(out.good(), Io, "cannot write project file ", tmp, Hint{"is the folder writable?"});
        out << project_to_json(p);
        out.flush();
        const bool ok = out.good();
        out.close();
        if (!ok || out.fail()) {
            fs::remove(tmp, ec);  // never a half-written file left behind
            D2M_FAIL(Io, "writing project file ", tmp, " failed", Hint{"is the disk full, or a file-size limit reached?"});
        }
    }
    fs::rename(tmp, abs, ec);
    if (ec) {
        std::error_code ec2;
        fs::remove(tmp, ec2);
        D2M_FAIL(Io, "cannot rename ", tmp, " to ", abs, ": ", ec.message());
    }
    p.file = abs;
}

std::vector<std::string> validate_project(const Project& p) {
    std::vector<std::string> problems;
    auto add = [&](std::string s) { problems.push_back(std::move(s)); };
    std::error_code ec;
    try {
        if (p.model.empty()) {
            add("model: no model path given");
        } else {
            std::string m = resolve_project_path(p, p.model);
            if (!fs::exists(m, ec)) add(str("model: ", m, " does not exist"));
            else if (fs::is_directory(m, ec) && !fs::exists(fs::path(m) / "config.json", ec))
                add(str("model: ", m, " has no config.json (expected a Hugging Face folder or a llama2.c .bin)"));
        }
    } catch (const Error& e) {
        add(str("model: ", e.message()));
    }
    std::set<std::string> seen;
    int enabled = 0;
    for (const auto& d : p.domains) {
        if (!seen.insert(d.name).second) add(str("domain '", d.name, "': the name is used twice"));
        if (!d.enabled) continue;
        ++enabled;
        for (int which = 0; which < 2; ++which) {
            try {
                auto files = which == 0 ? domain_calib_files(p, d) : domain_eval_files(p, d);
                for (const auto& f : files) {
                    if (!fs::exists(f, ec)) add(str("domain '", d.name, "': ", f, " does not exist"));
                }
            } catch (const Error& e) {
                add(e.message());
            }
        }
    }
    if (enabled < 2) add(str("domains: mining needs at least 2 enabled domains, found ", enabled));
    if (p.dtype != "bf16" && p.dtype != "fp32") add(str("dtype must be bf16 or fp32, found '", p.dtype, "'"));
    for (auto&& v : {calib_schema().problems(p.calib, "calibration."), eval_schema().problems(p.eval, "evaluation."),
                     prune_schema().problems(p.prune, "pruning."), cluster_schema().problems(p.cluster, "clustering."),
                     convert_schema().problems(p.convert, "conversion."), export_schema().problems(p.hf_export, "export.")}) {
        problems.insert(problems.end(), v.begin(), v.end());
    }
    for (const auto& members : p.clusters.members) {
        for (const auto& m : members) {
            if (p.find_domain(m) < 0) add(str("clusters: domain '", m, "' is not in the project"));
        }
    }
    return problems;
}

Project make_project(const std::string& model, const std::string& domains_root) {
    Project p;
    p.model = model;
    for (const auto& d : resolve_eval_domains({domains_root}, "test")) {
        ProjectDomain pd;
        pd.name = d.name;
        pd.dir = (fs::path(domains_root) / d.name).string();
        if (!fs::is_directory(pd.dir)) {
            pd.dir.clear();
            pd.eval_files = d.files;
            pd.calib_files = d.files;
        }
        p.domains.push_back(pd);
    }
    return p;
}

}  // namespace den2moe
