#include "convert/convert.h"
#include "convert/den2moee.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "calib/ffn_stats.h"
#include "calib/stats_cache.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "eval/perplexity.h"
#include "model/loaded_model.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "mining/domain_stats.h"
#include "model/llama.h"
#include "model/moe.h"
#include "prune/prune.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace den2moe {

namespace {

at::Tensor router_init(int64_t E, int64_t D, uint64_t seed, int il) {
    at::Generator gen = at::detail::createCPUGenerator(seed * 1000003ull + static_cast<uint64_t>(il));
    const double b = 1.0 / std::sqrt(static_cast<double>(D));
    return at::empty({E, D}, at::kFloat).uniform_(-b, b, gen);
}

FfnStats merge_stats(const std::vector<const FfnStats*>& parts) {
    FfnStats m;
    m.layers.resize(parts.front()->layers.size());
    bool inputs = true;
    for (const FfnStats* p : parts) inputs = inputs && p->inputs.size() == m.layers.size();
    if (inputs) m.inputs.resize(m.layers.size());
    for (const FfnStats* p : parts) {
        for (size_t l = 0; l < m.layers.size(); ++l) m.layers[l].merge(p->layers[l]);
        for (size_t l = 0; l < m.inputs.size(); ++l) m.inputs[l].merge(p->inputs[l]);
        m.n_tokens += p->n_tokens;
        m.n_windows += p->n_windows;
    }
    return m;
}

}  // namespace

ConvertResult convert_model(const Project& project, const std::shared_ptr<LlamaModel>& dense, const Tokenizer& tok,
                            const std::string& model_hash, const ProjectClusters& clusters_in,
                            const ConvertSettings& s, RunContext& ctx) {
    const auto t0 = std::chrono::steady_clock::now();
    const LlamaModel& m = *dense;
    const int L = static_cast<int>(m.config().n_layer);
    const int64_t F = m.config().n_ff, D = m.config().n_embd;
    const at::ScalarType st = m.scalar_type();
    const std::string recipe = s.recipe;
    D2M_CHECK(recipe == "dive" || recipe == "dive-random" || recipe == "random" || recipe == "upcycle" ||
                  recipe == "flap" || recipe == "den2moee",
              InvalidInput, "convert: unknown recipe '", recipe, "'",
              Hint{"recipes: dive, den2moee, dive-random, random, upcycle, flap"});
    ConvertResult res;
    ProjectClusters clusters = clusters_in;
    std::vector<std::vector<std::shared_ptr<const SwiGluFfn>>> experts(static_cast<size_t>(L));
    json widths = json::array();
    D2M_CHECK(s.router_init == "random" || s.router_init == "centroid", InvalidInput, "convert: unknown router init '",
              s.router_init, "'", Hint{"random or centroid"});
    // centroid routers need experts with domains (dive, dive-random); the other recipes have their own
    // router (random U(−1/√D, 1/√D); den2moee's prototype prior) and ignore the setting
    const bool centroid = s.router_init == "centroid" && (recipe == "dive" || recipe == "dive-random");
    std::vector<FfnStats> cluster_stats;  // per expert, for centroid routers
    std::vector<RouterSpec> routers;      // den2moee: one per layer, built with the experts
    std::vector<std::shared_ptr<const SwiGluFfn>> shared(static_cast<size_t>(L));
    json den2moee_layers = json::array();

    if (recipe == "dive" || recipe == "dive-random" || recipe == "flap") {
        PruneSettings ps = project.prune;
        ps.ratio = s.ratio;
        if (recipe == "flap") {
            clusters.names = {"all"};
            clusters.members = {project.domain_names()};
            clusters.manual = false;
        } else {
            D2M_CHECK(!clusters.empty(), InvalidInput, "convert: the ", recipe, " recipe needs a cluster assignment",
                      Hint{"run mining and cut the dendrogram (den2moe cluster DIR --clusters K), then pass "
                           "--clusters DIR/clusters.json, or save clusters in the project"});
            std::set<std::string> seen;
            for (const auto& members : clusters.members) {
                D2M_CHECK(!members.empty(), InvalidInput, "convert: an empty cluster cannot make an expert");
                for (const auto& name : members) {
                    D2M_CHECK(project.find_domain(name) >= 0, InvalidInput, "convert: cluster domain '", name,
                              "' is not in the project");
                    D2M_CHECK(seen.insert(name).second, InvalidInput, "convert: domain '", name,
                              "' is in two clusters");
                }
            }
            if (recipe == "dive-random") {  // same cluster sizes, domains shuffled (seeded)
                std::vector<std::string> all;
                for (const auto& mm : clusters.members) all.insert(all.end(), mm.begin(), mm.end());
                std::mt19937_64 rng(s.seed);
                for (size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[rng() % i]);
                size_t k = 0;
                for (auto& mm : clusters.members) {
                    for (auto& name : mm) name = all[k++];
                }
                clusters.manual = false;
            }
        }
        std::vector<const ProjectDomain*> doms;
        for (const auto& mm : clusters.members) {
            for (const auto& name : mm) doms.push_back(&project.domains[static_cast<size_t>(project.find_domain(name))]);
        }
        DomainStatsRun dsr = domain_statistics(project, doms, m, tok, model_hash, true, ctx);
        res.stats_cache_hits = dsr.hits;
        res.stats_cache_misses = dsr.misses;
        std::map<std::string, const FfnStats*> by_name;
        for (size_t i = 0; i < doms.size(); ++i) by_name[doms[i]->name] = &dsr.stats[i];
        for (size_t c = 0; c < clusters.members.size(); ++c) {
            ctx.check_cancelled();
            std::vector<const FfnStats*> parts;
            for (const auto& name : clusters.members[c]) parts.push_back(by_name.at(name));
            FfnStats merged = merge_stats(parts);
            cluster_stats.push_back(merged);
            auto kept = select_channels(m, merged, ps);
            json w = json::array();
            for (int il = 0; il < L; ++il) {
                at::Tensor mean = ps.bias_compensation ? merged.layers[il].mean() : at::Tensor();
                experts[il].push_back(prune_ffn(m.dense_ffn(il), kept[il], mean, st));
                w.push_back(kept[il].size());
            }
            widths.push_back(w);
            ctx.report("experts", static_cast<int64_t>(c + 1), static_cast<int64_t>(clusters.members.size()));
        }
    } else if (recipe == "den2moee") {
        // domains are the given labels (no mining clusters): every enabled domain profiles the neurons
        std::vector<const ProjectDomain*> doms;
        clusters.names = {"domains"};
        clusters.members = {{}};
        clusters.manual = false;
        for (const auto& d : project.domains) {
            if (!d.enabled) continue;
            doms.push_back(&d);
            clusters.members[0].push_back(d.name);
        }
        D2M_CHECK(doms.size() >= 2, InvalidInput, "convert: den2moee profiles neurons over domains; found ",
                  doms.size(), " enabled", Hint{"enable at least 2 domains in the project"});
        const int64_t K = s.n_experts;
        D2M_CHECK(K >= 2 && F % K == 0, InvalidInput, "convert: den2moee needs K >= 2 clusters dividing F = ", F,
                  ", found K = ", K, Hint{"pick --experts among the divisors of the FFN width"});
        D2M_CHECK(s.null_experts >= 0, InvalidInput, "convert: null experts must be >= 0");
        DomainStatsRun dsr = domain_statistics(project, doms, m, tok, model_hash, true, ctx, /*need_abs=*/true);
        res.stats_cache_hits = dsr.hits;
        res.stats_cache_misses = dsr.misses;
        std::vector<const FfnStats*> parts;
        for (const auto& st_d : dsr.stats) parts.push_back(&st_d);
        FfnStats pooled = merge_stats(parts);
        D2M_CHECK(pooled.inputs.size() == static_cast<size_t>(L), Incompatible,
                  "convert: the cached statistics have no FFN-input moments (written by an older version)",
                  Hint{"delete the project's .den2moe-cache folder; statistics are recomputed once"});
        const double sigma = 1e-2 / std::sqrt(static_cast<double>(D));  // DEN2MOEE.md §2.5, tgt_logit_std
        for (int il = 0; il < L; ++il) {
            ctx.check_cancelled();
            std::vector<at::Tensor> cols;
            for (const auto& st_d : dsr.stats) cols.push_back(st_d.layers[il].mean_abs());
            at::Tensor S = at::stack(cols, 1);  // [F, domains]
            NeuronPartition part = den2moee_partition(S, K, s.shared_ratio, s.seed + static_cast<uint64_t>(il));
            const SwiGluFfn& dense_ffn = m.dense_ffn(il);
            std::vector<at::Tensor> prior_rows;
            for (int64_t j : part.routed) {
                const auto& idx = part.clusters[static_cast<size_t>(j)];
                experts[il].push_back(prune_ffn(dense_ffn, idx, at::Tensor(), st));
                prior_rows.push_back(dense_ffn.up().index_select(0, at::tensor(idx, at::kLong)).to(at::kFloat).mean(0));
            }
            std::vector<int64_t> sidx;
            for (int64_t j : part.shared) {
                const auto& idx = part.clusters[static_cast<size_t>(j)];
                sidx.insert(sidx.end(), idx.begin(), idx.end());
            }
            if (!sidx.empty()) shared[il] = prune_ffn(dense_ffn, sidx, at::Tensor(), st);
            const int64_t R = static_cast<int64_t>(part.routed.size());
            at::Generator gen = at::detail::createCPUGenerator(s.seed * 1000003ull + static_cast<uint64_t>(il));
            RouterSpec rs;
            rs.gate = RouterSpec::Gate::Den2MoEE;
            rs.weight = at::empty({R, D}, at::kFloat).normal_(0.0, sigma, gen);
            rs.prior = at::stack(prior_rows);
            rs.prior_scale = s.prior_scale;
            if (s.null_experts > 0) rs.null_weight = at::zeros({s.null_experts, D}, at::kFloat);
            // logit centering: −E[x·Wᵀ] over every calibration FFN input = −W·E[x] (exact for a linear map)
            rs.select_bias = -at::mv(rs.weight.to(at::kDouble), pooled.inputs[il].mean()).to(at::kFloat);
            rs.routed_scale = static_cast<double>(R);
            rs.norm_topk = true;
            rs.dense = s.router_dense;
            rs.top_k = s.top_k;
            routers.push_back(rs);
            json cl = json::array();
            for (const auto& c : part.clusters) cl.push_back(c.size());
            den2moee_layers.push_back({{"shared_clusters", part.shared},
                                       {"routed_clusters", part.routed},
                                       {"coverage_score", part.coverage_score},
                                       {"budget_score", part.budget_score},
                                       {"kmeans_iterations", part.iterations}});
            if (il == 0) {
                widths = json::array({F / K});
            }
            ctx.report("experts", il + 1, L);
        }
    } else if (recipe == "random") {
        D2M_CHECK(s.n_experts >= 1 && F % s.n_experts == 0, InvalidInput,
                  "convert: the random split needs E dividing F = ", F, ", found E = ", s.n_experts);
        std::mt19937_64 rng(s.seed);
        for (int il = 0; il < L; ++il) {
            std::vector<int64_t> perm(static_cast<size_t>(F));
            std::iota(perm.begin(), perm.end(), int64_t{0});
            for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[rng() % i]);
            const int64_t w = F / s.n_experts;
            for (int64_t e = 0; e < s.n_experts; ++e) {
                std::vector<int64_t> idx(perm.begin() + e * w, perm.begin() + (e + 1) * w);
                std::sort(idx.begin(), idx.end());
                experts[il].push_back(prune_ffn(m.dense_ffn(il), idx, at::Tensor(), st));
            }
        }
        widths = json::array({F / s.n_experts});
    } else {  // upcycle
        D2M_CHECK(s.n_experts >= 1, InvalidInput, "convert: need at least one expert");
        for (int il = 0; il < L; ++il) {
            const SwiGluFfn& d = m.dense_ffn(il);
            auto copy = std::make_shared<SwiGluFfn>(d.gate(), d.up(), d.down(), d.down_bias(), st);
            for (int64_t e = 0; e < s.n_experts; ++e) experts[il].push_back(copy);
        }
        widths = json::array({F});
    }

    const int64_t E = static_cast<int64_t>(experts[0].size());
    std::vector<std::shared_ptr<const FeedForward>> ffns;
    if (recipe == "flap") {
        for (int il = 0; il < L; ++il) ffns.push_back(experts[il][0]);
    } else {
        const int64_t slots = E + (recipe == "den2moee" ? s.null_experts : 0);
        D2M_CHECK(s.top_k >= 1 && s.top_k <= slots, InvalidInput, "convert: top-k ", s.top_k, " must be in [1, ",
                  slots, "] (", slots, " experts to choose from)");
        for (int il = 0; il < L; ++il) {
            if (!routers.empty()) {
                ffns.push_back(std::make_shared<MoeFfn>(experts[il], routers[il], shared[il], st));
                continue;
            }
            RouterSpec rs;
            if (centroid) {
                std::vector<at::Tensor> mu;
                at::Tensor pooled = at::zeros({D}, at::kDouble);
                for (const auto& cs : cluster_stats) {
                    D2M_CHECK(cs.inputs.size() == static_cast<size_t>(L), Incompatible,
                              "convert: the cached statistics have no FFN-input moments (written by an older version)",
                              Hint{"delete the project's .den2moe-cache folder; statistics are recomputed once"});
                    mu.push_back(cs.inputs[il].mean());
                    pooled += cs.inputs[il].variance();
                }
                pooled = pooled / static_cast<double>(E) + 1e-6;
                at::Tensor M = at::stack(mu);  // [E, D]
                rs.weight = ((M - M.mean(0, true)) / pooled).to(at::kFloat);
            } else {
                rs.weight = router_init(E, D, s.seed, il);
            }
            rs.top_k = s.top_k;
            ffns.push_back(std::make_shared<MoeFfn>(experts[il], rs, nullptr, st));
        }
    }
    res.model = m.with_ffns(std::move(ffns));
    res.model->source = m.source;

    const bool flap = recipe == "flap";
    const bool d2e = recipe == "den2moee";
    json router_cfg = {{"init", centroid ? "domain centroids (mu_e - mean) / pooled var"
                                                             : "uniform(-1/sqrt(D), 1/sqrt(D))"},
                       {"bias", false},
                       {"gate", "softmax"},
                       {"softmax", "selected logits"}};
    if (d2e) {
        router_cfg = {{"init", "normal(0, (1e-2/sqrt(D))^2) + prototype prior (mean up_proj rows)"},
                      {"gate", "den2moee"},
                      {"softmax", "routed + null logits, no temperature"},
                      {"prior_scale", s.prior_scale},
                      {"routed_scale", E},
                      {"norm_topk", true},
                      {"selection_bias", "logit centering -W.E[x] (added to probabilities, selection only)"},
                      {"mode", s.router_dense ? "dense" : "sparse"}};
    }
    res.moe_config = {{"format", "den2moe-moe-v1"},
                      {"recipe", recipe},
                      {"num_experts", flap ? 0 : E},
                      {"top_k", flap ? 0 : s.top_k},
                      {"ratio", s.ratio},
                      {"expert_widths", widths},
                      {"router", router_cfg},
                      {"expert_bias", recipe == "dive" || recipe == "dive-random" || flap},
                      {"base", json::parse(hf_config_to_json(m.config()))}};
    if (d2e) {
        res.moe_config["num_null_experts"] = s.null_experts;
        res.moe_config["shared_expert_width"] = shared[0] ? shared[0]->width() : 0;
        res.moe_config["den2moee"] = {{"clusters", s.n_experts},
                                      {"shared_ratio", s.shared_ratio},
                                      {"token_score", "uniform (tau = 1): LM calibration windows have no pooled token"},
                                      {"layers", den2moee_layers}};
    }
    json doms = json::array();
    if (recipe != "random" && recipe != "upcycle") {
        for (const auto& mm : clusters.members) {
            for (const auto& name : mm) {
                const int64_t di = project.find_domain(name);
                json files = json::array();
                for (const auto& f : domain_calib_files(project, project.domains[static_cast<size_t>(di)])) {
                    files.push_back({{"file", f}, {"fnv1a64", hash_file(f)}});
                }
                doms.push_back({{"name", name}, {"calibration", files}});
            }
        }
    }
    res.provenance = {{"tool", "den2moe"},
                      {"source_model", m.source},
                      {"source_model_hash", model_hash},
                      {"recipe", recipe},
                      {"num_experts", E},
                      {"top_k", s.top_k},
                      {"ratio", s.ratio},
                      {"seed", s.seed},
                      {"router_init", d2e ? "den2moee prior" : centroid ? "centroid" : "random"},
                      {"calibration", {{"samples_per_domain", project.calib.n_samples},
                                       {"seq_len", project.calib.seq_len},
                                       {"seed", project.calib.seed},
                                       {"dtype", compute_dtype_name(m.compute_dtype())}}},
                      {"clusters", {{"names", clusters.names}, {"members", clusters.members}, {"manual", clusters.manual}}},
                      {"domains", doms}};
    if (d2e) {  // experts are neuron clusters, not domain clusters: no expert -> domains map
        res.provenance["clusters"] = {{"names", json::array()}, {"members", json::array()}, {"manual", false}};
    }
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

void save_moe_native(const ConvertResult& r, const std::string& dir, const std::string& tokenizer_path) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    D2M_CHECK(!ec, Io, "cannot create output folder ", dir, ": ", ec.message());
    std::map<std::string, at::Tensor> all = r.model->named_tensors();
    const int L = static_cast<int>(r.model->config().n_layer);
    for (int il = 0; il < L; ++il) r.model->ffn(il).named_tensors("model.layers." + std::to_string(il) + ".mlp.", all);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (auto& kv : all) tensors.emplace_back(kv.first, kv.second.contiguous());
    save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}, {"den2moe", "moe-v1"}});
    write_file_atomic((fs::path(dir) / "moe_config.json").string(), dump_json(r.moe_config, 2) + "\n");
    write_file_atomic((fs::path(dir) / "provenance.json").string(), dump_json(r.provenance, 2) + "\n");
    if (!tokenizer_path.empty()) {
        const fs::path dst = fs::path(dir) / fs::path(tokenizer_path).filename();
        const fs::path tmp = dst.string() + ".tmp";
        fs::copy_file(tokenizer_path, tmp, fs::copy_options::overwrite_existing, ec);
        if (!ec) fs::rename(tmp, dst, ec);
        D2M_CHECK(!ec, Io, "cannot copy the tokenizer ", tokenizer_path, " into ", dir, ": ", ec.message());
    }
}

ExpertLoad project_expert_load(const Project& p, const LlamaModel& model, const Tokenizer& tok) {
    std::vector<std::string> names;
    std::vector<std::vector<std::string>> files;
    for (const auto& d : p.domains) {
        if (!d.enabled) continue;
        names.push_back(d.name);
        files.push_back(domain_eval_files(p, d));
    }
    return expert_load(model, tok, names, files, p.eval.n_windows * p.eval.seq_len, p.eval.seq_len, p.eval.batch);
}

ConversionRun run_conversion(const Project& p, const ProjectClusters& clusters, const ConvertSettings& settings,
                             const std::string& out_dir, bool evaluate, RunContext& ctx) {
    ConversionRun run;
    const std::string model_path = resolve_project_path(p, p.model);
    ctx.report("load", 0, 1, "loading the dense model");
    LoadedModel lm = load_model(model_path, parse_compute_dtype(p.dtype),
                                p.tokenizer.empty() ? std::string() : resolve_project_path(p, p.tokenizer));
    run.dense = lm.model;
    run.tokenizer = lm.tokenizer;
    run.tokenizer_path = lm.tokenizer_path;
    run.model_hash = hash_model(model_path, lm.tokenizer_path);
    ctx.report("load", 1, 1, "loading the dense model");
    run.result = convert_model(p, lm.model, *lm.tokenizer, run.model_hash, clusters, settings, ctx);
    ctx.check_cancelled();
    save_moe_native(run.result, out_dir, lm.tokenizer_path);
    const ConvertResult& r = run.result;
    json j = {{"recipe", settings.recipe},          {"out", out_dir},
              {"seconds", r.seconds},               {"params_total", r.model->n_params()},
              {"params_dense", lm.model->n_params()}};
    if (evaluate) {
        PplOptions po;
        po.seq = p.eval.seq_len;
        po.batch = p.eval.batch;
        std::vector<const ProjectDomain*> doms;
        for (const auto& d : p.domains) {
            if (d.enabled) doms.push_back(&d);
        }
        json rows = json::array();
        RunContext quiet;
        quiet.cancel = ctx.cancel;
        const int64_t nd = static_cast<int64_t>(doms.size());
        for (int64_t i = 0; i < nd; ++i) {
            const ProjectDomain& d = *doms[static_cast<size_t>(i)];
            ctx.check_cancelled();
            ctx.report("evaluation", i, nd, d.name);
            std::vector<int> stream =
                tokenize_stream(*lm.tokenizer, read_records(CorpusSpec{domain_eval_files(p, d), d.format, d.text_template, 0}),
                                p.eval.n_windows * p.eval.seq_len);
            const double pd = perplexity(*lm.model, stream, po, quiet).ppl();
            const double pm = perplexity(*r.model, stream, po, quiet).ppl();
            run.ppl.push_back({d.name, pd, pm});
            rows.push_back({{"domain", d.name}, {"dense", pd}, {settings.recipe, pm}});
        }
        ctx.report("evaluation", nd, nd);
        j["ppl"] = rows;
        if (r.moe_config.value("num_experts", 0) > 0) {
            ctx.check_cancelled();
            ctx.report("expert load", 0, 1);
            run.load = project_expert_load(p, *r.model, *lm.tokenizer);
            ctx.report("expert load", 1, 1);
            j["expert_load"] = {{"domains", run.load.domains}, {"moe_layers", run.load.moe_layers},
                                {"n_experts", run.load.n_experts}, {"share", run.load.share}};
        }
        write_file_atomic((fs::path(out_dir) / "eval.json").string(), dump_json(j, 1) + "\n");
    }
    run.eval = j;
    return run;
}

}  // namespace den2moe
