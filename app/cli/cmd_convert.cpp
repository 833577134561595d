// CLI `convert`: dense model + project statistics (cached) + clusters -> MoE model (native format),
// with the per-domain perplexity of dense vs converted on the project's evaluation splits.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli.h"
#include "text_out.h"
#include "calib/stats_cache.h"
#include "convert/convert.h"
#include "pipeline/conversion.h"
#include "core/error.h"
#include "core/json_text.h"
#include "core/run_context.h"
#include "data/corpus.h"
#include "eval/perplexity.h"
#include "eval/routing.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "project/project.h"
#include "tokenizer/tokenizer.h"

namespace den2moe::cli {

using nlohmann::json;

std::vector<frontend::OptionInfo> convert_options() {
    return frontend::join_options({frontend::conversion_options(),
                                   {{"json", "", "print eval.json's document on stdout instead of the tables", true}}});
}

int cmd_convert(const Args& a, RunContext& ctx) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "convert: expected one PROJECT argument, got ",
              a.positionals().size());
    const frontend::ConversionJob job = frontend::conversion_job(load_project(a.positionals()[0]), a);
    const ConvertSettings& s = job.settings;
    ConversionRun run = run_conversion(job.project, job.clusters, s, job.out_dir, ctx);
    const ConvertResult& r = run.result;
    std::fprintf(stderr, "converted (%s) into %s in %.1f s; statistics cache: %lld hit, %lld computed\n",
                 recipe_name(s.recipe), run.out_dir.c_str(), r.seconds, (long long)r.stats_cache_hits,
                 (long long)r.stats_cache_misses);
    const json& j = run.eval;
    if (!a.has("json") && !run.ppl.empty()) {
        std::printf("%-18s %10s %10s\n", "domain", "dense", recipe_name(s.recipe));
        for (const auto& row : run.ppl) {
            std::printf("%s %10.3f %10.3f\n", text::pad_cell(row.domain, 18).c_str(), row.dense, row.converted);
        }
    }
    const ExpertLoad& el = run.load;
    if (!a.has("json") && el.n_experts > 0) {
        std::printf("\nexpert load (share of token-slots, mean over layers):\n%-18s", "domain");
        for (int e = 0; e < el.n_experts; ++e) std::printf("   e%-3d", e);
        std::printf("\n");
        for (size_t d = 0; d < el.domains.size(); ++d) {
            std::printf("%s", text::pad_cell(el.domains[d], 18).c_str());
            for (int e = 0; e < el.n_experts; ++e) {
                double sum = 0;
                for (size_t l = 0; l < el.moe_layers.size(); ++l) sum += el.at(d, l, e);
                std::printf(" %6.2f", sum / el.moe_layers.size());
            }
            std::printf("\n");
        }
    }
    if (a.has("json")) std::fputs((dump_json(j, 1) + "\n").c_str(), stdout);
    return kOk;
}

}  // namespace den2moe::cli

namespace den2moe::cli {

std::vector<frontend::OptionInfo> route_options() {
    return {{"text", "TEXT", "the text to route (required; encoded with BOS)", false},
            {"dtype", "fp32|bf16", "compute dtype (default fp32)", false},
            {"tokenizer", "PATH", "tokenizer file (default: the folder's)", false},
            {"json", "", "print the routing as JSON", true},
            {"out", "FILE", "also write the JSON to FILE", false}};
}

int cmd_route(const Args& a, RunContext&) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, "route: expected one MODEL argument (a converted MoE folder)");
    D2M_CHECK(a.has("text"), InvalidInput, "route: --text TEXT is required");
    LoadedModel lm = load_model(a.positionals()[0], parse_compute_dtype(a.get("dtype", "fp32")), a.get("tokenizer"));
    if (!a.has("quiet")) print_warnings(lm.warnings);
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
    json pieces = json::array();
    for (const auto& p : tr.pieces) pieces.push_back(text::repair(p, tr.repair));
    json j = {{"model", a.positionals()[0]},
              {"text", decode_text(*lm.tokenizer, tr.ids)},
              {"ids", tr.ids},
              {"pieces", pieces},
              {"tokens", tokens_json(tr.ids, tr.vocab, tr.pieces, tr.repair)},
              {"spans", spans_json(tr.spans)},
              {"n_experts", tr.n_experts},
              {"layers", layers}};
    const std::string doc = dump_json(j, 1) + "\n";
    if (a.has("out")) write_file_atomic(a.get("out"), doc);
    if (a.has("json")) {
        std::fputs(doc.c_str(), stdout);
        return kOk;
    }
    // one row per token; a span's text (one grapheme cluster or more) on its first token's row
    auto cell = [](const std::string& shown, int width) {
        std::string visible;
        for (char c : shown) visible += c == ' ' ? std::string("\xE2\x90\xA3") : std::string(1, c);  // ␣
        std::string fitted = text::fit_width(visible, width);
        while (!fitted.empty() && fitted.back() == ' ') fitted.pop_back();
        const int pad = width - text::display_width(fitted);
        return text::isolate_rtl(fitted) + std::string(static_cast<size_t>(std::max(pad, 0)), ' ');
    };
    std::printf("%s %s %-7s", cell("text", 12).c_str(), cell("piece", 14).c_str(), "id");
    for (int l : tr.moe_layers) std::printf(" L%-8d", l);
    std::printf("\n");
    for (const auto& span : tr.spans) {
        for (size_t t = span.first; t < span.last; ++t) {
            std::string shown;
            if (t == span.first) {
                shown = span.bytes.empty() ? text::repair(tr.vocab[t], tr.repair) : text::display(span.bytes, tr.repair);
            }
            std::printf("%s %s %-7d", cell(shown, 12).c_str(),
                        cell(text::display(tr.vocab[t], tr.repair), 14).c_str(), tr.ids[t]);
            for (size_t l = 0; l < tr.moe_layers.size(); ++l) {
                const auto& re = tr.picks[l][t].front();
                std::printf(" e%-2d %4.2f ", re.expert, re.weight);
            }
            std::printf("\n");
        }
    }
    return kOk;
}

}  // namespace den2moe::cli
