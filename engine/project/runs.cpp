// The runs of a project (runs.h): the append-only run index, reading a folder's provenance into its
// lineage, listing, rename and delete. The index is JSON Lines under the project cache:
//   {"event":"made","kind":"training","path":"/abs/dir","project":"/abs/p.den2moe.json","time":"...","client":"den2moe"}
//   {"event":"rename","path":...,"label":"..."}   {"event":"delete","path":...}
// Lines of other projects (a shared $D2M_CACHE_DIR) and damaged lines are skipped.
#include "project/runs.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"

namespace den2moe {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string normal_path(const std::string& p) {
    std::error_code ec;
    fs::path a = fs::absolute(fs::path(p), ec);
    if (ec) a = fs::path(p);
    fs::path c = fs::weakly_canonical(a, ec);
    return (ec ? a.lexically_normal() : c).string();
}

std::string now_iso() {
    char buf[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    return buf;
}

std::string file_time_iso(const fs::path& p) {
    std::error_code ec;
    const auto ft = fs::last_write_time(p, ec);
    if (ec) return {};
    const auto sys = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
        ft - fs::file_time_type::clock::now() + std::chrono::system_clock::now());
    const std::time_t t = std::chrono::system_clock::to_time_t(sys);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

json read_json(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return json();
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
}

std::string text_of(const json& j, const char* key) {
    if (!j.is_object()) return {};
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t integer(const json& j, const char* key) {
    if (!j.is_object()) return 0;
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

double number(const json& j, const char* key) {
    if (!j.is_object()) return std::numeric_limits<double>::quiet_NaN();
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

std::string project_key(const Project& p) { return p.file.empty() ? std::string() : normal_path(p.file); }

/// The conversion part of a provenance document (a native folder's provenance.json).
void read_conversion_lineage(ProjectRun& r, const json& prov) {
    if (!prov.is_object()) return;
    r.recipe = text_of(prov, "recipe");
    r.n_experts = integer(prov, "num_experts");
    r.top_k = integer(prov, "top_k");
    r.source_model = text_of(prov, "source_model");
    if (auto c = prov.find("clusters"); c != prov.end() && c->is_object()) {
        if (auto m = c->find("members"); m != c->end() && m->is_array())
            for (const auto& cl : *m) {
                std::vector<std::string> names;
                if (cl.is_array())
                    for (const auto& d : cl)
                        if (d.is_string()) names.push_back(d.get<std::string>());
                r.clusters.members.push_back(std::move(names));
            }
        if (auto n = c->find("names"); n != c->end() && n->is_array())
            for (const auto& s : *n) r.clusters.names.push_back(s.is_string() ? s.get<std::string>() : std::string());
        if (auto m = c->find("manual"); m != c->end() && m->is_boolean()) r.clusters.manual = m->get<bool>();
    }
}

void read_training_lineage(ProjectRun& r, const json& stages) {
    json per_stage = json::array();
    for (const auto& st : stages) {
        if (!st.is_object()) continue;
        r.stages.push_back(text_of(st, "stage"));
        per_stage.push_back({{"stage", text_of(st, "stage")}, {"settings", st.value("settings", json::object())}});
    }
    r.settings = {{"stages", per_stage}};
    if (stages.empty() || !stages.back().is_object()) return;
    const json& last = stages.back();
    r.parent = text_of(last, "source_model");
    r.train_steps = integer(last, "steps");
    r.train_tokens = integer(last, "tokens");
    if (auto b = last.find("held_out_before"); b != last.end()) r.ppl_before = number(*b, "ppl");
    if (auto a = last.find("held_out_after"); a != last.end()) r.ppl_after = number(*a, "ppl");
}

struct IndexEntry {
    std::string kind, time, client, label;
    bool deleted = false;
};

/// The index's events of this project, folded per path (last rename wins, a later "made" revives).
std::map<std::string, IndexEntry> read_index(const Project& p) {
    std::map<std::string, IndexEntry> out;
    const std::string key = project_key(p);
    std::ifstream in(run_index_path(p), std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
        json j = json::parse(line, nullptr, false);
        if (!j.is_object() || text_of(j, "project") != key) continue;
        const std::string path = text_of(j, "path"), ev = text_of(j, "event");
        if (path.empty()) continue;
        IndexEntry& e = out[path];
        if (ev == "made") {
            e.kind = text_of(j, "kind");
            e.time = text_of(j, "time");
            e.client = text_of(j, "client");
            e.deleted = false;
        } else if (ev == "rename") {
            e.label = text_of(j, "label");
        } else if (ev == "delete") {
            e.deleted = true;
        }
    }
    return out;
}

std::string append_event(const Project& p, json ev) {
    if (p.file.empty()) return "the project was never saved: its runs are not recorded";
    ev["project"] = project_key(p);
    ev["time"] = now_iso();
    const fs::path idx = run_index_path(p);
    std::error_code ec;
    fs::create_directories(idx.parent_path(), ec);
    // One write() of one line to a file opened for appending: concurrent writers do not interleave.
    const std::string line = ev.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::FILE* f = std::fopen(idx.string().c_str(), "ab");
    if (!f) return "cannot append to the run index " + idx.string();
    std::setvbuf(f, nullptr, _IOFBF, line.size() + 1);
    const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
    const bool closed = std::fclose(f) == 0;
    return ok && closed ? std::string() : "cannot append to the run index " + idx.string();
}

bool has_run_files(const fs::path& d) {
    std::error_code ec;
    return fs::is_regular_file(d / "provenance.json", ec) || fs::is_regular_file(d / "den2moe_provenance.json", ec) ||
           fs::is_regular_file(d / "summary.json", ec);
}

}  // namespace

std::string ProjectRun::lineage() const {
    std::string s;
    auto add = [&](const std::string& part) {
        if (part.empty()) return;
        if (!s.empty()) s += " · ";
        s += part;
    };
    if (!recipe.empty()) add(recipe);
    if (n_experts > 0) add(std::to_string(n_experts) + " experts top-" + std::to_string(top_k));
    if (!clusters.empty())
        add(std::to_string(clusters.members.size()) + " clusters" + (clusters.manual ? " (manual)" : ""));
    for (const auto& st : stages) s += " → " + st;
    if (!format.empty()) s += " → export " + format;
    return s;
}

std::string run_index_path(const Project& p) { return (fs::path(project_cache_dir(p)) / "runs.jsonl").string(); }

std::string record_run(const Project& p, const std::string& kind, const std::string& dir, const std::string& client) {
    if (p.file.empty()) return {};  // a project never saved has no index
    return append_event(p, {{"event", "made"}, {"kind", kind}, {"path", normal_path(dir)}, {"client", client}});
}

ProjectRun read_run_folder(const std::string& dir) {
    ProjectRun r;
    r.path = normal_path(dir);
    r.label = fs::path(r.path).filename().string();
    const fs::path d(r.path);
    std::error_code ec;
    if (fs::is_regular_file(d / "provenance.json", ec)) {
        json prov = read_json(d / "provenance.json");
        r.provenance = prov;
        read_conversion_lineage(r, prov);
        r.client = text_of(prov, "client");
        r.created = text_of(prov, "created");
        const json stages = prov.is_object() ? prov.value("training", json::array()) : json::array();
        if (stages.is_array() && !stages.empty()) {
            r.kind = "training";
            read_training_lineage(r, stages);
            r.created = file_time_iso(d / "provenance.json");  // "created" is the conversion's
        } else {
            r.kind = "conversion";
            if (prov.is_object()) r.settings = prov.value("settings", json::object());
        }
    } else if (fs::is_regular_file(d / "den2moe_provenance.json", ec)) {
        json prov = read_json(d / "den2moe_provenance.json");
        r.provenance = prov;
        r.kind = "export";
        r.format = text_of(prov, "format");
        r.created = text_of(prov, "exported_at");
        r.parent = text_of(prov, "source");
        if (prov.is_object()) {
            r.settings = prov.value("options", json::object());
            const json native = prov.value("native_provenance", json());
            read_conversion_lineage(r, native);
            r.client = text_of(native, "client");
            const json stages = native.is_object() ? native.value("training", json::array()) : json::array();
            if (stages.is_array()) {
                ProjectRun t;
                read_training_lineage(t, stages);
                r.stages = t.stages;
                r.ppl_before = t.ppl_before;
                r.ppl_after = t.ppl_after;
            }
        }
    } else if (fs::is_regular_file(d / "summary.json", ec)) {
        json sum = read_json(d / "summary.json");
        r.kind = "evaluation";
        r.provenance = sum;
        r.parent = text_of(sum, "model_path");
        if (!r.parent.empty()) r.parent = normal_path(r.parent);
        if (sum.is_object()) r.settings = sum.value("settings", json::object());
        r.created = file_time_iso(d / "summary.json");
    } else {
        D2M_CHECK(false, InvalidInput, "run folder ", dir,
                  ": holds no provenance.json, den2moe_provenance.json or summary.json",
                  Hint{"a run is a folder written by den2moe convert / train / export / eval"});
    }
    return r;
}

std::vector<ProjectRun> list_project_runs(const Project& p) {
    std::map<std::string, IndexEntry> index = p.file.empty() ? std::map<std::string, IndexEntry>() : read_index(p);
    // the default conversion folders, recorded or not (made before the index existed)
    std::error_code ec;
    const fs::path experts = fs::path(project_cache_dir(p)) / "experts";
    if (fs::is_directory(experts, ec))
        for (const auto& e : fs::directory_iterator(experts, ec))
            if (e.is_directory() && fs::is_regular_file(e.path() / "provenance.json", ec)) {
                const std::string path = normal_path(e.path().string());
                if (!index.count(path)) index[path].kind = "conversion";
            }

    std::vector<ProjectRun> runs;
    for (const auto& [path, e] : index) {
        if (e.deleted || !fs::is_directory(path, ec) || !has_run_files(path)) continue;
        ProjectRun r = read_run_folder(path);
        if (!e.label.empty()) r.label = e.label;
        if (r.client.empty()) r.client = e.client;
        if (r.created.empty()) r.created = e.time;
        if (!r.parent.empty()) r.parent = normal_path(r.parent);
        runs.push_back(std::move(r));
    }
    // an evaluation of the project's dense model is made from no run: its root is the dense model
    std::string dense;
    if (!p.model.empty()) {
        try {
            dense = normal_path(resolve_project_path(p, p.model));
        } catch (const Error&) {
        }
    }
    for (auto& r : runs)
        if (r.kind == "evaluation" && !dense.empty() && r.parent == dense) {
            r.parent.clear();
            r.source_model = dense;
        }
    // oldest first; runs made in the same second (timestamps have 1 s resolution) keep their lineage order:
    // a run's depth is the number of its ancestors among the listed runs (cycles cut at the run count)
    std::map<std::string, std::string> parent_of;
    for (const auto& r : runs) parent_of[r.path] = r.parent;
    std::map<std::string, size_t> depth;
    for (const auto& r : runs) {
        size_t d = 0;
        for (std::string at = r.parent; !at.empty() && parent_of.count(at) && d < runs.size(); at = parent_of[at]) ++d;
        depth[r.path] = d;
    }
    std::stable_sort(runs.begin(), runs.end(), [&depth](const ProjectRun& a, const ProjectRun& b) {
        if (a.created != b.created) return a.created < b.created;
        const size_t da = depth.at(a.path), db = depth.at(b.path);
        return da != db ? da < db : a.path < b.path;
    });
    // evaluations hang on the model they evaluated
    for (const auto& ev : runs) {
        if (ev.kind != "evaluation") continue;
        for (auto& m : runs)
            if (m.is_model() && m.path == ev.parent) m.evaluations.push_back(ev.path);
    }
    return runs;
}

void rename_run(const Project& p, const std::string& dir, const std::string& label) {
    const std::string path = normal_path(dir);
    D2M_CHECK(!p.file.empty(), InvalidInput, "rename run ", dir, ": the project was never saved",
              Hint{"save the project first; its runs are recorded beside it"});
    const auto runs = list_project_runs(p);
    D2M_CHECK(std::any_of(runs.begin(), runs.end(), [&](const ProjectRun& r) { return r.path == path; }),
              InvalidInput, "rename run ", dir, ": not a run of project ", p.file);
    const std::string err = append_event(p, {{"event", "rename"}, {"path", path}, {"label", label}});
    D2M_CHECK(err.empty(), Io, "rename run ", dir, ": ", err);
}

std::string run_path(const std::string& dir) { return normal_path(dir); }

const ProjectRun* find_run(const std::vector<ProjectRun>& runs, const std::string& dir) {
    const std::string path = normal_path(dir);
    for (const auto& r : runs)
        if (r.path == path) return &r;
    return nullptr;
}

std::vector<const ProjectRun*> runs_made_from(const std::vector<ProjectRun>& runs, const std::string& dir) {
    const std::string path = normal_path(dir);
    std::vector<const ProjectRun*> out;
    for (const auto& r : runs)
        if (!r.parent.empty() && r.parent == path) out.push_back(&r);
    return out;
}

void delete_run(const Project& p, const std::string& dir) {
    const std::string path = normal_path(dir);
    const auto runs = list_project_runs(p);
    D2M_CHECK(std::any_of(runs.begin(), runs.end(), [&](const ProjectRun& r) { return r.path == path; }),
              InvalidInput, "delete run ", dir, ": not a run of project ", p.file.empty() ? p.name : p.file,
              Hint{"only folders listed among the project's runs are deleted"});
    D2M_CHECK(has_run_files(path), InvalidInput, "delete run ", dir, ": holds no run files");
    std::error_code ec;
    fs::remove_all(path, ec);
    D2M_CHECK(!ec, Io, "delete run ", dir, ": ", ec.message());
    append_event(p, {{"event", "delete"}, {"path", path}});
}

}  // namespace den2moe
