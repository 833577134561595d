// CLI commands on one dense model: info, generate, ppl. Each is argument parsing around one
// engine call and printing (human table on stdout, JSON with --json / --out).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "cli.h"
#include "core/error.h"
#include "core/run_context.h"
#include "data/domains.h"
#include "eval/perplexity.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "model/generate.h"
#include "model/loaded_model.h"

namespace den2moe::cli {

using nlohmann::json;

static std::string model_arg(const Args& a, const char* cmd) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, cmd, ": expected one MODEL argument, got ",
              a.positionals().size(), Hint{std::string("den2moe ") + cmd + " --help"});
    return a.positionals()[0];
}

static void emit_json(const Args& a, const json& j) {
    std::string text = j.dump(1) + "\n";
    if (a.has("out")) write_file_atomic(a.get("out"), text);
    if (a.has("json")) std::fputs(text.c_str(), stdout);
}

int cmd_info(const Args& a, RunContext&) {
    a.allow({"json", "out", "tokenizer"});
    const std::string path = model_arg(a, "info");
    LoadedModel lm = load_model(path, ComputeDType::F32, a.get("tokenizer"));
    const auto& c = lm.model->config();
    json j = {{"source", path},
              {"format", lm.format},
              {"architecture", c.architecture},
              {"vocab_size", c.vocab_size},
              {"hidden_size", c.n_embd},
              {"intermediate_size", c.n_ff},
              {"num_hidden_layers", c.n_layer},
              {"num_attention_heads", c.n_head},
              {"num_key_value_heads", c.n_head_kv},
              {"head_dim", c.head_dim},
              {"rms_norm_eps", c.rms_norm_eps},
              {"rope_theta", c.rope_theta},
              {"rope_style", c.rope_style == RopeStyle::HalfSplit ? "half-split (HF)" : "interleaved (llama2.c)"},
              {"tie_word_embeddings", c.tie_word_embeddings},
              {"parameters", lm.model->n_params()},
              {"stored_dtype", lm.stored_dtypes.empty() ? "" : lm.stored_dtypes.begin()->second},
              {"tokenizer", {{"path", lm.tokenizer_path}, {"kind", lm.tokenizer->kind()},
                             {"vocab_size", lm.tokenizer->vocab_size()}, {"bos", lm.tokenizer->bos_id()},
                             {"eos", lm.tokenizer->eos_id()}}},
              {"warnings", lm.warnings}};
    emit_json(a, j);
    if (!a.has("json")) {
        std::printf("model        %s (%s, %s)\n", path.c_str(), lm.format.c_str(), c.architecture.c_str());
        std::printf("parameters   %lld (stored %s)\n", (long long)lm.model->n_params(),
                    j["stored_dtype"].get<std::string>().c_str());
        std::printf("layers       %lld   hidden %lld   ffn %lld   heads %lld (kv %lld, dim %lld)\n",
                    (long long)c.n_layer, (long long)c.n_embd, (long long)c.n_ff, (long long)c.n_head,
                    (long long)c.n_head_kv, (long long)c.head_dim);
        std::printf("vocab        %lld   rope theta %g, %s   rms eps %g   tied head %s\n", (long long)c.vocab_size,
                    c.rope_theta, j["rope_style"].get<std::string>().c_str(), c.rms_norm_eps,
                    c.tie_word_embeddings ? "yes" : "no");
        std::printf("tokenizer    %s (%s, %d pieces)\n", lm.tokenizer_path.c_str(), lm.tokenizer->kind().c_str(),
                    lm.tokenizer->vocab_size());
        for (const auto& w : lm.warnings) std::printf("warning      %s\n", w.c_str());
    }
    return kOk;
}

int cmd_generate(const Args& a, RunContext& ctx) {
    a.allow({"prompt", "n", "dtype", "tokenizer", "json", "out", "ignore-eos"});
    const std::string path = model_arg(a, "generate");
    LoadedModel lm = load_model(path, parse_compute_dtype(a.get("dtype", "fp32")), a.get("tokenizer"));
    print_warnings(lm.warnings);
    const Tokenizer& tok = *lm.tokenizer;
    std::vector<int> prompt = tok.encode(a.get("prompt"), /*add_bos=*/true, /*add_eos=*/false);
    GenerateOptions go;
    go.max_new_tokens = a.get_int("n", 64);
    // llama2.c's run.c stops only at BOS; Hugging Face checkpoints stop at EOS too
    go.stop_at_eos = lm.format != "llama2c" && !a.has("ignore-eos");
    const bool stream = !a.has("json");
    std::string text;
    for (size_t i = 1; i < prompt.size(); ++i) text += tok.decode_piece(prompt[i - 1], prompt[i]);
    if (stream) {
        std::fputs(text.c_str(), stdout);
        std::fflush(stdout);
    }
    RunContext quiet;  // per-token progress would interleave with the text
    quiet.cancel = ctx.cancel;
    std::vector<int> out = generate_greedy(*lm.model, prompt, go, quiet, [&](int prev, int next) {
        std::string piece = tok.decode_piece(prev, next);
        text += piece;
        if (stream) {
            std::fputs(piece.c_str(), stdout);
            std::fflush(stdout);
        }
        return true;
    });
    if (stream) std::fputs("\n", stdout);
    emit_json(a, json{{"prompt", a.get("prompt")}, {"prompt_ids", prompt}, {"ids", out}, {"text", text}});
    return kOk;
}

int cmd_ppl(const Args& a, RunContext& ctx) {
    a.allow({"data", "seq", "stride", "max-tokens", "batch", "dtype", "tokenizer", "json", "out", "split"});
    const std::string path = model_arg(a, "ppl");
    std::vector<std::string> data = a.get_all("data");
    D2M_CHECK(!data.empty(), InvalidInput, "ppl: no --data given",
              Hint{"--data ../shared/data/domains (all domains) or --data FILE.jsonl.gz"});
    std::vector<EvalDomain> domains = resolve_eval_domains(data, a.get("split", "test"));
    PplOptions po;
    po.seq = a.get_int("seq", 256);
    po.stride = a.get_int("stride", 0);
    po.max_tokens = a.get_int("max-tokens", 0);
    po.batch = a.get_int("batch", 8);
    const std::string dtype = a.get("dtype", "fp32");
    LoadedModel lm = load_model(path, parse_compute_dtype(dtype), a.get("tokenizer"));
    print_warnings(lm.warnings);
    auto table = perplexity_table(*lm.model, *lm.tokenizer, domains, po, ctx);
    json rows = json::array();
    for (const auto& d : table)
        rows.push_back({{"domain", d.name}, {"ppl", d.result.ppl()}, {"mean_nll", d.result.mean_nll()},
                        {"tokens", d.result.n_tokens}, {"scored", d.result.n_scored},
                        {"windows", d.result.n_windows}});
    json j = {{"model", path}, {"dtype", dtype}, {"seq", po.seq}, {"stride", po.stride ? po.stride : po.seq},
              {"max_tokens", po.max_tokens}, {"protocol", "BOS text EOS records concatenated; windows of seq tokens"},
              {"domains", rows}};
    emit_json(a, j);
    if (!a.has("json")) {
        std::printf("%-18s %10s %9s %8s %10s\n", "domain", "tokens", "windows", "nll", "ppl");
        for (const auto& d : table)
            std::printf("%-18s %10lld %9lld %8.4f %10.3f\n", d.name.c_str(), (long long)d.result.n_tokens,
                        (long long)d.result.n_windows, d.result.mean_nll(), d.result.ppl());
    }
    return kOk;
}

const std::vector<Command>& commands() {
    static const std::vector<Command> cmds = {
        {"info", "describe a checkpoint (config, parameters, tokenizer)",
         "usage: den2moe info MODEL [--tokenizer PATH] [--json] [--out FILE.json]\n\n"
         "MODEL is a Hugging Face folder (config.json + safetensors) or a llama2.c .bin file.",
         cmd_info},
        {"generate", "greedy continuation of a prompt",
         "usage: den2moe generate MODEL [--prompt TEXT] [-n N] [--dtype fp32|bf16] [--tokenizer PATH]\n"
         "                        [--ignore-eos] [--json] [--out FILE.json]\n\n"
         "Greedy decoding with a KV cache. The prompt is encoded with BOS; -n is the number of new tokens\n"
         "(default 64). Generation stops at BOS (like llama2.c run.c) and, for Hugging Face checkpoints, at EOS.",
         cmd_generate},
        {"ppl", "perplexity per evaluation domain",
         "usage: den2moe ppl MODEL --data PATH [--data PATH...] [--seq 256] [--stride S] [--max-tokens N]\n"
         "                   [--batch 8] [--dtype fp32|bf16] [--split test] [--json] [--out result.json]\n\n"
         "PATH: a .jsonl(.gz)/.txt file, a domain folder with test.jsonl.gz, or a root with domains.json.\n"
         "Records are joined as BOS text EOS; the stream is cut into non-overlapping windows of --seq tokens\n"
         "(DIVE/FLAP protocol; --stride < seq slides instead). --max-tokens limits each domain's stream.",
         cmd_ppl},
        {"mine", "domain-affinity mining: FLAP statistics, pruned models, N x N PPL, linkage",
         "usage: den2moe mine PROJECT --out DIR [--domains a,b,...] [--ratio 0.5] [--clusters 8]\n"
         "                    [--linkage single|complete|average|ward] [--correlate rows|columns]\n"
         "                    [--samples 128] [--seq 256] [--seed 42] [--eval-windows 32] [--eval-seq 256]\n"
         "                    [--structure uniform|adaptive] [--metric wifv|ifv|wifn] [--dtype bf16|fp32]\n"
         "                    [--batch 8] [--no-cache] [--cache-dir DIR]\n\n"
         "For each domain i: FLAP statistics of every FFN (down_proj input) on its calibration split, cached\n"
         "on disk; prune with them (DIVE: uniform ratio, WIFV, bias compensation); perplexity on every domain j's\n"
         "evaluation split -> P[i][j]. Then S[i][j] = min_k P[k][j] / P[i][j], Pearson correlation of S's rows,\n"
         "distance 1 - r and hierarchical clustering. Options override the project's settings for this run.\n"
         "Writes ppl_matrix.csv, normalized.csv, correlation.csv, linkage.json, clusters.json, mining.json.\n"
         "Ctrl-C stops cleanly; finished domains' statistics stay cached.",
         cmd_mine},
        {"cluster", "re-cut / re-link a finished mining folder (no recomputation)",
         "usage: den2moe cluster DIR [--clusters K] [--height H] [--linkage average] [--correlate rows]\n"
         "                       [--json]\n\n"
         "Reads DIR/mining.json, recomputes the linkage when --linkage/--correlate differ, cuts at K clusters\n"
         "(scipy fcluster maxclust) or at height H (criterion distance), rewrites linkage.json and clusters.json.",
         cmd_cluster},
        {"convert", "build an MoE model from the dense one (DIVE and baselines)",
         "usage: den2moe convert PROJECT --out DIR [--recipe dive|den2moee|dive-random|random|upcycle|flap]\n"
         "                       [--clusters FILE] [--experts 8] [--top-k 1] [--ratio 0.5] [--seed 42]\n"
         "                       [--router-init random|centroid] [--dtype bf16|fp32] [--no-eval] [--json]\n"
         "                       den2moee: [--shared-ratio 0.25] [--null-experts 1] [--prior-scale 1]\n"
         "                       [--dense-router] (top-k defaults to 2)\n\n"
         "dive: one expert per cluster (clusters from FILE, e.g. a mining folder's clusters.json, or the\n"
         "project's saved assignment), FLAP-pruned with the cluster's cached calibration statistics.\n"
         "dive-random: the same with clusters of the same sizes drawn at random. random: LLaMA-MoE's random\n"
         "neuron split into --experts. upcycle: --experts copies of the dense FFN. flap: one pruned dense FFN.\n"
         "den2moee: no pruning; each layer's neurons are split by an equal-size spherical k-means of their\n"
         "per-domain activation profiles into --experts clusters; the broadest (--shared-ratio) form one\n"
         "always-on shared MLP, the rest routed experts, plus --null-experts zero experts; prototype-prior\n"
         "router with gates renormalised over the selected routed experts x n_routed.\n"
         "Routers: random (DIVE's init) or centroid (each expert's mean FFN input over its domains' calibration\n"
         "tokens, minus the mean over experts, divided by the pooled variance).\n"
         "Writes DIR/model.safetensors, moe_config.json, provenance.json and (unless --no-eval) eval.json with\n"
         "the per-domain perplexity of dense vs converted on the project's evaluation splits.",
         cmd_convert},
        {"route", "which expert each token goes to, layer by layer",
         "usage: den2moe route MOE_DIR --text TEXT [--dtype fp32|bf16] [--tokenizer PATH] [--json] [--out FILE]\n\n"
         "One forward pass over BOS + TEXT; the router_probs hook site of every MoE layer gives each token's\n"
         "selected experts and weights (JSON: ids, pieces, per layer tokens[[{expert, weight}]] and load).",
         cmd_route},
        {"export", "write a converted MoE as a Hugging Face Mixtral / Qwen2-MoE folder",
         "usage: den2moe export MOE_DIR --format mixtral|qwen2moe --out DIR [--dtype keep|fp32|bf16|fp16]\n"
         "                      [--pad-experts] [--strict] [--refuse-biases] [--lint-only] [--shard-size BYTES]\n"
         "                      [--tp N] [--tokenizer PATH] [--json]\n\n"
         "Lints the model against the target format first (errors: not representable; warnings: dropped or\n"
         "approximated; info: rewritten exactly) and exits 1 on errors; --strict turns warnings into errors.\n"
         "--pad-experts zero-pads unequal experts to the widest (exact). Writes config.json, safetensors\n"
         "(sharded above --shard-size, default 2e9 bytes, with model.safetensors.index.json), tokenizer files,\n"
         "generation_config.json and den2moe_provenance.json, atomically. See docs/export.md.",
         cmd_export},
        {"eval", "zero-shot accuracy and MTEB-style embedding tasks (HS / RW / MoEE)", eval_usage(), cmd_eval},
    };
    return cmds;
}

}  // namespace den2moe::cli
