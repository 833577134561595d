// run_mining: statistics (cached) -> pruned model per domain -> N×N PPL -> affinity -> linkage.
// Shared work is done once: the model is loaded once, each domain's statistics once (and reused from
// the disk cache), each evaluation set tokenised once; a pruned model shares the dense trunk (only its
// FFNs are new tensors). Sharded over the ranks of dist::world() (den2moe mine --nproc, torchrun,
// srun): rank r computes the statistics and the pruned row of domains i with i mod W = r and the
// dense cells j mod W = r; the cells are summed into every rank (each cell from one rank, the others
// add +0.0, so the matrix is bit-identical to one process) and rank 0 alone writes the cell cache.
#include "pipeline/mining.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "calib/domain_stats.h"
#include "calib/ffn_stats.h"
#include "calib/stats_cache.h"
#include "cluster/linkage.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "dist/comm.h"
#include "eval/perplexity.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "pipeline/conversion.h"
#include "prune/prune.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

void validate_mining(const Project& project, const MiningOptions& opt) {
    for (const auto& w : opt.only_domains) {
        std::string known;
        for (const auto& d : project.domains) known += (known.empty() ? "" : ", ") + d.name;
        D2M_CHECK(project.find_domain(w) >= 0, InvalidInput, "mining: domain '", w, "' is not in the project ",
                  project.file, Hint{"domains in the project: " + known});
    }
    Project check = project;
    if (!opt.only_domains.empty()) {
        for (auto& d : check.domains) {
            d.enabled = std::find(opt.only_domains.begin(), opt.only_domains.end(), d.name) != opt.only_domains.end();
        }
    }
    const auto problems = validate_project(check);
    if (!problems.empty()) {
        std::string all;
        for (const auto& s : problems) all += "\n  - " + s;
        D2M_FAIL(InvalidInput, "project ", project.file, " is not ready to mine:", all);
    }
    check_project_windows(project, project_model_config(project));
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

    // ---- the ranks' shares: rows (statistics + pruned model) i mod W, dense cells j mod W
    dist::Communicator& comm = dist::world();
    const int64_t W = comm.world_size(), R = comm.rank();
    auto mine = [&](int64_t i) { return i % W == R; };

    // ---- statistics, one entry per domain of this rank's rows (cache first)
    t0 = Clock::now();
    std::vector<const ProjectDomain*> my_doms;
    for (int64_t i = 0; i < n; ++i)
        if (mine(i)) my_doms.push_back(doms[static_cast<size_t>(i)]);
    DomainStatsRun dsr = domain_statistics(project, my_doms, model, tok, res.model_hash, opt.use_cache, ctx);
    std::vector<FfnStats> stats(static_cast<size_t>(n));  // empty for the other ranks' rows
    for (int64_t i = 0, k = 0; i < n; ++i)
        if (mine(i)) stats[static_cast<size_t>(i)] = std::move(dsr.stats[static_cast<size_t>(k++)]);
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
                const CorpusSpec spec = domain_eval_corpus(project, d);
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
    // several ranks: the other ranks' cells stay +0.0 for the sum
    res.ppl.assign(static_cast<size_t>(n * n), W > 1 ? 0.0 : NAN);
    res.dense_ppl.assign(static_cast<size_t>(n), W > 1 ? 0.0 : NAN);
    int64_t total_evals = 0;
    for (int64_t i = 0; i < n; ++i) total_evals += (mine(i) ? n : 0) + (mine(i) ? 1 : 0);
    json new_cells = json::object();  // cells this rank computed (several ranks: rank 0 writes them all)
    int64_t done = 0;
    double prune_s = 0, eval_s = 0;
    // row: "dense" or a statistics key; make_model builds the row's model only if a cell is missing
    auto eval_row = [&](const std::string& row, const std::function<std::shared_ptr<const LlamaModel>()>& make_model,
                        double* out, const std::string& label, const std::function<bool(int64_t)>& cell_is_mine) {
        std::shared_ptr<const LlamaModel> m;
        for (int64_t j = 0; j < n; ++j) {
            if (!cell_is_mine(j)) continue;
            ctx.check_cancelled();
            const std::string key = row.empty() ? std::string() : cell_key(row, j);
            auto it = key.empty() ? cells.end() : cells.find(key);
            if (it != cells.end() && it->is_number()) {
                out[j] = it->get<double>();
                ++res.ppl_cache_hits;
            } else {
                if (!m) m = make_model();
                auto te = Clock::now();
                RunContext q = ctx.quiet();
                PplResult pr = perplexity(*m, stream_of(j), po, q);
                out[j] = pr.ppl();
                res.timings.eval_tokens += pr.n_tokens;
                eval_s += since(te);
                if (!key.empty()) cells[key] = new_cells[key] = out[j];
            }
            ctx.report("evaluation", ++done, total_evals, label + " → " + res.domains[j]);
        }
        if (cell_cache && m && W == 1) write_file_atomic(cells_path, dump_json(cells) + "\n");  // keep finished rows
    };
    ctx.report("evaluation", 0, total_evals, "dense");
    const std::shared_ptr<const LlamaModel> dense_model = lm.model;
    eval_row(cell_cache ? std::string("dense") : std::string(), [&] { return dense_model; }, res.dense_ppl.data(),
             "dense", mine);
    for (int64_t i = 0; i < n; ++i) {
        if (!mine(i)) continue;
        ctx.check_cancelled();
        const std::string row = cell_cache && !stats[i].key.empty() ? stats[i].key + "|" + prune_key : std::string();
        auto make = [&]() -> std::shared_ptr<const LlamaModel> {
            auto tp = Clock::now();
            std::shared_ptr<LlamaModel> pruned = prune_model(model, stats[i], project.prune);
            prune_s += since(tp);
            return pruned;
        };
        eval_row(row, make, res.ppl.data() + i * n, "pruned(" + res.domains[i] + ")", [](int64_t) { return true; });
    }
    if (W > 1) {  // every cell from its one rank; the counters summed; rank 0 keeps the cells
        at::Tensor all = at::empty({n * n + n + 5}, at::kDouble);  // [ppl n*n | dense n | counters 5]
        double* a = all.data_ptr<double>();
        std::copy(res.ppl.begin(), res.ppl.end(), a);
        std::copy(res.dense_ppl.begin(), res.dense_ppl.end(), a + n * n);
        double* c = a + n * n + n;
        c[0] = static_cast<double>(dsr.hits), c[1] = static_cast<double>(dsr.misses);
        c[2] = static_cast<double>(dsr.tokens), c[3] = static_cast<double>(res.ppl_cache_hits);
        c[4] = static_cast<double>(res.timings.eval_tokens);
        std::vector<at::Tensor> v{all};
        comm.all_reduce_sum(v);
        a = v[0].data_ptr<double>();
        std::copy(a, a + n * n, res.ppl.begin());
        std::copy(a + n * n, a + n * n + n, res.dense_ppl.begin());
        c = a + n * n + n;
        res.stats_cache_hits = static_cast<int64_t>(c[0]);
        res.stats_cache_misses = static_cast<int64_t>(c[1]);
        res.timings.stats_tokens = static_cast<int64_t>(c[2]);
        res.ppl_cache_hits = static_cast<int64_t>(c[3]);
        res.timings.eval_tokens = static_cast<int64_t>(c[4]);
        const std::vector<std::string> parts = comm.all_gather_bytes(dump_json(new_cells));
        if (cell_cache && comm.is_root()) {
            bool any = false;
            for (const auto& p : parts) {
                const json part = json::parse(p);  // kept alive while its items are walked
                for (auto it = part.begin(); it != part.end(); ++it) cells[it.key()] = it.value(), any = true;
            }
            if (any) write_file_atomic(cells_path, dump_json(cells) + "\n");
        }
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

}  // namespace den2moe
