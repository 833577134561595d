// Domain-affinity mining's math and files: normalisation, correlation, linkage, flat clusters, and the
// output folder (the job that computes the perplexity matrix is pipeline/mining.cpp).
#include "mining/mining.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cluster/linkage.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/text.h"
#include "io/atomic_dir.h"
#include "io/safetensors_format.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {

Linkage to_linkage(const MiningResult& r) {
    Linkage z;
    z.n = r.n;
    for (int64_t i = 0; i < r.linkage.rows(); ++i) {
        LinkageRow row;
        row.a = static_cast<int64_t>(r.linkage.z[4 * i]);
        row.b = static_cast<int64_t>(r.linkage.z[4 * i + 1]);
        row.height = r.linkage.z[4 * i + 2];
        row.size = static_cast<int64_t>(r.linkage.z[4 * i + 3]);
        z.rows.push_back(row);
    }
    return z;
}

}  // namespace

void recompute_affinity(MiningResult& r, const std::string& correlate, const std::string& method) {
    const int64_t n = r.n;
    D2M_CHECK(n >= 2 && static_cast<int64_t>(r.ppl.size()) == n * n, InvalidInput,
              "affinity: need an n×n perplexity matrix with n >= 2, found ", r.ppl.size(), " values for n = ", n);
    D2M_CHECK(correlate == "rows" || correlate == "columns", InvalidInput, "affinity: correlate must be rows or columns, found '",
              correlate, "'");
    r.normalized.assign(static_cast<size_t>(n * n), 0.0);
    for (int64_t j = 0; j < n; ++j) {
        double mn = INFINITY;
        for (int64_t k = 0; k < n; ++k) mn = std::min(mn, r.ppl[k * n + j]);
        for (int64_t i = 0; i < n; ++i) {
            const double p = r.ppl[i * n + j];
            D2M_CHECK(std::isfinite(p) && p > 0, InvalidInput, "affinity: perplexity of '", r.domains[i], "' on '",
                      r.domains[j], "' is ", p, " (expected a finite positive number)");
            r.normalized[i * n + j] = mn / p;
        }
    }
    std::vector<double> m = r.normalized;
    if (correlate == "columns") {
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) m[i * n + j] = r.normalized[j * n + i];
    }
    try {
        r.correlation = pearson_rows(m, n, n);
    } catch (const Error& e) {
        throw e.with_context("affinity: the normalised matrix has a constant " +
                             std::string(correlate == "rows" ? "row" : "column") +
                             " (Pearson correlation undefined; too few evaluation tokens?)");
    }
    r.distance.assign(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < n; ++j) {
            // symmetric by construction; clamp round-off below 0
            r.distance[i * n + j] = i == j ? 0.0 : std::max(0.0, 1.0 - 0.5 * (r.correlation[i * n + j] + r.correlation[j * n + i]));
        }
    }
    Linkage z = linkage(r.distance, n, parse_linkage_method(method));
    r.linkage.z.clear();
    for (const auto& row : z.rows) {
        r.linkage.z.insert(r.linkage.z.end(), {static_cast<double>(row.a), static_cast<double>(row.b), row.height,
                                               static_cast<double>(row.size)});
    }
    r.leaf_order = leaf_order(z);
    r.linkage_method = method;
    r.correlate = correlate;
}

std::vector<int> mining_clusters_k(const MiningResult& r, int64_t k) {
    D2M_CHECK(k >= 1 && k <= r.n, InvalidInput, "clusters: K must be in [1, ", r.n, "], found ", k);
    std::vector<int> labels = cut_maxclust(to_linkage(r), k);
    for (int& l : labels) l -= 1;
    return labels;
}

std::vector<int> mining_clusters_height(const MiningResult& r, double h) {
    std::vector<int> labels = cut_distance(to_linkage(r), h);
    for (int& l : labels) l -= 1;
    return labels;
}

ProjectClusters clusters_from_labels(const MiningResult& r, const std::vector<int>& labels) {
    D2M_CHECK(static_cast<int64_t>(labels.size()) == r.n, InvalidInput, "clusters: ", labels.size(),
              " labels for ", r.n, " domains");
    std::map<int, int> rename;  // label -> order of first appearance along the dendrogram
    for (int64_t leaf : r.leaf_order) {
        int l = labels[static_cast<size_t>(leaf)];
        if (!rename.count(l)) {
            const int next = static_cast<int>(rename.size());
            rename[l] = next;
        }
    }
    ProjectClusters pc;
    pc.members.resize(rename.size());
    for (size_t c = 0; c < rename.size(); ++c) pc.names.push_back("C" + std::to_string(c + 1));
    for (int64_t leaf : r.leaf_order) {
        pc.members[static_cast<size_t>(rename[labels[static_cast<size_t>(leaf)]])].push_back(r.domains[leaf]);
    }
    return pc;
}

namespace {

std::string csv_matrix(const MiningResult& r, const std::vector<double>& m) {
    std::string s = "domain";
    for (const auto& d : r.domains) s += "," + text::csv_field(d);
    s += "\n";
    char buf[64];
    for (int64_t i = 0; i < r.n; ++i) {
        s += text::csv_field(r.domains[i]);
        for (int64_t j = 0; j < r.n; ++j) {
            std::snprintf(buf, sizeof(buf), ",%.17g", m[i * r.n + j]);
            s += buf;
        }
        s += "\n";
    }
    return s;
}

json linkage_json(const MiningResult& r) {
    json rows = json::array();
    for (int64_t i = 0; i < r.linkage.rows(); ++i) {
        rows.push_back({r.linkage.z[4 * i], r.linkage.z[4 * i + 1], r.linkage.z[4 * i + 2], r.linkage.z[4 * i + 3]});
    }
    json leaves = json::array();
    for (int64_t l : r.leaf_order) leaves.push_back(l);
    json ordered = json::array();
    for (int64_t l : r.leaf_order) ordered.push_back(r.domains[l]);
    return {{"method", r.linkage_method}, {"correlate", r.correlate}, {"distance", "1 - pearson"},
            {"labels", r.domains}, {"matrix", rows}, {"leaf_order", leaves}, {"leaf_labels", ordered}};
}

}  // namespace

std::string clusters_json(const MiningResult& r, int64_t k) {
    std::vector<int> labels = mining_clusters_k(r, k);
    ProjectClusters pc = clusters_from_labels(r, labels);
    double lo = 0, hi = 0;
    json j;
    j["k"] = k;
    j["k_found"] = pc.members.size();
    j["linkage"] = r.linkage_method;
    if (height_range_for_k(to_linkage(r), k, &lo, &hi)) j["height_interval"] = {lo, hi};
    j["labels"] = json::object();
    for (size_t c = 0; c < pc.members.size(); ++c) {
        for (const auto& m : pc.members[c]) j["labels"][m] = c;
    }
    j["names"] = pc.names;
    j["members"] = pc.members;
    return dump_json(j, 2) + "\n";
}

void write_mining_outputs(const MiningResult& r, const std::string& dir, int64_t k) {
    std::vector<std::pair<std::string, std::string>> files;  // written together (write_files_atomic)
    auto put = [&](const char* name, const std::string& text) { files.emplace_back(name, text); };
    put("ppl_matrix.csv", csv_matrix(r, r.ppl));
    put("normalized.csv", csv_matrix(r, r.normalized));
    put("correlation.csv", csv_matrix(r, r.correlation));
    put("linkage.json", dump_json(linkage_json(r), 2) + "\n");
    put("clusters.json", clusters_json(r, std::min<int64_t>(k, r.n)));
    json m;
    m["format"] = "den2moe-mining-v1";
    m["domains"] = r.domains;
    m["ppl"] = r.ppl;
    m["dense_ppl"] = r.dense_ppl;
    m["normalized"] = r.normalized;
    m["correlation"] = r.correlation;
    m["distance"] = r.distance;
    m["linkage"] = linkage_json(r);
    m["provenance"] = {{"model", r.model},          {"model_hash", r.model_hash},   {"ratio", r.ratio},
                       {"structure", r.structure},  {"metric", r.metric},           {"calib_samples", r.calib_samples},
                       {"calib_seq", r.calib_seq},  {"seed", r.seed},               {"eval_windows", r.eval_windows},
                       {"eval_seq", r.eval_seq},    {"dtype", r.dtype}};
    m["cache"] = {{"hits", r.stats_cache_hits}, {"misses", r.stats_cache_misses}, {"ppl_cells", r.ppl_cache_hits}};
    const auto& t = r.timings;
    m["timings"] = {{"load_s", t.load_s},         {"statistics_s", t.statistics_s}, {"pruning_s", t.pruning_s},
                    {"evaluation_s", t.evaluation_s}, {"clustering_s", t.clustering_s}, {"total_s", t.total_s},
                    {"stats_tokens", t.stats_tokens}, {"eval_tokens", t.eval_tokens}};
    put("mining.json", dump_json(m, 1) + "\n");
    write_files_atomic(dir, files, "mining");
}

MiningResult load_mining_result(const std::string& dir) {
    const std::string path = (fs::path(dir) / "mining.json").string();
    json m;
    try {
        m = json::parse(read_file_maybe_gz(path));
    } catch (const json::exception& e) {
        D2M_FAIL(InvalidInput, "mining result ", path, " is not valid JSON: ", e.what());
    }
    D2M_CHECK(m.is_object(), InvalidInput, "mining result ", path, ": expected a JSON object, found ", m.type_name());
    // found by fuzz_mining: m.value() on an array, or on a "format" that is not a string, threw nlohmann's
    // type_error (exit 2 from the CLI) instead of naming the file
    const auto fmt = m.find("format");
    const std::string format = fmt != m.end() && fmt->is_string() ? fmt->get<std::string>() : std::string();
    D2M_CHECK(format == "den2moe-mining-v1", Incompatible, path, " is not a den2moe mining result (format '",
              fmt == m.end() ? std::string() : (fmt->is_string() ? format : fmt->dump()), "')",
              Hint{"run `den2moe mine PROJECT --out DIR` first"});
    // typed reads that name the key (and what was found) instead of nlohmann's "type must be array"
    static const json kEmpty = json::object();
    auto section = [&](const char* key, bool required) -> const json& {
        auto it = m.find(key);
        D2M_CHECK(it != m.end() || !required, InvalidInput, "mining result ", path, ": the key '", key, "' is missing");
        if (it == m.end() || it->is_null()) return kEmpty;
        D2M_CHECK(it->is_object(), InvalidInput, "mining result ", path, ": key '", key,
                  "' must be an object, found ", it->type_name());
        return *it;
    };
    auto get = [&](const json& j, const std::string& where, const char* key, auto def, bool required = false) {
        using T = decltype(def);
        auto it = j.find(key);
        D2M_CHECK(it != j.end() || !required, InvalidInput, "mining result ", path, ": the key '", where, key,
                  "' is missing");
        if (it == j.end() || it->is_null()) return def;
        try {
            return it->template get<T>();
        } catch (const json::exception&) {
            D2M_FAIL(InvalidInput, "mining result ", path, ": key '", where, key, "' has the wrong type (found ",
                     it->type_name(), ")",
                     Hint{"the file was edited or damaged; run `den2moe mine` again"});
        }
    };
    MiningResult r;
    r.domains = get(m, "", "domains", std::vector<std::string>{}, true);
    r.n = static_cast<int64_t>(r.domains.size());
    r.ppl = get(m, "", "ppl", std::vector<double>{}, true);
    D2M_CHECK(r.n >= 1 && int64_t(r.ppl.size()) == r.n * r.n, InvalidInput, "mining result ", path, ": 'ppl' holds ",
              r.ppl.size(), " values for ", r.n, " domains, expected ", r.n * r.n);
    r.dense_ppl = get(m, "", "dense_ppl", std::vector<double>{});
    const json& p = section("provenance", true);
    r.model = get(p, "provenance.", "model", std::string());
    r.model_hash = get(p, "provenance.", "model_hash", std::string());
    r.ratio = get(p, "provenance.", "ratio", 0.0);
    r.structure = get(p, "provenance.", "structure", std::string());
    r.metric = get(p, "provenance.", "metric", std::string());
    r.calib_samples = get(p, "provenance.", "calib_samples", int64_t{0});
    r.calib_seq = get(p, "provenance.", "calib_seq", int64_t{0});
    r.seed = get(p, "provenance.", "seed", uint64_t{0});
    r.eval_windows = get(p, "provenance.", "eval_windows", int64_t{0});
    r.eval_seq = get(p, "provenance.", "eval_seq", int64_t{0});
    r.dtype = get(p, "provenance.", "dtype", std::string());
    const json& l = section("linkage", true);
    const json& c = section("cache", false);
    r.stats_cache_hits = get(c, "cache.", "hits", int64_t{0});
    r.stats_cache_misses = get(c, "cache.", "misses", int64_t{0});
    r.ppl_cache_hits = get(c, "cache.", "ppl_cells", int64_t{0});
    const json& t = section("timings", false);
    r.timings.load_s = get(t, "timings.", "load_s", 0.0);
    r.timings.statistics_s = get(t, "timings.", "statistics_s", 0.0);
    r.timings.pruning_s = get(t, "timings.", "pruning_s", 0.0);
    r.timings.evaluation_s = get(t, "timings.", "evaluation_s", 0.0);
    r.timings.clustering_s = get(t, "timings.", "clustering_s", 0.0);
    r.timings.total_s = get(t, "timings.", "total_s", 0.0);
    r.timings.stats_tokens = get(t, "timings.", "stats_tokens", int64_t{0});
    r.timings.eval_tokens = get(t, "timings.", "eval_tokens", int64_t{0});
    recompute_affinity(r, get(l, "linkage.", "correlate", std::string("rows")),
                       get(l, "linkage.", "method", std::string("average")));
    return r;
}

ProjectClusters read_clusters_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    D2M_CHECK(in.good(), Io, "cannot open the clusters file ", path,
              Hint{"a clusters.json written by `den2moe mine` or `den2moe cluster`"});
    json j;
    try {
        j = json::parse(in);
    } catch (const json::exception& e) {
        D2M_FAIL(InvalidInput, "clusters file ", path, " is not valid JSON: ", e.what());
    }
    D2M_CHECK(j.is_object() && j.contains("members") && j["members"].is_array() && !j["members"].empty(),
              InvalidInput, "clusters file ", path, ": expected a \"members\" array of domain-name arrays");
    ProjectClusters pc;
    for (size_t c = 0; c < j["members"].size(); ++c) {
        const json& m = j["members"][c];
        D2M_CHECK(m.is_array(), InvalidInput, "clusters file ", path, ": members[", c, "] must be an array of domain names, found ",
                  m.type_name());
        std::vector<std::string> names;
        for (const auto& d : m) {
            D2M_CHECK(d.is_string(), InvalidInput, "clusters file ", path, ": members[", c,
                      "] must hold domain names (strings), found ", d.dump());
            names.push_back(d.get<std::string>());
        }
        pc.members.push_back(std::move(names));
    }
    if (j.contains("names") && j["names"].is_array()) {
        for (const auto& n : j["names"]) {
            D2M_CHECK(n.is_string(), InvalidInput, "clusters file ", path, ": names must be strings, found ", n.dump());
            pc.names.push_back(n.get<std::string>());
        }
    }
    while (pc.names.size() < pc.members.size()) pc.names.push_back("C" + std::to_string(pc.names.size() + 1));
    pc.names.resize(pc.members.size());
    if (j.contains("manual")) {
        D2M_CHECK(j["manual"].is_boolean(), InvalidInput, "clusters file ", path, ": manual must be true or false");
        pc.manual = j["manual"].get<bool>();
    }
    return pc;
}

}  // namespace den2moe
