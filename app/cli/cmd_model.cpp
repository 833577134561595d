// CLI commands on one model: info, generate (optionally saving the prompt's logits), ppl, tokenize.
// Each is argument parsing around one engine call and printing (human table on stdout, JSON with
// --json / --out).
#include <nlohmann/json.hpp>

#include <chrono>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli.h"
#include "text_out.h"
#include "core/json_text.h"
#include "core/error.h"
#include "core/run_context.h"
#include "data/domains.h"
#include "eval/perplexity.h"
#include "eval/ppl_validate.h"
#include "eval/routing.h"
#include "model/active_params.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "model/generate.h"
#include "model/loaded_model.h"
#include "tokenizer/tokenizer.h"

namespace den2moe::cli {

using nlohmann::json;

static std::string model_arg(const Args& a, const char* cmd) {
    D2M_CHECK(a.positionals().size() == 1, InvalidInput, cmd, ": expected one MODEL argument, got ",
              a.positionals().size(), Hint{std::string("den2moe ") + cmd + " --help"});
    return a.positionals()[0];
}

static void emit_json(const Args& a, const json& j) { emit_json_text(a, dump_json(j, 1) + "\n"); }

std::vector<frontend::OptionInfo> info_options() {
    return {{"tokenizer", "PATH", "tokenizer file or folder (default: found beside the model); alone: describe it", false},
            {"json", "", "print the description as JSON", true},
            {"out", "FILE", "also write the JSON to FILE", false}};
}

std::vector<frontend::OptionInfo> generate_options() {
    return {{"prompt", "TEXT", "the prompt (encoded with BOS; default empty)", false},
            {"n", "N", "new tokens (default 64)", false},
            {"dtype", "fp32|bf16", "compute dtype (default fp32)", false},
            {"tokenizer", "PATH", "tokenizer file (default: found beside the model)", false},
            {"ignore-eos", "", "do not stop at EOS", true},
            {"save-logits", "FILE", "also write the prompt's logits (one cache-free forward pass) to FILE.safetensors:"
                                    " input_ids [T] int64, logits [T, V] float32", false},
            {"json", "", "print prompt, ids and text as JSON", true},
            {"out", "FILE", "also write the JSON to FILE", false}};
}

std::vector<frontend::OptionInfo> tokenize_options() {
    return {{"text", "TEXT", "a text to encode (repeatable)", false},
            {"lines", "FILE", "encode each line of FILE (split at \\n; the \\n is not encoded)", false},
            {"no-bos", "", "do not add BOS", true},
            {"tokenizer", "PATH", "tokenizer file (default: found beside the model)", false},
            {"json", "", "print the ids as JSON", true},
            {"out", "FILE", "also write the JSON to FILE", false}};
}

std::vector<frontend::OptionInfo> ppl_options() {
    return {{"data", "PATH", "a .jsonl(.gz)/.txt file, a domain folder or a root with domains.json (repeatable)", false},
            {"seq", "N", "window length in tokens (default 256)", false},
            {"stride", "N", "slide windows by N tokens (default: seq, non-overlapping)", false},
            {"max-tokens", "N", "use each domain's first N tokens (default: all)", false},
            {"batch", "N", "windows per forward pass (default 8)", false},
            {"split", "NAME", "split file of domain folders (default test)", false},
            {"dtype", "fp32|bf16", "compute dtype (default fp32)", false},
            {"tokenizer", "PATH", "tokenizer file (default: found beside the model)", false},
            {"expert-load", "", "MoE models: also each domain's expert load (share of token slots per expert, "
                                "the same windows)", true},
            {"json", "", "print the table as JSON", true},
            {"out", "FILE", "also write the JSON to FILE", false}};
}

static json tokenizer_json(const std::string& path, const Tokenizer& tok) {
    return {{"path", path}, {"kind", tok.kind()}, {"vocab_size", tok.vocab_size()}, {"bos", tok.bos_id()},
            {"eos", tok.eos_id()}};
}

/// `den2moe info --tokenizer PATH` without a model: the tokenizer alone.
static int info_tokenizer(const Args& a, const std::string& path) {
    const std::unique_ptr<Tokenizer> tok = Tokenizer::load(path);
    json j = tokenizer_json(path, *tok);
    auto special = [&](int id) {  // "151645 <|im_end|>" or "none"
        return id < 0 ? std::string("none") : std::to_string(id) + " " + text::display(tok->piece(id));
    };
    j["bos_piece"] = tok->bos_id() < 0 ? std::string() : tok->piece(tok->bos_id());
    j["eos_piece"] = tok->eos_id() < 0 ? std::string() : tok->piece(tok->eos_id());
    emit_json(a, j);
    if (!a.has("json")) {
        std::printf("tokenizer    %s (%s, %d pieces)\n", path.c_str(), tok->kind().c_str(), tok->vocab_size());
        std::printf("bos          %s\n", special(tok->bos_id()).c_str());
        std::printf("eos          %s\n", special(tok->eos_id()).c_str());
    }
    return kOk;
}

int cmd_info(const Args& a, RunContext&) {
    if (a.positionals().empty() && !a.get("tokenizer").empty()) return info_tokenizer(a, a.get("tokenizer"));
    const std::string path = model_arg(a, "info");
    LoadedModel lm = load_model(path, ComputeDType::F32, a.get("tokenizer"));
    const auto& c = lm.model->config();
    const ActiveParams ap = active_params_per_token(c, ffn_shapes(*lm.model));
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
              {"qkv_bias", c.qkv_bias},
              {"qk_norm", c.qk_norm},
              {"parameters", lm.model->n_params()},
              // per token (model/active_params.h): routed experts counted top-k at the widest width
              {"active_parameters_per_token",
               {{"non_embedding", ap.non_embedding()}, {"attention", ap.attention}, {"norms", ap.norms},
                {"ffn", ap.ffn}, {"router", ap.router}, {"embedding_row", ap.embedding_row},
                {"lm_head", ap.lm_head}, {"total", ap.total()}}},
              {"stored_dtype", lm.stored_dtypes.empty() ? "" : lm.stored_dtypes.begin()->second},
              {"tokenizer", tokenizer_json(lm.tokenizer_path, *lm.tokenizer)},
              {"warnings", lm.warnings}};
    emit_json(a, j);
    if (!a.has("json")) {
        std::printf("model        %s (%s, %s)\n", path.c_str(), lm.format.c_str(), c.architecture.c_str());
        std::printf("parameters   %lld (stored %s)\n", (long long)lm.model->n_params(),
                    j["stored_dtype"].get<std::string>().c_str());
        std::printf("active/token %lld non-embedding (attention %lld, norms %lld, FFN %lld, router %lld) + "
                    "embedding row %lld + LM head %lld\n",
                    (long long)ap.non_embedding(), (long long)ap.attention, (long long)ap.norms, (long long)ap.ffn,
                    (long long)ap.router, (long long)ap.embedding_row, (long long)ap.lm_head);
        std::printf("layers       %lld   hidden %lld   ffn %lld   heads %lld (kv %lld, dim %lld)\n",
                    (long long)c.n_layer, (long long)c.n_embd, (long long)c.n_ff, (long long)c.n_head,
                    (long long)c.n_head_kv, (long long)c.head_dim);
        std::printf("vocab        %lld   rope theta %g, %s   rms eps %g   tied head %s\n", (long long)c.vocab_size,
                    c.rope_theta, j["rope_style"].get<std::string>().c_str(), c.rms_norm_eps,
                    c.tie_word_embeddings ? "yes" : "no");
        if (c.qkv_bias || c.qk_norm)
            std::printf("attention    %s\n", c.qkv_bias && c.qk_norm ? "q/k/v biases, per-head q/k RMSNorm"
                                              : c.qkv_bias          ? "q/k/v biases"
                                                                    : "per-head q/k RMSNorm before RoPE");
        std::printf("tokenizer    %s (%s, %d pieces)\n", lm.tokenizer_path.c_str(), lm.tokenizer->kind().c_str(),
                    lm.tokenizer->vocab_size());
        for (const auto& w : lm.warnings) std::printf("warning      %s\n", w.c_str());
    }
    return kOk;
}

int cmd_generate(const Args& a, RunContext& ctx) {
    const std::string path = model_arg(a, "generate");
    const long long n_new = a.get_int("n", 64);  // checked against the context by plan_generation
    LoadedModel lm = load_model(path, parse_compute_dtype(a.get("dtype", "fp32")), a.get("tokenizer"));
    print_warnings(lm.warnings);
    const Tokenizer& tok = *lm.tokenizer;
    std::vector<int> prompt = tok.encode(a.get("prompt"), /*add_bos=*/true, /*add_eos=*/false);
    if (a.has("save-logits"))
        write_logits_file(*lm.model, prompt, a.get("save-logits"),
                          {{"model", path}, {"dtype", a.get("dtype", "fp32")}, {"prompt", a.get("prompt")}});
    GenerateOptions go;
    go.max_new_tokens = n_new;
    // llama2.c's run.c stops only at BOS; Hugging Face checkpoints stop at EOS too
    go.stop_at_eos = lm.format != "llama2c" && !a.has("ignore-eos");
    const GenerationPlan plan = plan_generation(lm.model->config(), int64_t(prompt.size()), go);
    if (!plan.warning.empty()) print_warnings({plan.warning});
    go = plan.options;
    const bool stream = !a.has("json");
    // the stream prints each token's bytes as they come, held while a character is incomplete and
    // repaired with the tokenizer's rule, so it reads exactly like decode_text() of the same ids
    text::Utf8Stream shown(tok.repair());
    auto print = [&](const std::string& s) {
        if (!stream || s.empty()) return;
        std::fputs(s.c_str(), stdout);
        std::fflush(stdout);
    };
    for (size_t i = 1; i < prompt.size(); ++i) print(shown.push(tok.decode_piece(prompt[i - 1], prompt[i])));
    RunContext quiet;  // per-token progress would interleave with the text
    quiet.cancel = ctx.cancel;
    using clock = std::chrono::steady_clock;
    const clock::time_point t0 = clock::now();
    clock::time_point t_first = t0;  // the first new token: the prompt's forward pass (prefill) is done
    int64_t n_seen = 0;
    std::vector<int> out = generate_greedy(*lm.model, prompt, go, quiet, [&](int prev, int next) {
        if (n_seen++ == 0) t_first = clock::now();
        print(shown.push(tok.decode_piece(prev, next)));
        return true;
    });
    const clock::time_point t_end = clock::now();
    auto secs = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };
    const double prefill_s = secs(t_first - t0), decode_s = secs(t_end - t_first);
    print(shown.finish());
    if (stream) std::fputs("\n", stdout);
    std::vector<int> all = prompt;
    all.insert(all.end(), out.begin(), out.end());
    emit_json(a, json{{"prompt", a.get("prompt")},
                      {"prompt_ids", prompt},
                      {"ids", out},
                      {"text", decode_text(tok, all)},
                      {"tokens", tokens_json(out, vocab_pieces(tok, out),
                                             token_bytes(tok, out, prompt.empty() ? -1 : prompt.back()), tok.repair())},
                      // model loading excluded; decode = the tokens after the first, one forward step each
                      {"timing",
                       {{"seconds", secs(t_end - t0)},
                        {"prefill_seconds", prefill_s},
                        {"prompt_tokens_per_s", prefill_s > 0 ? double(prompt.size()) / prefill_s : 0.0},
                        {"decode_seconds", decode_s},
                        {"decode_tokens_per_s", decode_s > 0 && out.size() > 1 ? double(out.size() - 1) / decode_s : 0.0}}}});
    return kOk;
}

int cmd_ppl(const Args& a, RunContext& ctx) {
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
    // an explicit --stride 0 is an error (0 is the engine's "equal to seq")
    D2M_CHECK(!a.has("stride") || po.stride >= 1, InvalidInput, "--stride must be in [1, seq = ", po.seq, "], got ",
              po.stride);
    validate_ppl(po);  // before the model is loaded
    const std::string dtype = a.get("dtype", "fp32");
    LoadedModel lm = load_model(path, parse_compute_dtype(dtype), a.get("tokenizer"));
    print_warnings(lm.warnings);
    validate_ppl(po, lm.model->config());
    const bool want_load = a.has("expert-load");
    if (want_load) {
        bool moe = false;
        for (const FfnShape& f : ffn_shapes(*lm.model)) moe = moe || f.n_experts > 0;
        D2M_CHECK(moe, InvalidInput, "--expert-load: ", path, " has no MoE layer", Hint{"leave out --expert-load"});
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto table = perplexity_table(*lm.model, *lm.tokenizer, domains, po, ctx);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int64_t forward_tokens = 0, steady_tokens = 0;  // every window's tokens go through the model once
    double steady_s = 0;
    for (const auto& d : table) {
        forward_tokens += d.result.n_forward;
        steady_tokens += d.result.steady_forward;
        steady_s += d.result.steady_seconds;
    }
    json rows = json::array();
    for (const auto& d : table)
        rows.push_back({{"domain", d.name}, {"ppl", d.result.ppl()}, {"mean_nll", d.result.mean_nll()},
                        {"tokens", d.result.n_tokens}, {"scored", d.result.n_scored},
                        {"windows", d.result.n_windows}});
    json j = {{"model", path}, {"dtype", dtype}, {"seq", po.seq}, {"stride", po.stride ? po.stride : po.seq},
              {"max_tokens", po.max_tokens}, {"protocol", "BOS text EOS records concatenated; windows of seq tokens"},
              {"domains", rows},
              // model loading excluded (reading and tokenizing the data included); steady: each
              // domain's first batch (the warm-up) and the data reading excluded
              {"timing", {{"seconds", seconds}, {"forward_tokens", forward_tokens},
                          {"tokens_per_s", seconds > 0 ? double(forward_tokens) / seconds : 0.0},
                          {"steady_tokens", steady_tokens},
                          {"steady_tokens_per_s", steady_s > 0 ? double(steady_tokens) / steady_s : 0.0}}}};
    ExpertLoad load;
    if (want_load) {  // the router_probs selections over the same domains' windows (eval/routing.h)
        std::vector<std::string> names;
        std::vector<CorpusSpec> corpora;
        for (const auto& d : domains) {
            names.push_back(d.name);
            CorpusSpec spec;
            spec.files = d.files;
            corpora.push_back(spec);
        }
        ctx.report("expert load", 0, 1);
        load = expert_load(*lm.model, *lm.tokenizer, names, corpora, po.max_tokens, po.seq, po.batch);
        json per = json::array();
        for (size_t d = 0; d < load.domains.size(); ++d) {
            std::vector<double> mean(static_cast<size_t>(load.n_experts), 0.0);
            json layers = json::array();
            for (size_t l = 0; l < load.moe_layers.size(); ++l) {
                std::vector<double> row;
                for (int e = 0; e < load.n_experts; ++e) {
                    row.push_back(load.at(d, l, static_cast<size_t>(e)));
                    mean[static_cast<size_t>(e)] += row.back() / double(load.moe_layers.size());
                }
                layers.push_back(row);
            }
            per.push_back({{"domain", load.domains[d]}, {"mean_over_layers", mean}, {"per_layer", layers}});
        }
        j["expert_load"] = {{"moe_layers", load.moe_layers}, {"n_experts", load.n_experts},
                            {"what", "share of the domain's token slots (tokens x top-k) each expert receives"},
                            {"domains", per}};
    }
    emit_json(a, j);
    if (!a.has("json")) {
        std::printf("%-18s %10s %9s %8s %10s\n", "domain", "tokens", "windows", "nll", "ppl");
        for (const auto& d : table)
            std::printf("%s %10lld %9lld %8.4f %10.3f\n", text::pad_cell(d.name, 18).c_str(), (long long)d.result.n_tokens,
                        (long long)d.result.n_windows, d.result.mean_nll(), d.result.ppl());
        if (want_load) {
            std::printf("\nexpert load (share of token slots, mean over the %zu MoE layers):\n%-18s",
                        load.moe_layers.size(), "domain");
            for (int e = 0; e < load.n_experts; ++e) std::printf(" %6d", e);
            std::printf("\n");
            for (const auto& row : j["expert_load"]["domains"]) {
                std::printf("%s", text::pad_cell(row["domain"].get<std::string>(), 18).c_str());
                for (const auto& v : row["mean_over_layers"]) std::printf(" %6.3f", v.get<double>());
                std::printf("\n");
            }
        }
    }
    return kOk;
}

int cmd_tokenize(const Args& a, RunContext&) {
    const std::string path = model_arg(a, "tokenize");
    std::vector<std::string> texts = a.get_all("text");
    if (a.has("lines")) {
        const std::string file = a.get("lines");
        std::ifstream in(file, std::ios::binary);
        D2M_CHECK(in.good(), Io, "tokenize: cannot read ", file, Hint{"--lines takes a text file"});
        std::string line;
        while (std::getline(in, line)) texts.push_back(line);
    }
    D2M_CHECK(!texts.empty(), InvalidInput, "tokenize: nothing to encode",
              Hint{"--text TEXT (repeatable) or --lines FILE"});
    LoadedModel lm = load_model(path, ComputeDType::F32, a.get("tokenizer"));
    print_warnings(lm.warnings);
    const bool bos = !a.has("no-bos");
    json rows = json::array();
    std::vector<std::vector<int>> all;
    for (const auto& t : texts) {
        all.push_back(lm.tokenizer->encode(t, bos, /*add_eos=*/false));
        rows.push_back(all.back());
    }
    emit_json(a, json{{"tokenizer", lm.tokenizer_path}, {"kind", lm.tokenizer->kind()}, {"bos", bos}, {"ids", rows}});
    if (!a.has("json"))
        for (const auto& ids : all) {
            for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
            std::printf("\n");
        }
    return kOk;
}

}  // namespace den2moe::cli
