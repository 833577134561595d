// Result structs and files of task evaluation (see eval/results.h). JSON numbers that are NaN are
// written as null (MTEB's files do the same for numpy nan); nlohmann::json objects keep keys sorted,
// which is what mteb 1.14's json.dump(sort_keys=True) gives.
#include "eval/results.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/json_text.h"
#include "eval/task_registry.h"
#include "io/safetensors_format.h"

namespace fs = std::filesystem;

namespace den2moe {

namespace {
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double get_num(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || j[key].is_null()) return std::numeric_limits<double>::quiet_NaN();
    return j[key].get<double>();
}
std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) {
        if (c == '"') o += '"';
        o += c;
    }
    return o + "\"";
}
std::string fmt(double v) {
    if (!std::isfinite(v)) return "";
    char b[32];
    std::snprintf(b, sizeof b, "%.6f", v);
    return b;
}
}  // namespace

nlohmann::json TaskScores::to_json() const {
    return {{"task", task},
            {"type", type},
            {"main_score_name", main_score_name},
            {"main_score", num(main_score)},
            {"chance", num(chance)},
            {"n_items", n_items},
            {"seconds", seconds},
            {"cached", cached},
            {"combination", combination},
            {"notes", notes},
            {"dataset_revision", dataset_revision},
            {"metrics", metrics}};
}

TaskScores TaskScores::from_json(const nlohmann::json& j) {
    TaskScores t;
    t.task = j.at("task").get<std::string>();
    t.type = j.at("type").get<std::string>();
    t.main_score_name = j.at("main_score_name").get<std::string>();
    t.main_score = get_num(j, "main_score");
    t.chance = get_num(j, "chance");
    t.n_items = j.value("n_items", int64_t(0));
    t.seconds = j.value("seconds", 0.0);
    t.cached = j.value("cached", false);
    t.combination = j.value("combination", std::string());
    if (j.contains("notes")) t.notes = j["notes"].get<std::vector<std::string>>();
    t.dataset_revision = j.value("dataset_revision", std::string());
    t.metrics = j.value("metrics", nlohmann::json::object());
    return t;
}

void EvalSummary::recompute() {
    std::vector<double> all, zs;
    std::map<std::string, std::vector<double>> by;
    for (const auto& t : tasks) {
        if (!std::isfinite(t.main_score) || t.type == kOtherTaskType) continue;
        if (t.is_mteb()) {
            all.push_back(t.main_score);
            by[t.type].push_back(t.main_score);
        } else {
            zs.push_back(t.main_score);
        }
    }
    auto mean = [](const std::vector<double>& v) {
        if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
        double s = 0;
        for (double x : v) s += x;
        return s / double(v.size());
    };
    mean_task = mean(all);
    mean_by_type.clear();
    std::vector<double> type_means;
    for (const auto& kv : by) {
        mean_by_type[kv.first] = mean(kv.second);
        type_means.push_back(mean_by_type[kv.first]);
    }
    mean_task_type = mean(type_means);
    mean_zeroshot = mean(zs);
}

nlohmann::json EvalSummary::to_json() const {
    nlohmann::json t = nlohmann::json::array();
    for (const auto& x : tasks) t.push_back(x.to_json());
    nlohmann::json by = nlohmann::json::object();
    for (const auto& kv : mean_by_type) by[kv.first] = num(kv.second);
    return {{"model", model},
            {"model_path", model_path},
            {"model_revision", model_revision},
            {"settings", settings},
            {"tasks", t},
            {"mean_task", num(mean_task)},
            {"mean_by_type", by},
            {"mean_task_type", num(mean_task_type)},
            {"mean_zeroshot", num(mean_zeroshot)},
            {"mteb_version", kMtebVersion}};
}

EvalSummary EvalSummary::from_json(const nlohmann::json& j) {
    EvalSummary s;
    s.model = j.value("model", std::string());
    s.model_path = j.value("model_path", std::string());
    s.model_revision = j.value("model_revision", std::string());
    s.settings = j.value("settings", nlohmann::json::object());
    for (const auto& t : j.at("tasks")) s.tasks.push_back(TaskScores::from_json(t));
    s.recompute();
    return s;
}

std::string mteb_model_folder(const std::string& model_name) {
    std::string out;
    for (char c : model_name) {
        if (c == '/') out += "__";
        else if (c == ' ') out += '_';
        else out += c;
    }
    return out;
}

nlohmann::json mteb_task_json(const TaskScores& t) {
    nlohmann::json entry = t.metrics;
    entry["main_score"] = num(t.main_score);
    entry["hf_subset"] = "default";
    entry["languages"] = {"eng-Latn"};
    return {{"dataset_revision", t.dataset_revision},
            {"evaluation_time", t.seconds},
            {"kg_co2_emissions", nullptr},
            {"mteb_version", kMtebVersion},
            {"scores", {{"test", nlohmann::json::array({entry})}}},
            {"task_name", t.task}};
}

nlohmann::json zeroshot_task_json(const TaskScores& t) {
    nlohmann::json r = {{"alias", t.task}};
    for (auto it = t.metrics.begin(); it != t.metrics.end(); ++it) {
        if (it.value().is_number() || it.value().is_null()) r[it.key() + ",none"] = it.value();
    }
    nlohmann::json j = {{"results", {{t.task, r}}},
                        {"n-samples", {{t.task, {{"original", t.n_items}, {"effective", t.n_items}}}}},
                        {"chance", num(t.chance)},
                        {"evaluation_time", t.seconds},
                        {"dataset_revision", t.dataset_revision},
                        {"notes", t.notes}};
    if (t.metrics.contains("per_subject")) j["per_subject"] = t.metrics["per_subject"];
    if (t.metrics.contains("prompt_format")) j["prompt_format"] = t.metrics["prompt_format"];
    if (t.metrics.contains("items")) j["items"] = t.metrics["items"];  // per-item choices (multiple choice)
    return j;
}

namespace {
std::string mteb_dir(const std::string& out_dir, const EvalSummary& run) {
    return (fs::path(out_dir) / "mteb" / mteb_model_folder(run.model) /
            (run.model_revision.empty() ? "no_revision_available" : run.model_revision))
        .string();
}
void make_dirs(const std::string& d) {
    std::error_code ec;
    fs::create_directories(d, ec);
    D2M_CHECK(!ec, Io, "cannot create the folder ", d, ": ", ec.message());
}
}  // namespace

std::string write_task_result(const std::string& out_dir, const EvalSummary& run, const TaskScores& t) {
    std::string dir = t.is_mteb() ? mteb_dir(out_dir, run) : (fs::path(out_dir) / "zeroshot").string();
    make_dirs(dir);
    const std::string path = (fs::path(dir) / (t.task + ".json")).string();
    write_file_atomic(path, dump_json(t.is_mteb() ? mteb_task_json(t) : zeroshot_task_json(t), 2) + "\n");
    return path;
}

std::string write_model_meta(const std::string& out_dir, const EvalSummary& run, const nlohmann::json& meta) {
    const std::string dir = mteb_dir(out_dir, run);
    make_dirs(dir);
    const std::string path = (fs::path(dir) / "model_meta.json").string();
    write_file_atomic(path, dump_json(meta, 2) + "\n");
    return path;
}

std::string summary_csv(const EvalSummary& s) {
    std::ostringstream o;
    o << "task,type,main_score_name,main_score,chance,n_items,seconds,cached\n";
    for (const auto& t : s.tasks)
        o << csv_field(t.task) << "," << t.type << "," << t.main_score_name << "," << fmt(t.main_score) << ","
          << fmt(t.chance) << "," << t.n_items << "," << fmt(t.seconds) << "," << (t.cached ? "true" : "false") << "\n";
    o << "Mean(Task),,main_score," << fmt(s.mean_task) << ",,,,\n";
    for (const auto& kv : s.mean_by_type) o << "Mean(" << kv.first << ")," << kv.first << ",main_score," << fmt(kv.second) << ",,,,\n";
    o << "Mean(TaskType),,main_score," << fmt(s.mean_task_type) << ",,,,\n";
    o << "Mean(zero-shot),MultipleChoice,acc," << fmt(s.mean_zeroshot) << ",,,,\n";
    return o.str();
}

void write_summary(const std::string& out_dir, const EvalSummary& s) {
    make_dirs(out_dir);
    write_file_atomic((fs::path(out_dir) / "summary.json").string(), dump_json(s.to_json(), 2) + "\n");
    write_file_atomic((fs::path(out_dir) / "summary.csv").string(), summary_csv(s));
}

EvalSummary read_summary(const std::string& path_in) {
    std::string path = path_in;
    std::error_code ec;
    if (fs::is_directory(path, ec)) path = (fs::path(path) / "summary.json").string();
    std::ifstream in(path);
    D2M_CHECK(in.good(), Io, "cannot open the evaluation summary ", path,
              Hint{"a folder written by `den2moe eval --out DIR` holds summary.json"});
    try {
        return EvalSummary::from_json(nlohmann::json::parse(in));
    } catch (const nlohmann::json::exception& e) {
        D2M_FAIL(InvalidInput, "evaluation summary ", path, " is not valid: ", e.what());
    }
}

namespace {

/// The main score of an mteb task file's `scores` (see import_mteb_results); NaN when there is none.
double mteb_main_score(const nlohmann::json& scores) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (!scores.is_object() || scores.empty()) return nan;
    const nlohmann::json& split = scores.contains("test") ? scores["test"] : scores.begin().value();
    if (!split.is_array() || split.empty()) return nan;
    auto score = [&](const nlohmann::json& e) {
        return e.is_object() && e.contains("main_score") && e["main_score"].is_number() ? e["main_score"].get<double>()
                                                                                       : nan;
    };
    for (const char* subset : {"default", "en", "en-en"}) {
        for (const auto& e : split) {
            // a non-string hf_subset matches no subset (e.value() would throw nlohmann's type_error; fuzz_mteb_results)
            if (e.is_object() && e.contains("hf_subset") && e["hf_subset"] == subset) return score(e);
        }
    }
    double sum = 0;
    for (const auto& e : split) sum += score(e);
    return sum / double(split.size());
}

}  // namespace

std::vector<std::pair<std::string, EvalSummary>> import_mteb_results(const std::string& dir) {
    std::map<std::string, std::vector<TaskScores>> by_folder;  // revision folder -> its tasks (path order)
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".json" && it->path().filename() != "model_meta.json") {
            files.push_back(it->path());
        }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& path : files) {
        nlohmann::json j;
        try {
            std::ifstream in(path);
            j = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception& e) {
            D2M_FAIL(InvalidInput, path.string(), " is not valid JSON: ", e.what());
        }
        if (!j.is_object() || !j.contains("task_name") || !j["task_name"].is_string() || !j.contains("scores")) continue;
        TaskScores t;
        t.task = j["task_name"].get<std::string>();
        t.main_score = mteb_main_score(j["scores"]);
        if (j.contains("dataset_revision") && !j["dataset_revision"].is_null()) {
            D2M_CHECK(j["dataset_revision"].is_string(), InvalidInput, path.string(),
                      ": key 'dataset_revision' must be a string, found ", j["dataset_revision"].dump());
            t.dataset_revision = j["dataset_revision"].get<std::string>();
        }
        if (j.contains("evaluation_time") && j["evaluation_time"].is_number()) t.seconds = j["evaluation_time"].get<double>();
        if (const TaskInfo* info = find_task(t.task)) {
            t.type = task_type_name(info->type);
            t.main_score_name = info->main_score;
            t.chance = info->chance;
        } else {
            t.type = kOtherTaskType;
            t.main_score_name = "main_score";
        }
        by_folder[path.parent_path().string()].push_back(std::move(t));
    }
    D2M_CHECK(!by_folder.empty(), InvalidInput, dir,
              " holds neither summary.json (den2moe eval) nor mteb result files (<model>/<revision>/<Task>.json)");
    std::map<std::string, int> revisions_of_model;
    for (const auto& kv : by_folder) revisions_of_model[fs::path(kv.first).parent_path().string()] += 1;
    std::vector<std::pair<std::string, EvalSummary>> runs;
    for (auto& [folder, tasks] : by_folder) {
        const fs::path rev(folder);
        std::string label = rev.parent_path().filename().string();
        for (size_t at; (at = label.find("__")) != std::string::npos;) label.replace(at, 2, "/");
        if (revisions_of_model[rev.parent_path().string()] > 1) label += "@" + rev.filename().string();
        EvalSummary s;
        s.model = label;
        s.model_path = folder;
        s.model_revision = rev.filename().string();
        s.tasks = std::move(tasks);
        s.recompute();
        runs.emplace_back(label, std::move(s));
    }
    return runs;
}

std::vector<std::pair<std::string, EvalSummary>> read_result_runs(const std::string& path, const std::string& label) {
    std::error_code ec;
    std::vector<std::pair<std::string, EvalSummary>> runs;
    if (fs::is_directory(path, ec) && !fs::exists(fs::path(path) / "summary.json", ec)) {
        runs = import_mteb_results(path);
    } else {
        EvalSummary s = read_summary(path);
        runs.emplace_back(s.model.empty() ? fs::path(path).filename().string() : s.model, std::move(s));
    }
    if (!label.empty() && runs.size() == 1) runs.front().first = label;
    return runs;
}

ResultTable result_table(const std::vector<std::pair<std::string, EvalSummary>>& runs) {
    ResultTable t;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<std::string> order;
    std::map<std::string, ResultTable::Row> rows;
    for (const auto& [label, s] : runs) {
        t.columns.push_back(label);
        for (const auto& x : s.tasks) {
            if (!rows.count(x.task)) {
                order.push_back(x.task);
                rows[x.task] = {x.task, x.type, x.main_score_name, x.chance, {}};
            }
        }
    }
    const size_t nc = runs.size();
    for (auto& kv : rows) kv.second.values.assign(nc, nan);
    for (size_t c = 0; c < nc; ++c)
        for (const auto& x : runs[c].second.tasks) rows[x.task].values[c] = x.main_score;
    for (const auto& name : order) t.rows.push_back(rows[name]);
    std::set<std::string> types;
    for (const auto& r : runs)
        for (const auto& kv : r.second.mean_by_type) types.insert(kv.first);
    for (const auto& ty : types) {
        ResultTable::Row r{"", "Mean(" + ty + ")", "", nan, std::vector<double>(nc, nan)};
        for (size_t c = 0; c < nc; ++c) {
            auto it = runs[c].second.mean_by_type.find(ty);
            if (it != runs[c].second.mean_by_type.end()) r.values[c] = it->second;
        }
        t.rows.push_back(r);
    }
    auto mean_row = [&](const char* name, double EvalSummary::*m) {
        ResultTable::Row r{"", name, "", nan, std::vector<double>(nc, nan)};
        bool any = false;
        for (size_t c = 0; c < nc; ++c) {
            r.values[c] = runs[c].second.*m;
            any = any || std::isfinite(r.values[c]);
        }
        if (any) t.rows.push_back(r);
    };
    mean_row("Mean(Task)", &EvalSummary::mean_task);
    mean_row("Mean(TaskType)", &EvalSummary::mean_task_type);
    mean_row("Mean(zero-shot acc)", &EvalSummary::mean_zeroshot);
    return t;
}

std::string result_table_markdown(const ResultTable& t, double scale, bool with_chance) {
    auto cell = [&](double v) {
        if (!std::isfinite(v)) return std::string("-");
        char b[32];
        std::snprintf(b, sizeof b, "%.2f", v * scale);
        return std::string(b);
    };
    std::ostringstream o;
    o << "| task | main score |" << (with_chance ? " chance |" : "");
    for (const auto& c : t.columns) o << " " << c << " |";
    o << "\n|---|---|" << (with_chance ? "---|" : "");
    for (size_t i = 0; i < t.columns.size(); ++i) o << "---|";
    o << "\n";
    for (const auto& r : t.rows) {
        const bool mean = r.task.empty();
        o << "| " << (mean ? "**" + r.type + "**" : r.task) << " | " << r.main_score_name << " |";
        if (with_chance) o << " " << cell(r.chance) << " |";
        for (double v : r.values) o << " " << (mean ? "**" + cell(v) + "**" : cell(v)) << " |";
        o << "\n";
    }
    return o.str();
}

std::string ResultCache::path_for(const std::string& key) const { return (fs::path(dir_) / (key + ".json")).string(); }

std::optional<TaskScores> ResultCache::load(const std::string& key) const {
    std::ifstream in(path_for(key));
    if (!in.good()) return std::nullopt;
    try {
        TaskScores t = TaskScores::from_json(nlohmann::json::parse(in));
        t.cached = true;
        return t;
    } catch (const std::exception&) {
        return std::nullopt;  // a damaged entry is a miss; it is overwritten by the next store
    }
}

void ResultCache::store(const std::string& key, const TaskScores& t) const {
    make_dirs(dir_);
    TaskScores c = t;
    c.cached = false;
    write_file_atomic(path_for(key), dump_json(c.to_json(), 1) + "\n");
}

std::string default_eval_cache_dir() {
    if (const char* d = std::getenv("D2M_CACHE_DIR"); d && *d) return (fs::path(d) / "eval").string();
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "den2moe" / "eval").string();
    if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "den2moe" / "eval").string();
    return (fs::temp_directory_path() / "den2moe-eval-cache").string();
}

}  // namespace den2moe
