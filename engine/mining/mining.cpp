// Domain-affinity mining: statistics (cached) -> pruned model per domain -> N×N PPL -> affinity ->
// linkage. Shared work is done once: the model is loaded once, each domain's statistics once (and
// reused from the disk cache), each evaluation set tokenised once; a pruned model shares the dense
// trunk (only its FFNs are new tensors).
#include "mining/mining.h"
#include "mining/domain_stats.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <functional>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "calib/ffn_stats.h"
#include "calib/stats_cache.h"
#include "cluster/linkage.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/text.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "eval/perplexity.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "prune/prune.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

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

// A forwarding context: shares the caller's cancel flag but keeps inner progress to itself.
struct QuietContext {
    RunContext ctx;
    explicit QuietContext(const RunContext& outer) { ctx.cancel = outer.cancel; }
};

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

DomainStatsRun domain_statistics(const Project& project, const std::vector<const ProjectDomain*>& doms,
                                 const LlamaModel& model, const Tokenizer& tok, const std::string& model_hash,
                                 bool use_cache, RunContext& ctx, bool need_abs) {
    const int64_t n = static_cast<int64_t>(doms.size());
    const std::string dtype = compute_dtype_name(model.compute_dtype());
    StatsCache cache(project_cache_dir(project));
    DomainStatsRun out;
    out.stats.resize(static_cast<size_t>(n));
    const int64_t batch = std::max<int64_t>(1, project.eval.batch);
    const int64_t ns = project.calib.n_samples;
    for (int64_t i = 0; i < n; ++i) {
        ctx.check_cancelled();
        const ProjectDomain& d = *doms[i];
        CorpusSpec spec{domain_calib_files(project, d), d.format, d.text_template, 0};
        StatsKeyParts kp{model_hash, spec.files, d.format, d.text_template, ns, project.calib.seq_len,
                         project.calib.seed, dtype};
        const std::string key = stats_key(kp);
        std::optional<FfnStats> hit;
        if (use_cache) hit = cache.load(key);
        if (hit && need_abs && (hit->layers.empty() || !hit->layers[0].has_abs())) hit.reset();
        if (hit) {
            out.stats[i] = std::move(*hit);
            ++out.hits;
        } else {
            ++out.misses;
            try {
                at::Tensor windows = sample_calibration_windows(tok, spec, ns, project.calib.seq_len, project.calib.seed);
                QuietContext q(ctx);
                q.ctx.on_progress = [&](const Progress& p) {
                    ctx.report("statistics", i * ns + p.step, n * ns, d.name);
                };
                out.stats[i] = collect_ffn_stats(model, windows, batch, q.ctx, d.name);
                out.tokens += windows.numel();
            } catch (const Error& e) {
                throw e.with_context("calibration domain '" + d.name + "'");
            }
            if (use_cache) {
                cache.store(key, out.stats[i], "domain " + d.name + " of " + model.source);
                out.stats[i].key = key;
            }
        }
        ctx.report("statistics", (i + 1) * ns, n * ns, d.name);
    }
    return out;
}

MiningResult run_mining(const Project& project, const MiningOptions& opt, RunContext& ctx) {
    const auto t_start = Clock::now();
    MiningResult res;
    if (opt.threads > 0) at::set_num_threads(opt.threads);

    // ---- which domains
    std::vector<const ProjectDomain*> doms;
    std::set<std::string> wanted(opt.only_domains.begin(), opt.only_domains.end());
    for (const auto& w : wanted) {
        D2M_CHECK(project.find_domain(w) >= 0, InvalidInput, "mining: domain '", w, "' is not in the project",
                  Hint{"domains in the project: see `den2moe mine --help` or the project file"});
    }
    for (const auto& d : project.domains) {
        if ((wanted.empty() && d.enabled) || wanted.count(d.name)) doms.push_back(&d);
    }
    const int64_t n = static_cast<int64_t>(doms.size());
    D2M_CHECK(n >= 2, InvalidInput, "mining needs at least 2 domains, found ", n,
              Hint{"enable more domains in the project or pass more names to --domains"});
    for (const auto* d : doms) res.domains.push_back(d->name);
    res.n = n;

    // ---- model
    ctx.report("load", 0, 1, "model");
    auto t0 = Clock::now();
    D2M_CHECK(!project.model.empty(), InvalidInput, "project ", project.file, ": no model given");
    res.model = resolve_project_path(project, project.model);
    const ComputeDType dtype = parse_compute_dtype(project.dtype);
    LoadedModel lm = load_model(res.model, dtype,
                                project.tokenizer.empty() ? std::string() : resolve_project_path(project, project.tokenizer));
    const LlamaModel& model = *lm.model;
    const Tokenizer& tok = *lm.tokenizer;
    res.model_hash = hash_model(res.model, lm.tokenizer_path);
    res.ratio = project.prune.ratio;
    res.structure = project.prune.structure;
    res.metric = project.prune.metric;
    res.calib_samples = project.calib.n_samples;
    res.calib_seq = project.calib.seq_len;
    res.seed = project.calib.seed;
    res.eval_windows = project.eval.n_windows;
    res.eval_seq = project.eval.seq_len;
    res.dtype = compute_dtype_name(dtype);
    const int64_t ctx_len = model.config().max_position_embeddings;
    D2M_CHECK(project.eval.seq_len <= ctx_len, InvalidInput, "evaluation.seq_len ", project.eval.seq_len,
              " exceeds the model's context of ", ctx_len, " tokens (", res.model, ")",
              Hint{"use evaluation windows of at most max_position_embeddings tokens"});
    D2M_CHECK(project.calib.seq_len <= ctx_len, InvalidInput, "calibration.seq_len ", project.calib.seq_len,
              " exceeds the model's context of ", ctx_len, " tokens (", res.model, ")",
              Hint{"use calibration windows of at most max_position_embeddings tokens"});
    parse_prune_metric(project.prune.metric);       // fail early on bad settings
    parse_linkage_method(project.cluster.linkage);
    ctx.report("load", 1, 1, "model");
    res.timings.load_s = since(t0);

    // ---- statistics, one entry per domain (cache first)
    t0 = Clock::now();
    DomainStatsRun dsr = domain_statistics(project, doms, model, tok, res.model_hash, opt.use_cache, ctx);
    std::vector<FfnStats>& stats = dsr.stats;
    res.stats_cache_hits = dsr.hits;
    res.stats_cache_misses = dsr.misses;
    res.timings.stats_tokens = dsr.tokens;
    const int64_t batch = std::max<int64_t>(1, project.eval.batch);
    res.timings.statistics_s = since(t0);

    // ---- evaluation: every cell P[i][j] is cached too, keyed by what it depends on (the row's
    // statistics key and pruning settings, the evaluation data, settings and model), so a rerun, a
    // domain subset or an added domain evaluates only the missing cells.
    const int64_t eval_tokens = project.eval.n_windows * project.eval.seq_len;
    const bool cell_cache = opt.use_cache;
    const std::string cells_path = project_cache_dir(project) + "/ppl-cells.json";
    json cells = json::object();
    if (cell_cache) {
        try {
            if (fs::exists(cells_path)) cells = json::parse(read_file_maybe_gz(cells_path));
            if (!cells.is_object()) cells = json::object();
        } catch (const std::exception&) {
            cells = json::object();  // damaged: start afresh
        }
    }
    std::vector<std::string> eval_keys(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
        const ProjectDomain& d = *doms[j];
        std::string k = "pplcell-v1|" + res.model_hash + "|" + d.format + "|" + d.text_template;
        for (const auto& f : domain_eval_files(project, d)) k += "|" + hash_file(f);
        k += "|seq=" + std::to_string(project.eval.seq_len) + "|n=" + std::to_string(project.eval.n_windows) +
             "|dtype=" + res.dtype;
        eval_keys[j] = hash_string(k);
    }
    const std::string prune_key = "ratio=" + std::to_string(project.prune.ratio) + "|" + project.prune.structure +
                                  "|" + project.prune.metric + "|bias=" + std::to_string(project.prune.bias_compensation);
    auto cell_key = [&](const std::string& row, int64_t j) { return hash_string(row + "|" + eval_keys[j]); };

    // evaluation sets, tokenised once (and only when some cell needs them)
    std::vector<std::vector<int>> eval_streams(static_cast<size_t>(n));
    auto stream_of = [&](int64_t j) -> const std::vector<int>& {
        if (eval_streams[j].empty()) {
            const ProjectDomain& d = *doms[j];
            try {
                CorpusSpec spec{domain_eval_files(project, d), d.format, d.text_template, 0};
                eval_streams[j] = tokenize_stream(tok, read_records(spec), eval_tokens);
            } catch (const Error& e) {
                throw e.with_context("evaluation domain '" + d.name + "'");
            }
            D2M_CHECK(static_cast<int64_t>(eval_streams[j].size()) >= project.eval.seq_len, InvalidInput,
                      "evaluation domain '", d.name, "' has ", eval_streams[j].size(),
                      " tokens, fewer than one window of ", project.eval.seq_len,
                      Hint{"lower evaluation.seq_len or add text"});
        }
        return eval_streams[j];
    };

    PplOptions po;
    po.seq = project.eval.seq_len;
    po.batch = batch;
    res.ppl.assign(static_cast<size_t>(n * n), NAN);
    res.dense_ppl.assign(static_cast<size_t>(n), NAN);
    const int64_t total_evals = n * n + n;
    int64_t done = 0;
    double prune_s = 0, eval_s = 0;
    // row: "dense" or a statistics key; make_model builds the row's model only if a cell is missing
    auto eval_row = [&](const std::string& row, const std::function<std::shared_ptr<const LlamaModel>()>& make_model,
                        double* out, const std::string& label) {
        std::shared_ptr<const LlamaModel> m;
        for (int64_t j = 0; j < n; ++j) {
            ctx.check_cancelled();
            const std::string key = row.empty() ? std::string() : cell_key(row, j);
            auto it = key.empty() ? cells.end() : cells.find(key);
            if (it != cells.end() && it->is_number()) {
                out[j] = it->get<double>();
                ++res.ppl_cache_hits;
            } else {
                if (!m) m = make_model();
                auto te = Clock::now();
                QuietContext q(ctx);
                PplResult pr = perplexity(*m, stream_of(j), po, q.ctx);
                out[j] = pr.ppl();
                res.timings.eval_tokens += pr.n_tokens;
                eval_s += since(te);
                if (!key.empty()) cells[key] = out[j];
            }
            ctx.report("evaluation", ++done, total_evals, label + " → " + res.domains[j]);
        }
        if (cell_cache && m) write_file_atomic(cells_path, dump_json(cells) + "\n");  // keep finished rows
    };
    ctx.report("evaluation", 0, total_evals, "dense");
    const std::shared_ptr<const LlamaModel> dense_model = lm.model;
    eval_row(cell_cache ? std::string("dense") : std::string(), [&] { return dense_model; }, res.dense_ppl.data(),
             "dense");
    for (int64_t i = 0; i < n; ++i) {
        ctx.check_cancelled();
        const std::string row = cell_cache && !stats[i].key.empty() ? stats[i].key + "|" + prune_key : std::string();
        auto make = [&]() -> std::shared_ptr<const LlamaModel> {
            auto tp = Clock::now();
            std::shared_ptr<LlamaModel> pruned = prune_model(model, stats[i], project.prune);
            prune_s += since(tp);
            return pruned;
        };
        eval_row(row, make, res.ppl.data() + i * n, "pruned(" + res.domains[i] + ")");
    }
    res.timings.pruning_s = prune_s;
    res.timings.evaluation_s = eval_s;

    // ---- affinity + linkage
    t0 = Clock::now();
    ctx.report("clustering", 0, 1);
    recompute_affinity(res, project.cluster.correlate, project.cluster.linkage);
    ctx.report("clustering", 1, 1);
    res.timings.clustering_s = since(t0);
    res.timings.total_s = since(t_start);
    return res;
}

// ---------------------------------------------------------------------------------------------
// output folder

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
    std::error_code ec;
    fs::create_directories(dir, ec);
    D2M_CHECK(!ec, Io, "cannot create output folder ", dir, ": ", ec.message());
    auto put = [&](const char* name, const std::string& text) { write_file_atomic((fs::path(dir) / name).string(), text); };
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
}

MiningResult load_mining_result(const std::string& dir) {
    const std::string path = (fs::path(dir) / "mining.json").string();
    json m;
    try {
        m = json::parse(read_file_maybe_gz(path));
    } catch (const json::exception& e) {
        D2M_FAIL(InvalidInput, "mining result ", path, " is not valid JSON: ", e.what());
    }
    D2M_CHECK(m.value("format", "") == "den2moe-mining-v1", Incompatible, path, " is not a den2moe mining result (format '",
              m.value("format", ""), "')", Hint{"run `den2moe mine PROJECT --out DIR` first"});
    MiningResult r;
    try {
        r.domains = m.at("domains").get<std::vector<std::string>>();
        r.n = static_cast<int64_t>(r.domains.size());
        r.ppl = m.at("ppl").get<std::vector<double>>();
        r.dense_ppl = m.value("dense_ppl", std::vector<double>{});
        const json& p = m.at("provenance");
        r.model = p.value("model", "");
        r.model_hash = p.value("model_hash", "");
        r.ratio = p.value("ratio", 0.0);
        r.structure = p.value("structure", "");
        r.metric = p.value("metric", "");
        r.calib_samples = p.value("calib_samples", int64_t{0});
        r.calib_seq = p.value("calib_seq", int64_t{0});
        r.seed = p.value("seed", uint64_t{0});
        r.eval_windows = p.value("eval_windows", int64_t{0});
        r.eval_seq = p.value("eval_seq", int64_t{0});
        r.dtype = p.value("dtype", "");
        const json& l = m.at("linkage");
        r.stats_cache_hits = m["cache"].value("hits", int64_t{0});
        r.stats_cache_misses = m["cache"].value("misses", int64_t{0});
        r.ppl_cache_hits = m["cache"].value("ppl_cells", int64_t{0});
        const json& t = m["timings"];
        r.timings.load_s = t.value("load_s", 0.0);
        r.timings.statistics_s = t.value("statistics_s", 0.0);
        r.timings.pruning_s = t.value("pruning_s", 0.0);
        r.timings.evaluation_s = t.value("evaluation_s", 0.0);
        r.timings.clustering_s = t.value("clustering_s", 0.0);
        r.timings.total_s = t.value("total_s", 0.0);
        r.timings.stats_tokens = t.value("stats_tokens", int64_t{0});
        r.timings.eval_tokens = t.value("eval_tokens", int64_t{0});
        recompute_affinity(r, l.value("correlate", "rows"), l.value("method", "average"));
    } catch (const json::exception& e) {
        D2M_FAIL(InvalidInput, "mining result ", path, ": ", e.what());
    }
    return r;
}

}  // namespace den2moe
