// CLI `convert`: dense model + project statistics (cached) + clusters -> MoE model (native format),
// with the per-domain perplexity of dense vs converted on the project's evaluation splits.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli.h"
#include "calib/stats_cache.h"
#include "convert/convert.h"
#include "core/error.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "eval/perplexity.h"
#include "eval/routing.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "project/project.h"

namespace den2moe::cli {

using nlohmann::json;

static ProjectClusters read_clusters(const std::string& path) {
    std::ifstream in(path);
    D2M_CHECK(in.good(), Io, "cannot open clusters file ", path, Hint{"a clusters.json written by `den2moe mine`"});
    json j;
    try {
        j = json::parse(in);
    } catch (const json::exception& e) {
        D2M_FAIL(InvalidInput, "clusters file ", path, " is not valid JSON: ", e.what());
    }
    D2M_CHECK(j.contains("members") && j["members"].is_array(), InvalidInput, "clusters file ", path,
              ": expected a \"members\" array of domain-name arrays");
    ProjectClusters pc;
    pc.members = j["members"].get<std::vector<std::vector<std::string>>>();
    if (j.contains("names")) pc.names = j["names"].get<std::vector<std::string>>();
    while (pc.names.size() < pc.members.size()) pc.names.push_back("C" + std::to_string(pc.names.size() + 1));
    pc.manual = j.value("manual", false);
    return pc;
}

int cmd_convert(const Args& a, RunContext& ctx) {
    a.allow({"recipe", "experts", "top-k", "ratio", "clusters", "out", "seed", "dtype", "no-eval", "json", "quiet",
             "threads", "router-init"});
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "convert: expected one PROJECT argument, got ",
              a.positionals().size());
    D2M_CHECK(a.has("out"), InvalidInput, "convert: --out DIR is required");
    Project p = load_project(a.positionals()[0]);
    if (a.has("dtype")) p.dtype = a.get("dtype");
    ConvertSettings s;
    s.recipe = a.get("recipe", "dive");
    s.n_experts = a.get_int("experts", 8);
    s.top_k = a.get_int("top-k", 1);
    s.ratio = a.get_double("ratio", p.prune.ratio);
    s.seed = static_cast<uint64_t>(a.get_int("seed", 42));
    s.router_init = a.get("router-init", "random");
    ProjectClusters clusters = a.has("clusters") ? read_clusters(a.get("clusters")) : p.clusters;

    const std::string model_path = resolve_project_path(p, p.model);
    LoadedModel lm = load_model(model_path, parse_compute_dtype(p.dtype),
                                p.tokenizer.empty() ? std::string() : resolve_project_path(p, p.tokenizer));
    const std::string mhash = hash_model(model_path, lm.tokenizer_path);
    ConvertResult r = convert_model(p, lm.model, *lm.tokenizer, mhash, clusters, s, ctx);
    save_moe_native(r, a.get("out"), lm.tokenizer_path);
    std::fprintf(stderr, "converted (%s) in %.1f s; statistics cache: %lld hit, %lld computed\n", s.recipe.c_str(),
                 r.seconds, (long long)r.stats_cache_hits, (long long)r.stats_cache_misses);

    json j = {{"recipe", s.recipe}, {"out", a.get("out")}, {"seconds", r.seconds},
              {"params_total", r.model->n_params()}, {"params_dense", lm.model->n_params()}};
    if (!a.has("no-eval")) {
        PplOptions po;
        po.seq = p.eval.seq_len;
        po.batch = p.eval.batch;
        json rows = json::array();
        if (!a.has("json")) std::printf("%-18s %10s %10s\n", "domain", "dense", s.recipe.c_str());
        for (const auto& d : p.domains) {
            if (!d.enabled) continue;
            ctx.check_cancelled();
            std::vector<int> stream = tokenize_stream(*lm.tokenizer, read_records(CorpusSpec{domain_eval_files(p, d), d.format, d.text_template, 0}),
                                                      p.eval.n_windows * p.eval.seq_len);
            const double pd = perplexity(*lm.model, stream, po, null_context()).ppl();
            const double pm = perplexity(*r.model, stream, po, null_context()).ppl();
            rows.push_back({{"domain", d.name}, {"dense", pd}, {s.recipe, pm}});
            if (!a.has("json")) std::printf("%-18s %10.3f %10.3f\n", d.name.c_str(), pd, pm);
        }
        j["ppl"] = rows;
        if (r.moe_config.value("num_experts", 0) > 0) {
            // which experts each domain's evaluation tokens go to, per layer
            std::vector<std::string> names;
            std::vector<std::vector<std::string>> files;
            for (const auto& d : p.domains) {
                if (!d.enabled) continue;
                names.push_back(d.name);
                files.push_back(domain_eval_files(p, d));
            }
            ExpertLoad el = expert_load(*r.model, *lm.tokenizer, names, files, p.eval.n_windows * p.eval.seq_len,
                                        p.eval.seq_len, p.eval.batch);
            j["expert_load"] = {{"domains", el.domains}, {"moe_layers", el.moe_layers}, {"n_experts", el.n_experts},
                                {"share", el.share}};
            if (!a.has("json")) {
                std::printf("\nexpert load (share of token-slots, mean over layers):\n%-18s", "domain");
                for (int e = 0; e < el.n_experts; ++e) std::printf("   e%-3d", e);
                std::printf("\n");
                for (size_t d = 0; d < el.domains.size(); ++d) {
                    std::printf("%-18s", el.domains[d].c_str());
                    for (int e = 0; e < el.n_experts; ++e) {
                        double sum = 0;
                        for (size_t l = 0; l < el.moe_layers.size(); ++l) sum += el.at(d, l, e);
                        std::printf(" %6.2f", sum / el.moe_layers.size());
                    }
                    std::printf("\n");
                }
            }
        }
        write_file_atomic(a.get("out") + "/eval.json", j.dump(1) + "\n");
    }
    if (a.has("json")) std::fputs((j.dump(1) + "\n").c_str(), stdout);
    return kOk;
}

}  // namespace den2moe::cli

namespace den2moe::cli {

int cmd_route(const Args& a, RunContext&) {
    a.allow({"text", "tokenizer", "dtype", "json", "out", "quiet", "threads"});
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "route: expected one MODEL argument (a converted MoE folder)");
    D2M_CHECK(a.has("text"), InvalidInput, "route: --text TEXT is required");
    LoadedModel lm = load_model(a.positionals()[0], parse_compute_dtype(a.get("dtype", "fp32")), a.get("tokenizer"));
    RoutingTrace tr = trace_routing(*lm.model, *lm.tokenizer, a.get("text"));
    json layers = json::array();
    for (size_t l = 0; l < tr.moe_layers.size(); ++l) {
        json toks = json::array();
        for (const auto& picks : tr.picks[l]) {
            json p = json::array();
            for (const auto& re : picks) p.push_back({{"expert", re.expert}, {"weight", re.weight}});
            toks.push_back(p);
        }
        layers.push_back({{"layer", tr.moe_layers[l]}, {"tokens", toks}, {"load", tr.load[l]}});
    }
    json j = {{"model", a.positionals()[0]}, {"ids", tr.ids}, {"pieces", tr.pieces}, {"n_experts", tr.n_experts},
              {"layers", layers}};
    if (a.has("out")) write_file_atomic(a.get("out"), j.dump(1) + "\n");
    if (a.has("json")) {
        std::fputs((j.dump(1) + "\n").c_str(), stdout);
        return kOk;
    }
    std::printf("%-16s", "token");
    for (int l : tr.moe_layers) std::printf(" L%-8d", l);
    std::printf("\n");
    for (size_t t = 0; t < tr.ids.size(); ++t) {
        std::string piece = tr.pieces[t];
        for (auto& c : piece) {
            if (c == '\n') c = ' ';
        }
        std::printf("%-16.16s", piece.c_str());
        for (size_t l = 0; l < tr.moe_layers.size(); ++l) {
            const auto& re = tr.picks[l][t].front();
            std::printf(" e%-2d %4.2f ", re.expert, re.weight);
        }
        std::printf("\n");
    }
    return kOk;
}

}  // namespace den2moe::cli
